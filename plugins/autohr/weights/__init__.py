"""Shipped weights of AutoHR: each `NAME.pt` with its model card `NAME.toml` (package data)."""
