"""Training and search recipes of the AutoHR plugin (TOML files; see rppgbench.recipes)."""
