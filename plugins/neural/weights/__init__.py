"""Shipped weights of PhysNet, DeepPhys and TS-CAN: each `NAME.pt` with its model card `NAME.toml` (package data)."""
