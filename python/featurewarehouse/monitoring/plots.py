"""One PNG per view, next to the history: the most drifted features' baseline vs current
distributions, PSI per day, and freshness (age of the newest event) over the runs."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError

MAX_DISTRIBUTIONS = 3
RECENT_DAYS = 30


def plots_dir(config: ProjectConfig) -> Path:
    from featurewarehouse.monitoring.history import monitor_dir

    return monitor_dir(config) / "plots"


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("plots need matplotlib", hint='pip install "featurewarehouse[monitor]", or pass --no-plots') from exc
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _bin_labels(result: Any) -> list[str]:
    if result.kind == "categorical":
        return [str(b) for b in result.bins] + ["other"]
    edges = [f"{e:.3g}" for e in result.bins]
    if not edges:
        return ["all"]
    return [f"<{edges[0]}"] + [f"{lo}–{hi}" for lo, hi in zip(edges, edges[1:])] + [f"≥{edges[-1]}"]


def _shares(bins: Iterable[int]) -> list[float]:
    bins = list(bins)
    total = sum(bins) or 1
    return [b / total for b in bins]


def draw(config: ProjectConfig, result: Any, freshness_runs: list[tuple[str, float]]) -> Path:
    """Draw one view's PNG and return its path."""
    plt = _pyplot()
    ranked = sorted((f for f in result.features if f.psi is not None), key=lambda f: -f.psi)[:MAX_DISTRIBUTIONS]
    cols = max(len(ranked), 2)
    fig = plt.figure(figsize=(5 * cols, 8.5), constrained_layout=True)
    grid = fig.add_gridspec(2, cols)
    fig.suptitle(f"{result.view}: {result.current}, day {result.window} vs {result.baseline}", fontsize=11)
    for i, f in enumerate(ranked):
        ax = fig.add_subplot(grid[0, i])
        labels = _bin_labels(f)
        x = range(len(labels))
        ax.bar([v - 0.2 for v in x], _shares(f.baseline.bins), width=0.4, label="baseline", color="#7f9cbf")
        ax.bar([v + 0.2 for v in x], _shares(f.current.bins), width=0.4, label="current", color="#e07b39")
        ax.set_xticks(list(x), labels, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{f.feature} (PSI {f.psi:.3f})", fontsize=10)
        ax.set_ylabel("share of non-null values")
        ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, : cols - 1] if cols > 2 else grid[1, 0])
    for f in result.features:
        days = [(_dt.date.fromisoformat(w), v) for w, v in sorted(f.psi_by_window.items()) if v is not None]
        if days:
            ax.plot([d for d, _ in days], [v for _, v in days], label=f.feature, linewidth=1)
    recent = [v for f in result.features for w, v in sorted(f.psi_by_window.items())[-RECENT_DAYS:] if v is not None]
    if recent:  # early days can dwarf what matters now (e.g. trailing windows still filling up)
        ax.set_ylim(0, max(0.5, 1.5 * max(recent)))
    ax.set_title(f"PSI per day against the baseline (scaled to the last {RECENT_DAYS} days)", fontsize=10)
    ax.set_ylabel("PSI")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    if len(result.features) <= 12:
        ax.legend(fontsize=7, ncol=2)
    ax = fig.add_subplot(grid[1, cols - 1])
    if freshness_runs:
        ax.plot([_dt.datetime.fromisoformat(t) for t, _ in freshness_runs], [a / 3600 for _, a in freshness_runs],
                marker="o")
    if result.freshness.get("max_age_seconds"):
        ax.axhline(result.freshness["max_age_seconds"] / 3600, color="red", linestyle="--", label="max age")
        ax.legend(fontsize=8)
    ax.set_title("freshness: age of the newest event per run", fontsize=10)
    ax.set_ylabel("hours")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    folder = plots_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.view}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw_all(config: ProjectConfig, results: Iterable[Any]) -> dict[str, Path]:
    """Every view's PNG; freshness over time comes from the history (this run included)."""
    from featurewarehouse.monitoring.history import runs

    past = runs(config)
    out = {}
    for result in results:
        if not result.features:
            continue  # an empty view: nothing to draw
        ages = [(run["checked_at"], v["freshness"]["age_seconds"]) for run in past
                if (v := (run.get("views") or {}).get(result.view)) and v["freshness"].get("age_seconds") is not None]
        out[result.view] = draw(config, result, ages)
    return out
