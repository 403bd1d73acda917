"""``fwctl skew``: served values against the warehouse's point-in-time values."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    @app.command("skew")
    def skew_cmd(
        select: Optional[List[str]] = typer.Option(None, "--select", "-s", help="Only these feature views (or view:feature), repeatable."),
        since: Optional[str] = typer.Option(None, "--since", help="Only vectors served since an ISO time or a duration back (24h, 7d)."),
        threshold: float = typer.Option(0.01, "--threshold", min=0.0, max=1.0,
                                        help="Exit 1 when a feature's mismatch rate is above this (0.01 = 1%)."),
        limit: int = typer.Option(100_000, "--limit", min=1, help="Compare at most the newest N logged vectors."),
        tolerance: float = typer.Option(1e-9, "--tolerance", min=0.0, help="Relative tolerance for numbers."),
        examples: int = typer.Option(3, "--examples", min=0, help="Mismatch examples per feature."),
        logs: Optional[Path] = typer.Option(None, "--logs", help="Feature-log directory (default: vars.fw.feature_log_path)."),
        json_out: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Compare logged served feature values with the point-in-time values the warehouse computes for the same keys and times.

        Per feature: match rate, missing rates (served / warehouse) and mismatch examples. Exit 1 when a feature's mismatch rate is above --threshold.
        """
        from featurewarehouse.cli.output import console, print_json, print_table, warn
        from featurewarehouse.errors import ChecksFailed
        from featurewarehouse.serving.skew import compute_skew, parse_since

        config = options.resolve(project_dir, profiles_dir, target)
        report = compute_skew(
            config, select=select or (), since=parse_since(since), limit=limit, threshold=threshold,
            tolerance=tolerance, examples=examples, log_path=logs,
        )
        if json_out:
            print_json(report.to_dict())
        elif not report.features:
            warn(f"no logged vectors to compare under {logs or config.feature_log_path}"
                 " (serve with `fwctl serve --log` first)")
        else:
            print_table(
                ("feature", "compared", "match", "served missing", "warehouse missing", "status"),
                [
                    (f.feature, f.compared, f"{f.match_rate:.2%}", f"{f.served_missing_rate:.2%}",
                     f"{f.pit_missing_rate:.2%}", "SKEW" if f in report.failing else "ok")
                    for f in report.features
                ],
                title=f"training/serving skew over {report.vectors} served vectors "
                      f"({report.first_served_at} .. {report.last_served_at})",
            )
            for f in report.failing:
                for ex in f.examples:
                    console.print(
                        f"  {f.feature} {ex['entity_keys']} at {ex['served_at']}: served {ex['served']!r} "
                        f"({ex['status']}), warehouse {ex['pit']!r}", highlight=False, markup=False,
                    )
        if report.failing:
            names = ", ".join(f"{f.feature} ({f.mismatch_rate:.1%})" for f in report.failing)
            raise ChecksFailed(
                f"{len(report.failing)} feature(s) skewed above {threshold:.2%}: {names}",
                hint="re-sync the online store (`fwctl sync-online`), or compare with --since to see whether it persists",
            )
