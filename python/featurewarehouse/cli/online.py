"""``fwctl sync-online`` and ``fwctl get-online``: thin edges over online.sync and serving.client."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from featurewarehouse.cli import options


def validation_gate(config: Any) -> Callable[..., Any]:
    """The validation gate for ``sync_online``: it refuses the whole sync (exit 1, before any
    write) when a view may not be served; ``--skip-validation`` runs the sync without it."""
    from featurewarehouse.validation.gate import make_gate

    return make_gate(config)


def register(app: typer.Typer) -> None:
    @app.command("sync-online")
    def sync_online_cmd(
        select: Optional[List[str]] = typer.Option(None, "--select", "-s", help="Only these online feature views (repeatable)."),
        full_refresh: bool = typer.Option(False, "--full-refresh", help="Rebuild the views and swap them in atomically."),
        store: Optional[str] = options.Store,
        dry_run: bool = typer.Option(False, "--dry-run", help="Compute what would be written; write nothing."),
        skip_validation: bool = typer.Option(
            False, "--skip-validation",
            help="Sync even views whose latest `fwctl validate` failed or that changed since (loudly).",
        ),
        lock_timeout: float = typer.Option(
            0.0, "--lock-timeout", min=0.0, metavar="SECONDS",
            help="Wait up to this long for another sync of the same view (default: do not wait; exit 1 naming it).",
        ),
        json_out: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Materialize the latest value per entity of every online feature view into the online store.

        Incremental by default: only entities with rows changed since the last sync, late rows included. A value never moves backwards.

        Store: --store > FW_ONLINE_STORE > vars.fw.online_store.
        """
        from featurewarehouse.cli.output import err_console, print_json, print_table, progress
        from featurewarehouse.online.sync import sync_online

        config = options.resolve(project_dir, profiles_dir, target, store)
        if skip_validation:
            err_console.print(
                "WARNING: --skip-validation: syncing feature views WITHOUT checking their validation results; "
                "unvalidated or failing data may reach the online store",
                style="bold yellow", highlight=False, markup=False,
            )
        bar = progress()
        tasks: dict[str, Any] = {}
        started: dict[str, float] = {}

        def on_progress(view: str, rows: int, event: str) -> None:
            if event == "start":
                started[view] = time.perf_counter()
                tasks[view] = bar.add_task(view, total=None, rate="")
                return
            elapsed = max(time.perf_counter() - started.get(view, time.perf_counter()), 1e-9)
            bar.update(tasks[view], completed=rows, rate=f"{rows / elapsed:,.0f} rows/s")
            if event == "done":
                bar.update(tasks[view], total=rows)

        with bar:
            report = sync_online(
                config, select=select, full_refresh=full_refresh, store_url=store, dry_run=dry_run,
                gate=None if skip_validation else validation_gate(config), progress=on_progress,
                lock_timeout=lock_timeout,
            )
        _render(report, json_out, print_json, print_table)
        for warning in report.warnings:  # on stderr, --json or not: stdout stays machine-readable
            err_console.print(f"WARNING: {warning}", style="bold yellow", highlight=False, markup=False)

    @app.command("get-online")
    def get_online_cmd(
        entity: List[str] = typer.Option(..., "--entity", "-e", help="A join key and value, e.g. customer_id=42 (repeatable; repeat a key for more rows)."),
        feature: Optional[List[str]] = typer.Option(None, "--feature", "-f", help="view:feature or view:* (repeatable)."),
        feature_service: Optional[str] = typer.Option(
            None, "--feature-service", help="A feature service of the project (vars.fw.feature_services), instead of --feature."),
        full_feature_names: bool = typer.Option(False, "--full-feature-names", help="Name columns view__feature."),
        store: Optional[str] = options.Store,
        json_out: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """Read features for entities from the online store (no dbt project needed with --store and --feature)."""
        from featurewarehouse.cli.output import print_json, print_table
        from featurewarehouse.errors import ConfigError

        if bool(feature) == bool(feature_service):
            raise ConfigError("pass --feature (repeatable) or --feature-service, one of them",
                              hint="e.g. --feature customer_spend_features:* or --feature-service fraud_model")
        client = _client(project_dir, store)
        try:
            rows = parse_entities(entity, client)
            result = client.get_online_features(feature or None, rows, full_feature_names=full_feature_names,
                                                feature_service=feature_service)
        finally:
            client.close()
        if json_out:
            print_json(result.to_feast_response())
            return
        n = result.num_rows
        table_rows = []
        for j in range(n):
            for i, name in enumerate(result.feature_names):
                ts = result.event_timestamps[i][j]
                table_rows.append((j, name, result.values[i][j], result.statuses[i][j], ts.isoformat() if ts else ""))
        print_table(("row", "feature", "value", "status", "event_ts"), table_rows, title="online features")


def _client(project_dir: Optional[Path], store: Optional[str]) -> Any:
    """With --store and no project, read with the store's own registry copy."""
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.online.base import open_store
    from featurewarehouse.serving.client import OnlineClient

    try:
        config = options.resolve(project_dir, None, None, store)
    except ConfigError:
        if not store:
            raise
        return OnlineClient(open_store(store))
    return OnlineClient.from_config(config, store)


def parse_entities(items: List[str], client: Any) -> dict[str, list[Any]]:
    """``["customer_id=42", "customer_id=7"]`` -> ``{"customer_id": [42, 7]}``, typed by the stored views."""
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.online.keys import parse_key_text

    client._refresh()
    kinds: dict[str, str] = {}
    for state in client._states.values():
        kinds.update(zip(state.layout.key_names, state.layout.key_kinds))
    cols: dict[str, list[Any]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"malformed --entity {item!r}", hint="write it as join_key=value, e.g. customer_id=42")
        cols.setdefault(name.strip(), []).append(parse_key_text(value.strip(), kinds.get(name.strip(), "str"), name.strip()))
    return cols


def _render(report: Any, json_out: bool, print_json: Any, print_table: Any) -> None:
    if json_out:
        print_json(report.to_dict())
        return
    rows = [
        (v.view, v.mode, f"{v.rows_read:,}", f"{v.written:,}", f"{v.skipped_older:,}", f"{v.expired:,}",
         f"{sum(v.skipped_rows.values()):,}", f"{v.seconds:.2f}s", f"{v.rows_per_second:,.0f}")
        for v in report.views
    ]
    title = f"sync-online{' (dry run)' if report.dry_run else ''} -> {report.store}"
    print_table(("view", "mode", "rows", "written", "skipped (older)", "expired", "not served (see warnings)",
                 "time", "rows/s"), rows, title=title)
