"""Shipped weights of I3D: each `NAME.pt` with its model card `NAME.toml` (package data)."""
