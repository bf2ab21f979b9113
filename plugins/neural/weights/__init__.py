"""Shipped weights of PhysNet and DeepPhys: each `NAME.pt` with its model card `NAME.toml` (package data)."""
