"""``fwctl historical``: a point-in-time-correct training set from a spine, into a file or table."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    @app.command("historical")
    def historical(
        spine: str = typer.Option(
            ..., "--spine",
            help="The entity rows: a Parquet file/directory/glob, a SELECT query, or a table in the warehouse.",
        ),
        feature: List[str] = typer.Option(
            ..., "--feature", "-f", help="A feature as view:feature or view:* (repeatable)."
        ),
        out: str = typer.Option(
            ..., "--out", "-o",
            help="Where the result goes: a .parquet path (or any path with a slash), or a warehouse table name.",
        ),
        timestamp_column: Optional[str] = typer.Option(
            None, "--timestamp-column",
            help="The spine's event-time column (default: its only timestamp/date column).",
        ),
        full_feature_names: bool = typer.Option(
            False, "--full-feature-names", help="Name feature columns view__feature."
        ),
        row_id_column: Optional[str] = typer.Option(
            None, "--row-id-column", help="Keep the spine's 0-based row position in a column of this name."
        ),
        json_out: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Join features onto a spine, point-in-time correct, and write the result.

        The rows never pass through Python on DuckDB; on Postgres they stream in
        Arrow batches. Every spine row comes back once, in the spine's order.

        Example: fwctl historical --spine labels.parquet -f customer_spend_features:* --out train.parquet
        """
        from featurewarehouse.cli.output import err_console, info, print_json
        from featurewarehouse.store import FeatureStore

        config = options.resolve(project_dir, profiles_dir, target)
        # One warehouse statement does the work: a spinner, not a bar (no row counts to show).
        with err_console.status(f"point-in-time join of {len(feature)} feature reference(s) onto {spine[:60]} ..."):
            result = FeatureStore(config=config).get_historical_features(
                spine, feature, timestamp_column=timestamp_column, output=out,
                full_feature_names=full_feature_names, row_id_column=row_id_column,
            )
        if json_out:
            print_json(result.summary())
        else:
            info(
                f"wrote {result.num_rows:,} rows x {len(result.columns)} columns to "
                f"{result.output_kind} {result.output} in {result.seconds:.1f}s"
            )
            if result.skipped and result.skipped.rows:
                info(result.skipped.describe() + " (their feature columns are NULL)")
