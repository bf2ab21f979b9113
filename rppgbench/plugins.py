"""Loads plugins from the `rppgbench` entry-point group and collects what they register.

Built-in methods and datasets load through the same entry points as third-party ones. A plugin that
fails to import is reported with a warning naming it and the reason; the others keep working.
Set RPPGBENCH_PLUGINS to a comma-separated list of entry-point names to load only those.
A method may be registered as a `MethodDeclaration` (`rppgbench.declared`): its class is imported
on first use through `PluginRegistry.method`, so listing methods never imports model code.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from rppgbench import hookspecs
from rppgbench.declared import is_declaration
from rppgbench.errors import UnknownNameError

ENTRY_POINT_GROUP = "rppgbench"


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported or registered; it is skipped."""


@dataclass
class PluginRegistry:
    """Everything the loaded plugins registered, by kind, with the plugin that provided each entry."""

    manager: pluggy.PluginManager
    methods: dict[str, type] = field(default_factory=dict)
    datasets: dict[str, type] = field(default_factory=dict)
    protocol_dirs: list[Any] = field(default_factory=list)
    recipe_dirs: list[Any] = field(default_factory=list)
    weights_dirs: list[Any] = field(default_factory=list)
    metrics: dict[str, Callable[..., float]] = field(default_factory=dict)
    metric_info: dict[str, Any] = field(default_factory=dict)
    """metric name -> `rppgbench.metrics.MetricInfo` (label, unit, which direction is better)."""
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    packages: dict[str, tuple[str, str]] = field(default_factory=dict)
    """plugin name -> (distribution package, version) it was installed from."""

    def method(self, name: str) -> type:
        """The method class called `name` (imported now if it was declared), or UnknownNameError."""
        entry = _lookup("method", name, self.methods)
        if is_declaration(entry):
            entry = self.methods[name] = entry.load()
        return entry

    def method_info(self, name: str) -> Any:
        """The class or declaration of method `name`, without importing its code."""
        return _lookup("method", name, self.methods)

    def package_of(self, kind: str, name: str) -> dict[str, str]:
        """The plugin, distribution package and version that registered `kind` `name`."""
        plugin = self.origins.get((kind, name), "")
        package, version = self.packages.get(plugin, ("", ""))
        return {"plugin": plugin, "package": package, "version": version}

    def dataset(self, name: str) -> type:
        """The dataset loader class called `name`, or UnknownNameError listing the valid names."""
        return _lookup("dataset", name, self.datasets)


def _lookup(kind: str, name: str, table: dict[str, Any]) -> Any:
    if name not in table:
        raise UnknownNameError(kind, name, sorted(table))
    return table[name]


def _wanted(name: str) -> bool:
    chosen = os.environ.get("RPPGBENCH_PLUGINS")
    return chosen is None or name in {n.strip() for n in chosen.split(",")}


def _make_register(kind: str, table: dict, origins: dict, plugin: str) -> Callable[[type], None]:
    def register(cls: type) -> None:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{kind} {cls!r} has no string attribute 'name'")
        if name in table and table[name] is not cls:
            warnings.warn(
                f"{kind} {name!r} from plugin {plugin!r} replaces the one from {origins[(kind, name)]!r}",
                PluginLoadWarning,
                stacklevel=2,
            )
        table[name] = cls
        origins[(kind, name)] = plugin

    return register


def _make_metric_register(registry: PluginRegistry, plugin: str) -> Callable[..., None]:
    def register(
        name: str,
        fn: Callable[..., float],
        *,
        label: str | None = None,
        unit: str = "",
        better: str = "lower",
    ) -> None:
        from rppgbench.metrics import BETTER, RESERVED, MetricInfo

        if not isinstance(name, str) or not name:
            raise TypeError(f"metric {name!r} needs a non-empty string name")
        if name in RESERVED:
            raise ValueError(f"metric {name!r} clashes with a built-in metric")
        if not callable(fn):
            raise TypeError(f"metric {name!r}: {fn!r} is not callable")
        if better not in BETTER:
            raise ValueError(f"metric {name!r}: better={better!r} is not one of {list(BETTER)}")
        registry.metrics[name] = fn
        registry.metric_info[name] = MetricInfo(label or name, unit, better)
        registry.origins[("metric", name)] = plugin

    return register


def build_registry(extra_plugins: dict[str, object] | None = None) -> PluginRegistry:
    """Import every entry-point plugin (plus `extra_plugins`, for tests) and run its register hooks."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = PluginRegistry(manager=manager)
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if _wanted(ep.name)]
    for ep in found:
        if ep.dist is not None:
            registry.packages[ep.name] = (ep.dist.name, ep.dist.version)
    candidates: list[tuple[str, Callable[[], object]]] = [(ep.name, ep.load) for ep in found]
    candidates += [(name, (lambda m=module: m)) for name, module in (extra_plugins or {}).items()]
    for name, load in candidates:
        try:
            manager.register(load(), name=name)
            _collect(registry, name)
        except Exception as exc:  # a broken plugin must never take the others down
            registry.failures[name] = f"{type(exc).__name__}: {exc}"
            if manager.get_plugin(name) is not None:
                manager.unregister(name=name)
            warnings.warn(f"rppgbench plugin {name!r} was not loaded: {exc}", PluginLoadWarning, stacklevel=2)
    return registry


def _collect(registry: PluginRegistry, name: str) -> None:
    """Run one plugin's hook implementations, so that a failure is attributed to that plugin alone."""
    hooks = registry.manager.hook
    registers = {
        "register_methods": _make_register("method", registry.methods, registry.origins, name),
        "register_datasets": _make_register("dataset", registry.datasets, registry.origins, name),
        "register_protocol_dirs": registry.protocol_dirs.append,
        "register_recipe_dirs": registry.recipe_dirs.append,
        "register_weights_dirs": registry.weights_dirs.append,
        "register_metrics": _make_metric_register(registry, name),
    }
    for hook_name, register in registers.items():
        for impl in getattr(hooks, hook_name).get_hookimpls():
            if impl.plugin_name == name:
                impl.function(register=register)


@cache
def registry() -> PluginRegistry:
    """The process-wide plugin registry, built on first use."""
    return build_registry()


def add_plugin_commands(cli: Any) -> None:
    """Let every loaded plugin add its click commands; a failing plugin is reported, not fatal."""
    plugins = registry()
    for impl in plugins.manager.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:
            plugins.failures[impl.plugin_name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"rppgbench plugin {impl.plugin_name!r} could not add its commands: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )
