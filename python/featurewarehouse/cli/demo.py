"""``fwctl demo``: the card-payments demo (generate data, load it, build it)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

import typer

from featurewarehouse.cli import options
from featurewarehouse.errors import ConfigError

DEFAULT_ROWS = 200_000  # keep in sync with featurewarehouse.demo.generate (not imported: fast --help)
DEFAULT_SEED = 42

demo_app = typer.Typer(
    name="demo",
    help="The card-payments demo. With no subcommand: generate data if missing, dbt build, summarize.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _parse_end(value: Optional[str]) -> Optional[dt.date]:
    if value is None:
        return None
    if value == "today":
        return dt.datetime.now(dt.timezone.utc).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"--end must be YYYY-MM-DD or 'today', got {value!r}", hint="e.g. --end 2025-07-01") from exc


class _Bars:
    """One rich progress bar per named piece of work."""

    def __init__(self) -> None:
        from featurewarehouse.cli.output import progress

        self.progress = progress()
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "_Bars":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def update(self, what: str, done: int, total: int) -> None:
        if what not in self.tasks:
            self.tasks[what] = self.progress.add_task(what, total=total, rate="rows")
        self.progress.update(self.tasks[what], completed=done)


@demo_app.callback()
def demo(
    ctx: typer.Context,
    rows: int = typer.Option(DEFAULT_ROWS, "--rows", help="Transactions to generate when data is missing."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed of the generator."),
    end: Optional[str] = typer.Option(
        None, "--end", help="Last day (exclusive) of the generated data, YYYY-MM-DD; default today (UTC)."
    ),
    project_dir: Optional[Path] = options.ProjectDir,
    profiles_dir: Optional[Path] = options.ProfilesDir,
    target: Optional[str] = options.Target,
    json_out: bool = options.Json,
) -> None:
    """Run the demo: generate the data if missing, build the project with dbt, summarize."""
    if ctx.invoked_subcommand is not None:
        return
    from featurewarehouse.cli.output import info, print_json, print_table
    from featurewarehouse.demo.run import demo_spec, run_demo

    config = options.resolve(project_dir, profiles_dir, target)
    spec = demo_spec(rows, seed, _parse_end(end))
    with _Bars() as bars:
        run = run_demo(config, spec, on_progress=bars.update, on_step=lambda s: info(f"demo: {s}"))
    if json_out:
        print_json({
            "target": run.target,
            "data_dir": run.data_dir,
            "generated": run.generated.row_counts if run.generated else None,
            "loaded": run.loaded.row_counts if run.loaded else None,
            "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
            "tests_passed": run.tests_passed,
            "models": [m.__dict__ for m in run.models],
            "registry_version": run.registry_version,
            "validation": run.validation,
            "sync": run.sync.to_dict() if run.sync else None,
            "online_read": run.online_read.to_feast_response() if run.online_read else None,
        })
        return
    if run.generated:
        info(f"generated {run.generated.row_counts['transactions']:,} transaction rows in {run.data_dir}")
    else:
        info(f"using the existing data in {run.data_dir} (fwctl demo generate --force to regenerate)")
    print_table(
        ["model", "kind", "status", "rows"],
        [(m.name, m.kind, m.status, f"{m.rows:,}" if m.rows is not None else "") for m in run.models],
        title=f"dbt build on target {run.target}: {len(run.models)} models, {run.tests_passed} tests passed "
        f"in {run.build_seconds:.1f}s",
    )
    v = run.validation
    info(f"registry {run.registry_version[:12]}: validated {v.get('models', 0)} models, "
         f"{v.get('expectations', 0) - v.get('expectations_failed', 0)}/{v.get('expectations', 0)} expectations passed")
    if run.sync:
        print_table(
            ["view", "mode", "rows read", "written", "expired", "seconds"],
            [(r.view, r.mode, f"{r.rows_read:,}", f"{r.written:,}", f"{r.expired:,}", f"{r.seconds:.1f}")
             for r in run.sync.views],
            title=f"synced into {run.sync.store}",
        )
    if run.online_read:
        read = run.online_read
        print_table(
            list(read.feature_names),
            [[_cell(read.values[i][j], read.statuses[i][j]) for i in range(len(read.feature_names))]
             for j in range(len(read.values[0]))],
            title="online read: get_online_features(" + ", ".join(run.read_features) + ")",
        )
    from featurewarehouse.cli.hints import shell_setup
    from featurewarehouse.demo.run import try_it_lines

    for line in try_it_lines(list(run.read_features), run.read_entities, setup=shell_setup(config)):
        info(line)


def _cell(value, status: str) -> str:
    """A value, or the Feast status saying why there is none."""
    if status != "PRESENT":
        return status
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@demo_app.command("generate")
def generate_cmd(
    rows: int = typer.Option(DEFAULT_ROWS, "--rows", help="Distinct transactions to generate (duplicates come on top)."),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed: the same seed writes byte-identical files."),
    days: int = typer.Option(180, "--days", help="Days of history."),
    end: Optional[str] = typer.Option(
        None, "--end", help="Last day (exclusive), YYYY-MM-DD or 'today'; default 2025-07-01 (fixed, reproducible)."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output directory (default: the project's vars.fw.raw_data_path, i.e. data/raw)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing dataset."),
    drift_days: int = typer.Option(
        0, "--drift-days", help="Plant a drift for `fwctl monitor`: purchases of the last N days cost twice as much."),
    project_dir: Optional[Path] = options.ProjectDir,
    json_out: bool = options.Json,
) -> None:
    """Generate the card-payments dataset as Parquet (customers, merchants, transactions, chargebacks)."""
    import time

    from featurewarehouse.cli.output import info, print_json, print_table
    from featurewarehouse.demo.generate import DEFAULT_END, DemoSpec, generate
    from featurewarehouse.demo.load import raw_data_dir

    spec = DemoSpec(rows=rows, seed=seed, days=days, end=_parse_end(end) or DEFAULT_END, drift_days=drift_days)
    out_dir = out if out is not None else raw_data_dir(options.resolve(project_dir))
    started = time.perf_counter()
    with _Bars() as bars:
        result = generate(spec, out_dir, force=force, on_progress=lambda d, t: bars.update("generate", d, t))
    seconds = time.perf_counter() - started
    if json_out:
        print_json({"out_dir": result.out_dir, "spec": spec.to_dict(), "row_counts": result.row_counts,
                    "seconds": round(seconds, 2)})
        return
    print_table(["file", "rows"], [(f"{t}.parquet", f"{n:,}") for t, n in result.row_counts.items()],
                title=f"{result.out_dir} ({spec.start} to {spec.end}, seed {spec.seed})")
    info(f"generated in {seconds:.1f}s")


@demo_app.command("load")
def load_cmd(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where the Parquet files are (default: data/raw)."),
    project_dir: Optional[Path] = options.ProjectDir,
    profiles_dir: Optional[Path] = options.ProfilesDir,
    target: Optional[str] = options.Target,
    json_out: bool = options.Json,
) -> None:
    """Load the raw Parquet into a server warehouse (--target postgres or spark): tables in <schema>_raw."""
    from featurewarehouse.cli.output import print_json, print_table
    from featurewarehouse.demo.load import load_raw_tables

    config = options.resolve(project_dir, profiles_dir, target)
    with _Bars() as bars:
        result = load_raw_tables(config, data_dir, on_progress=bars.update)
    if json_out:
        print_json({"schema": result.schema, "row_counts": result.row_counts})
        return
    print_table(["table", "rows"], [(f"{result.schema}.{t}", f"{n:,}") for t, n in result.row_counts.items()],
                title=f"loaded into {result.schema}")


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
