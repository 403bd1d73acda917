"""``fwctl monitor``: drift (PSI), null rates and freshness of feature views."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from featurewarehouse.cli import options


def _num(value: Any, fmt: str = ".3f") -> str:
    return "" if value is None else format(value, fmt)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "no rows"
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def register(app: typer.Typer) -> None:
    from featurewarehouse.monitoring.run import BASELINE_HELP

    @app.command("monitor")
    def monitor_cmd(
        select: Optional[List[str]] = options.Select,
        baseline: Optional[str] = typer.Option(
            None, "--baseline", "-b", help=f"What to compare with: {BASELINE_HELP}. "
            "Default: the view's meta.fw.monitor.baseline, else previous."),
        current: str = typer.Option("view", "--current", help="view (the feature view) or served (its served log)."),
        window: Optional[str] = typer.Option(None, "--window", help="The current day, YYYY-MM-DD (default: the newest)."),
        plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw a PNG per view (needs matplotlib)."),
        json_out: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Profile feature views in the warehouse and compare a current day with a baseline.

        Per feature: PSI and null-rate change; per view: freshness. Thresholds come from
        meta.fw.monitor in YAML (see docs/monitoring.md). Exit 1 when one is breached; a
        breach of a monitor with blocking: true also refuses sync-online for that view.
        History: target/fw_monitor/history/; plots: target/fw_monitor/plots/.
        """
        from featurewarehouse.cli.output import console, info, print_json, print_table, progress
        from featurewarehouse.errors import ChecksFailed
        from featurewarehouse.monitoring.run import monitor

        config = options.resolve(project_dir, profiles_dir, target)
        bar = progress(transient=True)
        with bar:
            task = bar.add_task("monitoring", total=None, rate="")
            run = monitor(config, select, baseline=baseline, current=current, window=window, plots=plots,
                          on_view=lambda name: bar.update(task, description=f"monitoring {name}", advance=1))
        if json_out:
            print_json(run.to_dict())
        else:
            for r in run.results:
                flagged = {(b.feature, b.metric) for b in r.breaches}
                fresh = r.freshness
                title = (f"{r.view}: {r.current}, day {r.window or '-'} vs {r.baseline}; newest event "
                         f"{fresh['newest_event'] or '-'} ({_age(fresh['age_seconds'])} old"
                         + (f", max {_age(fresh['max_age_seconds'])}" if fresh["max_age_seconds"] else "")
                         + (", past its ttl" if fresh["past_ttl"] else "") + ")"
                         + (" STALE" if (None, "freshness") in flagged else ""))
                print_table(
                    ("feature", "PSI", "null rate (baseline → current)", "mean (baseline → current)", "status"),
                    (
                        (
                            f.feature,
                            _num(f.psi),
                            f"{_num(f.baseline and f.baseline.null_rate)} → {_num(f.current and f.current.null_rate)}",
                            f"{_num(f.baseline and f.baseline.mean, '.4g')} → {_num(f.current and f.current.mean, '.4g')}",
                            ", ".join(m for (feat, m) in sorted(flagged, key=str) if feat == f.feature).upper() or "ok",
                        )
                        for f in r.features
                    ),
                    title=title,
                )
                for skipped in r.skipped:
                    info(f"{r.view}: not monitored: {skipped}")
            breaches = run.breaches
            console.print(f"{len(run.results)} view(s) monitored; {len(breaches)} breach(es)"
                          + (f", {sum(b.blocking for b in breaches)} blocking" if breaches else ""),
                          highlight=False, markup=False)
            info(f"history: {run.history_path}")
            for view, path in run.plots.items():
                info(f"plot: {path}")
        if run.breaches:
            raise ChecksFailed(
                f"monitoring thresholds breached in {len({b.view for b in run.breaches})} view(s):\n"
                + "\n".join(f"- {b.view}: {b.describe()}" for b in run.breaches),
                hint="see docs/monitoring.md; thresholds are meta.fw.monitor in the view's YAML",
            )
