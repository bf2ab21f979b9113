"""Training recipes: named, versioned method settings stored as data, chosen with `--recipe NAME`.

A recipe is one small TOML file next to the plugin that owns the method (registered through the
`register_recipe_dirs` hook, like protocol folders):

    method = "physnet"
    name = "cpu"
    version = 1
    description = "One line: what this recipe is for."
    hardware = "2-core CPU"          # what it was sized for
    notes = "What was changed from the paper and why, with the measurement behind it."
    [params]                         # method parameters (validated by the method)
    size = 16
    [search]                         # optional: settings of `rppgbench search` (AutoHR)

A recipe with `weights = "NAME"` (by convention the recipe `pretrained`) trains nothing: a run loads
the shipped weights NAME (`rppgbench.weights`) and evaluates them; its parameters are those the
weights were trained with, then the recipe's, then `--set`.

Settings are layered: method defaults < recipe < `--set`. The recipe's name, version and file digest
are recorded in `run.json`, so a result says which recipe produced it.
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rppgbench.errors import ConfigError, UnknownNameError

_REQUIRED = {"method": str, "name": str, "version": int, "description": str}
_OPTIONAL = {"hardware": str, "notes": str, "params": dict, "search": dict, "weights": str}


@dataclass(frozen=True)
class Recipe:
    """One method's named settings: parameters for training and, optionally, for its search."""

    method: str
    name: str
    version: int
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    hardware: str = ""
    notes: str = ""
    weights: str = ""
    """Name of the shipped weights this recipe evaluates instead of training ('' = it trains)."""
    source: str = ""
    digest: str = ""

    def record(self) -> dict[str, Any]:
        """What a result records about the recipe (name, version, file digest, settings)."""
        return {
            "method": self.method,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "params": dict(self.params),
            **({"search": dict(self.search)} if self.search else {}),
            **({"weights": self.weights} if self.weights else {}),
        }


def parse_recipe(text: str, source: str) -> Recipe:
    """A recipe from TOML text; every problem names `source` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"recipe {source}: not valid TOML: {exc}") from exc
    known = {**_REQUIRED, **_OPTIONAL}
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"recipe {source}: unknown key {key!r}{hint}; valid: {', '.join(known)}")
    for key, kind in known.items():
        if key in data and not isinstance(data[key], kind):
            raise ConfigError(f"recipe {source}: {key} must be a {kind.__name__}, got {data[key]!r}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ConfigError(f"recipe {source}: missing key(s) {', '.join(missing)}")
    if data["version"] < 1:
        raise ConfigError(f"recipe {source}: version must be 1 or more, got {data['version']}")
    return Recipe(
        method=data["method"],
        name=data["name"],
        version=data["version"],
        description=data["description"],
        params=dict(data.get("params", {})),
        search=dict(data.get("search", {})),
        hardware=data.get("hardware", ""),
        notes=data.get("notes", "").strip(),
        weights=data.get("weights", ""),
        source=source,
        digest=hashlib.sha256(text.encode()).hexdigest()[:16],
    )


def available_recipes() -> dict[tuple[str, str], Recipe]:
    """Every recipe in the folders plugins registered, keyed by (method, recipe name)."""
    from rppgbench.plugins import registry

    plugins = registry()
    found: dict[tuple[str, str], Recipe] = {}
    seen: set[str] = set()
    for folder in plugins.recipe_dirs:
        if (
            str(folder) in seen
        ):  # plugins sharing a folder (e.g. two methods of one package) register it once each
            continue
        seen.add(str(folder))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".toml"):
                continue
            recipe = parse_recipe(entry.read_text(encoding="utf-8"), str(entry))
            if recipe.method not in plugins.methods:  # its method's plugin is not loaded
                continue
            key = (recipe.method, recipe.name)
            if key in found:
                raise ConfigError(f"recipe {recipe.name!r} of {recipe.method} is defined twice: "
                                  f"{found[key].source} and {recipe.source}")  # fmt: skip
            found[key] = recipe
    return found


def list_recipes(method: str | None = None) -> list[Recipe]:
    """The recipes of `method` (all methods when None), sorted by method and name."""
    return [r for key, r in sorted(available_recipes().items()) if method is None or r.method == method]


def get_recipe(method: str, name: str) -> Recipe:
    """The recipe `name` of `method`, or an error listing the recipes that method has."""
    recipes = {r.name: r for r in list_recipes(method)}
    if name not in recipes:
        raise UnknownNameError(f"{method} recipe", name, sorted(recipes))
    return recipes[name]


def layered_params(recipe: Recipe | None, assignments: Mapping[str, Any]) -> dict[str, Any]:
    """Method parameters: the recipe's, overridden by `--set` assignments."""
    return {**(recipe.params if recipe else {}), **dict(assignments)}


def recipe_for(method: str, trains: bool, choices: Mapping[str, str]) -> Recipe | None:
    """The recipe a grid gives `method`: `choices[method]`, else `choices['']` for training methods.

    `choices` maps a method name (or '' for "every method that trains") to a recipe name.
    """
    name = choices.get(method) or (choices.get("") if trains else None)
    return get_recipe(method, name) if name else None


def parse_recipe_choices(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`--recipe NAME` (every training method) and `--recipe METHOD=NAME` into {method or '': name}."""
    choices: dict[str, str] = {}
    for value in values:
        method, sep, name = value.partition("=")
        if sep and (not method.strip() or not name.strip()):
            raise ConfigError(f"--recipe expects NAME or METHOD=NAME, got {value!r}")
        choices[method.strip() if sep else ""] = (name if sep else method).strip()
    return choices
