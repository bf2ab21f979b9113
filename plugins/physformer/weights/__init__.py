"""Shipped weights of PhysFormer: each `NAME.pt` with its model card `NAME.toml` (package data)."""
