"""Shipped weights of rPPGNet: each `NAME.pt` with its model card `NAME.toml` (package data)."""
