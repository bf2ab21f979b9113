"""Training recipes of the neural method plugins (TOML files; see rppgbench.recipes)."""
