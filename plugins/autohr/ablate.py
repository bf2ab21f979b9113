"""The ablations of the AutoHR paper's Fig. 4, run on the user's data: loss, theta, NAS setting, augmentation.

Each variant is an ordinary `rppgbench run` of the `autohr` method on one fold (its own run folder under
`out/<study>/<variant>`, resumable); the nas study first searches a genotype per setting. The results go
into `ablation_<study>.md`, `.csv` and a bar chart `.png` (RMSE and MAE per variant), with the paper's
RMSE where its text gives one (VIPL-HR fold 1).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from rppgbench.errors import ConfigError

NO_AUG = {"da1": "false", "da2": "false"}
PHYSNET = {"backbone": "physnet", **NO_AUG}


@dataclass(frozen=True)
class Variant:
    """One bar of an ablation: its label, the method parameters, and a search to run first (nas study)."""

    label: str
    params: dict[str, str]
    search: dict[str, str] | None = None
    paper_rmse: float | None = None


def study_variants(study: str) -> list[Variant]:
    """The variants of a study, as in the paper's Fig. 4 (paper RMSE only where the text states it)."""
    # Fig. 4(a), PhysNet backbone: L_overall 9.9; L_fre 4.3 below L_time (their values are not given)
    if study == "loss":
        return [
            Variant("L_time", {**PHYSNET, "loss": "time"}),
            Variant("L_fre", {**PHYSNET, "loss": "freq"}),
            Variant("L_overall", {**PHYSNET, "loss": "hybrid"}, paper_rmse=9.9),
        ]
    if study == "theta":  # Fig. 4(b), PhysNet with TDC; theta 0.2 -> 9.07, 1.0 -> 9.1
        paper = {0.2: 9.07, 1.0: 9.1}
        return [
            Variant(
                f"theta={t}", {**PHYSNET, "loss": "hybrid", "physnet_theta": str(t)}, paper_rmse=paper.get(t)
            )
            for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
        ]
    if study == "nas":  # Fig. 4(c): manual backbone vs searched Shared/Varied, with/without TDC
        out = [Variant("manual (PhysNet)", {**PHYSNET, "loss": "hybrid"})]
        for config in ("shared", "varied"):
            for tdc in (True, False):
                search = {"config": config, "exclude_tdc": str(not tdc).lower()}
                label = f"{config.capitalize()} {'w/' if tdc else 'w/o'} TDC"
                out.append(Variant(label, {**NO_AUG, "loss": "hybrid"}, search=search))
        return out
    if study == "augment":  # Fig. 4(d), searched backbone
        return [
            Variant("none", {"da1": "false", "da2": "false"}),
            Variant("DA1", {"da1": "true", "da2": "false"}),
            Variant("DA2", {"da1": "false", "da2": "true"}),
            Variant("DA1+DA2", {"da1": "true", "da2": "true"}),
        ]
    raise ConfigError(f"unknown ablation study {study!r}; use loss, theta, nas or augment")


@dataclass
class AblationOptions:
    """What `rppgbench ablate` was asked to do."""

    protocol: str | Path
    fold: str
    out: Path
    study: str
    data_roots: Mapping[str, Path] = field(default_factory=dict)
    train_params: dict[str, str] = field(default_factory=dict)
    search_params: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    workers: int = 1
    split_file: Path | None = None
    cache_root: Path | None = None
    device: str | None = None
    progress: bool = True


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "=.-" else "_" for c in label).strip("_")


def run_variant(options: AblationOptions, variant: Variant) -> dict[str, Any]:
    """Run one variant (searching first if it needs a genotype) and return its fold metrics."""
    from rppgbench.runner import RunOptions, run
    from rppgbench.store import RunStore

    folder = options.out / options.study / _slug(variant.label)
    params = {**options.train_params, **variant.params}
    if variant.search is not None:
        from .data import fold_training_clips
        from .search import run_search

        search_dir = folder / "search"
        genotype_file = search_dir / "genotype.json"
        if not genotype_file.is_file():
            clips, info = fold_training_clips(
                options.protocol, options.fold, search_dir, options.data_roots, cache_root=options.cache_root,
                workers=options.workers, split_file=options.split_file, progress=options.progress, seed=options.seed,
            )  # fmt: skip
            settings = {"seed": str(options.seed), **options.search_params, **variant.search}
            if options.device and "device" not in options.search_params:
                settings["device"] = options.device
            run_search(clips, search_dir, settings, progress=options.progress, provenance={"data": info})
        params["genotype"] = str(genotype_file)
    run_dir = run(RunOptions(
        method="autohr", protocol=options.protocol, params=params, data_roots=dict(options.data_roots),
        out=folder / "run", seed=options.seed, workers=options.workers, cache_root=options.cache_root,
        device=options.device, folds=[options.fold], split_file=options.split_file, progress=options.progress,
    ))  # fmt: skip
    metrics = RunStore(run_dir).fold(options.fold).read_metrics()
    return metrics.get("metrics", metrics)


COLUMNS = ("variant", "n", "MAE", "RMSE", "SD", "r", "paper RMSE", "settings")


def run_ablation(options: AblationOptions) -> str:
    """Run every variant of the study, write the table (md + csv) and chart; return the markdown table."""
    rows = []
    for variant in study_variants(options.study):
        m = run_variant(options, variant)
        settings = {**variant.params, **({"search": variant.search} if variant.search else {})}
        rows.append({
            "variant": variant.label, "n": m.get("n"), "MAE": m.get("mae"), "RMSE": m.get("rmse"),
            "SD": m.get("sd"), "r": m.get("r"), "paper RMSE": variant.paper_rmse,
            "settings": json.dumps(settings, sort_keys=True),
        })  # fmt: skip
    return write_table(rows, options.out, options.study, f"{options.protocol} fold {options.fold}")


def write_table(rows: list[dict[str, Any]], out: Path, study: str, where: str) -> str:
    """Write ablation_<study>.md/.csv/.png into `out`; return the markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    (out / f"ablation_{study}.csv").write_text(buffer.getvalue())
    table = tabulate([[r[c] for c in COLUMNS[:-1]] for r in rows], headers=list(COLUMNS[:-1]),
                     tablefmt="github", floatfmt=".2f", missingval="-")  # fmt: skip
    text = (
        f"# AutoHR ablation: {study} ({where})\n\n{table}\n\n"
        "Paper RMSE: VIPL-HR fold 1 values stated in the text of Yu et al. 2020 (Fig. 4); '-' = not stated.\n"
    )
    (out / f"ablation_{study}.md").write_text(text)
    _bar_chart(rows, out / f"ablation_{study}.png", f"AutoHR ablation: {study} ({where})")
    return text


def _bar_chart(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [r["variant"] for r in rows]
    x = np.arange(len(rows))

    def values(key: str) -> list[float]:
        return [float("nan") if r[key] is None else float(r[key]) for r in rows]

    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(rows) + 2), 4))
    ax.bar(x - 0.2, values("RMSE"), 0.4, label="RMSE", color="#3d85c6")
    ax.bar(x + 0.2, values("MAE"), 0.4, label="MAE", color="#93c47d")
    paper = values("paper RMSE")
    if any(np.isfinite(paper)):
        ax.scatter(x - 0.2, paper, marker="_", s=400, color="#cc0000", label="paper RMSE", zorder=3)
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel("bpm")
    ax.set_title(title)
    top = np.nanmax(values("RMSE") + values("MAE") + paper + [1.0])
    ax.set_ylim(0, 1.3 * top)  # room for the legend above the bars
    ax.legend(loc="upper center", ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
