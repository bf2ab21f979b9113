"""Declared methods: what a method is called, says and accepts, known before its code is imported.

A plugin whose method needs heavy imports (PyTorch, model code) registers a `MethodDeclaration`
instead of the class. Listing, `--help`, `show` and parameter checks read the declaration; the class
is imported when the method runs (`load`). The class names its declaration
(`class PhysNet(NeuralMethod, declaration=PHYSNET)`), so name, description, training flag and
parameters are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from rppgbench.errors import ConfigError
from rppgbench.params import Param


@dataclass(frozen=True)
class MethodDeclaration:
    """A method's name, description, training flag and parameters, plus where its class lives."""

    name: str
    target: str
    """`package.module:Class`, imported by `load`."""
    description: str = ""
    trains: bool = False
    params: tuple[Param, ...] = ()
    checks: tuple[Callable[[str, Mapping[str, Any]], None], ...] = ()
    """Constraints between or on resolved parameters; each raises ConfigError naming the value to use."""
    estimates_hr: bool = False
    """The method regresses HR itself (`Method.predict_hr`); see `rppgbench.method`."""
    gives_signal: bool = True
    """`predict` returns an rPPG signal; only a method that `estimates_hr` may give none."""

    def __post_init__(self) -> None:
        if not self.gives_signal and not self.estimates_hr:
            raise ConfigError(f"method {self.name!r} gives neither an rPPG signal nor an HR")

    def check(self, config: Mapping[str, Any]) -> None:
        """Raise ConfigError when the resolved parameters break a declared constraint."""
        for check in self.checks:
            check(self.name, config)

    def load(self) -> type:
        """Import and return the method class (it must carry this declaration's name)."""
        module_name, _, attr = self.target.partition(":")
        cls: Any = getattr(import_module(module_name), attr)
        if getattr(cls, "name", None) != self.name:
            raise ConfigError(
                f"{self.target} is method {getattr(cls, 'name', None)!r}, declared {self.name!r}"
            )
        return cls


def is_declaration(obj: object) -> bool:
    """True for a declaration (not yet imported), False for a method class."""
    return isinstance(obj, MethodDeclaration)


def multiple_of(key: str, k: int) -> Callable[[str, Mapping[str, Any]], None]:
    """Constraint: parameter `key` is a positive multiple of `k` (the error names the nearest one)."""

    def check(method: str, config: Mapping[str, Any]) -> None:
        value = int(config[key])
        if value <= 0 or value % k:
            use = max(k, int(round(value / k)) * k)
            raise ConfigError(f"{method} {key}={value} must be a positive multiple of {k}; use {key}={use}")

    check.__doc__ = f"{key} is a positive multiple of {k}"
    return check


def multiple_of_param(key: str, divisor: str) -> Callable[[str, Mapping[str, Any]], None]:
    """Constraint: parameter `key` is a positive multiple of parameter `divisor` (itself positive)."""

    def check(method: str, config: Mapping[str, Any]) -> None:
        k, value = int(config[divisor]), int(config[key])
        if k < 1:
            raise ConfigError(f"{method} {divisor}={k} must be a positive integer")
        if value < k or value % k:
            use = max(k, k * round(value / k))
            raise ConfigError(
                f"{method} {key}={value} must be a positive multiple of {divisor}={k}; use {key}={use}"
            )

    check.__doc__ = f"{key} is a positive multiple of {divisor}"
    return check


def within(key: str, low: float, high: float) -> Callable[[str, Mapping[str, Any]], None]:
    """Constraint: parameter `key` lies in [low, high] (the error names the nearest allowed value)."""

    def check(method: str, config: Mapping[str, Any]) -> None:
        value = float(config[key])
        if not low <= value <= high:
            use = min(max(value, low), high)
            raise ConfigError(f"{method} {key}={value:g} must lie in [{low:g}, {high:g}]; use {key}={use:g}")

    check.__doc__ = f"{key} lies in [{low:g}, {high:g}]"
    return check


def method_plugin_hooks(declaration: MethodDeclaration, recipes_package: str) -> tuple[Callable, Callable]:
    """The two hook implementations of a plugin that declares one method and ships its recipes folder:
    `register_methods, register_recipe_dirs = method_plugin_hooks(DECLARATION, "pkg.recipes")`."""
    from rppgbench.hookspecs import hookimpl

    @hookimpl
    def register_methods(register: Callable[[object], None]) -> None:
        """Register the method (declared; its module loads when it runs)."""
        register(declaration)

    return register_methods, recipe_dirs_hook(recipes_package)


def recipe_dirs_hook(recipes_package: str) -> Callable:
    """The `register_recipe_dirs` hook implementation of a plugin that ships a folder of recipes:
    `register_recipe_dirs = recipe_dirs_hook("pkg.recipes")` (for plugins declaring several methods)."""
    return _package_folder_hook(recipes_package, "the folder of the plugin's recipes")


def weights_dirs_hook(weights_package: str) -> Callable:
    """The `register_weights_dirs` hook implementation of a plugin that ships a folder of weights files
    and their model cards: `register_weights_dirs = weights_dirs_hook("pkg.weights")`."""
    return _package_folder_hook(weights_package, "the folder of shipped weights and their model cards")


def _package_folder_hook(package: str, what: str) -> Callable:
    """A hook implementation that registers the folder of `package` (read with importlib.resources)."""
    from rppgbench.hookspecs import hookimpl

    @hookimpl
    def register_folder(register: Callable[[object], None]) -> None:
        from importlib.resources import files

        register(files(package))

    register_folder.__doc__ = f"Register {what}."
    return register_folder
