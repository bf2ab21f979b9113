"""Training recipes of the PhysNet and DeepPhys plugins (TOML files; see rppgbench.recipes)."""
