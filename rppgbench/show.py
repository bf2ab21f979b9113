"""`rppgbench show METHOD`, `show protocol NAME`, `show weights NAME`: what a method, protocol or
shipped weights file is.

A method is explained from its declaration (or class): description, whether it trains, every
parameter with default, choices and help, its recipes, its shipped weights, and the plugin package
and version that provide it. Nothing here imports a method's model code.
"""

from __future__ import annotations

import json
from typing import Any

import click

from rppgbench.errors import ConfigError


def _value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | bool) or value is None else str(value)


def _recipes(method: str) -> list[Any]:
    try:
        from rppgbench.recipes import list_recipes
    except ImportError:  # a rppgbench without training recipes
        return []
    return list(list_recipes(method))


def describe_method(name: str) -> str:
    """The text `rppgbench show NAME` prints."""
    from tabulate import tabulate

    from rppgbench.plugins import registry

    plugins = registry()
    info = plugins.method_info(name)
    origin = plugins.package_of("method", name)
    lines = [
        f"{name}: {getattr(info, 'description', '') or ''}".rstrip(),
        f"trains: {'yes' if info.trains else 'no'}",
        f"output: {_output(info)}",
        f"plugin: {origin['plugin']} (package {origin['package'] or '?'} {origin['version'] or ''})".rstrip(),
        "",
    ]
    rows = [(p.name, _value(p.default), " | ".join(_value(c) for c in p.choices) if p.choices else "", p.help)
            for p in info.params]  # fmt: skip
    if rows:
        lines.append(tabulate(rows, headers=["parameter", "default", "choices", "help"]))
        lines.append(f"\nset with: rppgbench run --method {name} --set KEY=VALUE ...")
    else:
        lines.append("parameters: none")
    checks = getattr(info, "checks", None) or getattr(getattr(info, "declaration", None), "checks", ())
    if checks:
        lines.append("constraints: " + "; ".join(c.__doc__ or c.__name__ for c in checks))
    recipes = _recipes(name)
    lines.append("")
    if recipes:
        lines.append("recipes (--recipe NAME):")
        lines += [f"  {r.name} (v{r.version}): {r.description}" for r in recipes]
    else:
        lines.append("recipes: none")
    if info.trains:
        lines += ["", *_shipped_weights(name)]
    return "\n".join(lines)


def _output(info: object) -> str:
    """What the method gives the evaluation: a signal for the shared HR estimator, its own HR, or both."""
    signal = getattr(info, "gives_signal", True)
    if not getattr(info, "estimates_hr", False):
        return "an rPPG signal (HR by the shared estimator)"
    return "its own HR per window" + (" and an rPPG signal (scored for SNR and MACC)" if signal else "")


def _shipped_weights(method: str) -> list[str]:
    """Lines on the method's shipped weights and their model cards."""
    from rppgbench.weights import default_weights, headline, list_weights

    shipped = list_weights(method)
    if not shipped:
        return ["shipped weights: none (train with `rppgbench run`, then `predict --weights`)"]
    default = default_weights(method)
    lines = [
        "shipped weights (trained only on synthetic faces; `rppgbench show weights NAME` prints the card):"
    ]
    for weights in shipped:
        used = (
            " [used by `predict` without --weights and by --recipe pretrained]" if weights == default else ""
        )
        lines += [
            f"  {weights.name}{used}: {weights.summary}",
            f"    {headline(weights)}",
            f"    file {weights.path} ({weights.size_bytes / 1e6:.2f} MB), licence {weights.licence}",
            f"    card {weights.card_path}",
        ]
    return lines


def describe_protocol(name: str) -> str:
    """The text `rppgbench show protocol NAME` prints."""
    from rppgbench.protocol import load_protocol

    protocol = load_protocol(name)
    datasets = ", ".join(
        f"{role}: {spec.name} {dict(spec.options) or ''}".rstrip() for role, spec in protocol.datasets.items()
    )
    split = protocol.split_kind + (
        f", {protocol.folds} folds by subject, seed {protocol.seed}" if protocol.split_kind == "kfold" else ""
    )
    test = protocol.test
    lines = [
        f"{protocol.name}: {protocol.description}",
        f"file: {protocol.source}",
        f"datasets: {datasets}",
        f"split: {split}",
        f"test windows: {json.dumps(test.__dict__, default=str)}",
        f"reference: {protocol.reference_source}",
        f"preprocess: {json.dumps(protocol.preprocess, default=str)}",
        f"hr estimator: {json.dumps(protocol.hr_config().to_dict(), default=str)}",
    ]
    return "\n".join(lines)


@click.command("show")
@click.argument("what")
@click.argument("name", required=False)
def show_command(what: str, name: str | None) -> None:
    """Explain a method (or `show protocol NAME`, `show weights NAME`): parameters, recipes, weights, plugin."""
    if what == "protocol":
        if not name:
            raise ConfigError("show protocol needs a NAME (see `rppgbench list protocols`)")
        click.echo(describe_protocol(name))
    elif what == "weights":
        from rppgbench.weights import describe_card, get_weights

        if not name:
            raise ConfigError("show weights needs a NAME (see `rppgbench list weights`)")
        click.echo(describe_card(get_weights(name)))
    elif name:
        raise ConfigError(f"show takes METHOD, `protocol NAME` or `weights NAME`, got {what!r} {name!r}")
    else:
        click.echo(describe_method(what))
