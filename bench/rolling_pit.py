"""Benchmark: a training set over the demo's spend view, windows at the spine's time vs as of the last event.

Data (DuckDB, bench/rolling_build.py's generator): --rows transactions over 180
days, one customer per --per-customer transactions (default 40, as the demo); the spend view is the demo's
customer_spend_features (rolling_features: count, sum, avg over 1h, 24h, 7d, 30d),
built by dbt. The spine has --spine-rows labels: a share --at-events (default 0.5)
at a transaction's own time (a label per payment, as the demo's fraud labels),
the rest at uniform random times.

Formulations, each materialized with `create table ... as`, --repeat times, best time counts:

  exact          point_in_time_join as dbt compiles it (DuckDB: ASOF + the windows at each spine time,
                 macros/rolling_pit.sql)
  last_event     the same join over a copy of the view without rolling metadata: the value at the
                 customer's last event at or before t (the behaviour before issue #18)
  *_portable     the same two through the portable default__ body (what PostgreSQL runs)

Checks: at a spine time equal to one of the customer's transactions, both give the same values
(the view's row is the window at that instant); the share of training rows whose values differ
is printed (the stale windows the change removes). Prints seconds and the ratio exact / last_event.

  .venv/bin/python bench/rolling_pit.py                     # 1M transactions, 200k labels
  .venv/bin/python bench/rolling_pit.py --spine-rows 1000000
  .venv/bin/python bench/rolling_pit.py --at-events 1        # every label on a payment (the demo's spine)
  .venv/bin/python bench/rolling_pit.py --per-customer 4000  # dense entities: the windows, not the join
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from rolling_build import DAYS, DEMO_MODEL, FEATURES, bench_project, generate, timed

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
TRAININGS = ("exact", "last_event", "exact_portable", "last_event_portable")


def view_yaml() -> str:
    columns = "\n".join(
        f"      - {{name: {f}, data_type: {'bigint' if 'count' in f else 'double'}, config: {{meta: {{fw: {{feature: true}}}}}}}}"
        for f in FEATURES)
    return textwrap.dedent("""\
        version: 2
        models:
          - name: customer_spend_features
            config: {meta: {fw: {kind: feature_view, entity: customer, timestamp: event_ts}}}
          - name: spend_last_event
            config: {materialized: table, meta: {fw: {kind: feature_view, entity: customer, timestamp: event_ts, ttl: 30d}}}
            columns:
        """) + columns + "\n"


def training_sql(view: str, portable: bool) -> str:
    macro = "default__point_in_time_join" if portable else "point_in_time_join"
    return (f"{{{{ featurewarehouse.{macro}(spine=ref('labels'), spine_timestamp='label_ts', "
            f"features=['{view}:*']) }}}}\n")


def compile_trainings(work: Path, db: Path) -> dict[str, str]:
    """Build the view (dbt run), then compile the four training sets against it."""
    project = bench_project(work, db, "{featurewarehouse: {+materialized: table}}")
    models = project / "models"
    for placeholder in ("stg_transactions", "labels"):  # generated tables, never run
        (models / f"{placeholder}.sql").write_text("select 1 as placeholder\n")
    (models / "customer_spend_features.sql").write_text(DEMO_MODEL.read_text())
    (models / "spend_last_event.sql").write_text("select * from {{ ref('customer_spend_features') }}\n")
    (models / "views.yml").write_text(view_yaml())
    for name in TRAININGS:
        view = "spend_last_event" if name.startswith("last_event") else "customer_spend_features"
        (models / f"training_{name}.sql").write_text(training_sql(view, name.endswith("_portable")))

    def dbt(*command: str) -> None:
        proc = subprocess.run([str(VENV_BIN / "dbt"), "--quiet", *command,
                               "--profiles-dir", str(project), "--project-dir", str(project)],
                              capture_output=True, text=True, cwd=project)
        if proc.returncode != 0:
            raise SystemExit(f"dbt {command[0]} failed:\n{proc.stdout}\n{proc.stderr}")

    dbt("run", "--select", "customer_spend_features", "spend_last_event")
    dbt("compile", "--select", *[f"training_{n}" for n in TRAININGS])
    compiled = project / "target" / "compiled" / "featurewarehouse" / "models"
    return {n: (compiled / f"training_{n}.sql").read_text() for n in TRAININGS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions (before same-second repeats)")
    parser.add_argument("--spine-rows", type=int, default=200_000)
    parser.add_argument("--per-customer", type=int, default=40, help="transactions per customer (density)")
    parser.add_argument("--at-events", type=float, default=0.5, help="share of labels at a transaction's time")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-portable", action="store_true", help="skip the portable body")
    args = parser.parse_args()
    import duckdb

    work = Path(tempfile.mkdtemp(prefix="fw_rolling_pit_bench_"))
    try:
        db = work / "bench.duckdb"
        customers = max(1, args.rows // args.per_customer)
        con = duckdb.connect(str(db))
        generate(con, args.rows, 0, "2024-01-01", DAYS, customers, "stg_transactions")
        half = round(args.spine_rows * args.at_events)
        con.execute(f"""
            create or replace table labels as
            select row_number() over () as label_id, customer_id, event_ts as label_ts, 1 as at_event
            from (select * from stg_transactions using sample {half} rows (reservoir, 7))
            union all
            select {half} + 1 + i, cast(hash(i, 'lc') % {customers} as bigint),
                   timestamp '2024-01-01' + to_seconds(cast(hash(i, 'lt') % {DAYS * 86400} as bigint)), 0
            from range({args.spine_rows - half}) as r(i)
        """)
        con.close()
        start = time.perf_counter()
        sql = compile_trainings(work, db)
        built = time.perf_counter() - start
        assert "_wsrc" in sql["exact"] and "_wsrc" not in sql["last_event"], "the exact join was not compiled"

        con = duckdb.connect(str(db))
        con.execute(f"set threads = {args.threads}")
        n = con.execute("select count(*) from stg_transactions").fetchone()[0]
        print(f"{n:,} transactions, {customers:,} customers, {args.spine_rows:,} labels "
              f"({100 * args.at_events:.0f}% at a transaction's time), threads={args.threads}"
              f" (dbt run of the view and compile: {built:.1f} s)")
        names = [t for t in TRAININGS if not (args.no_portable and t.endswith("_portable"))]
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name in names:
                t = timed(con, f"create or replace table training_{name} as {sql[name]}")
                best[name] = min(best.get(name, t), t)

        same = " and ".join(f"a.{f} is not distinct from b.{f}" if "count" in f else
                            f"(a.{f} is null and b.{f} is null or abs(a.{f} - b.{f}) <= 1e-9 * greatest(abs(a.{f}), 1))"
                            for f in FEATURES)

        def differing(a: str, b: str, where: str = "true") -> int:
            return con.execute(f"select count(*) from training_{a} as a join training_{b} as b using (label_id) "
                               f"where {where} and not ({same})").fetchone()[0]

        at_event = differing("exact", "last_event", "a.at_event = 1")
        assert at_event == 0, f"{at_event} labels at a transaction's time differ between exact and last_event"
        differ = differing("exact", "last_event")
        if not args.no_portable:
            for kind in ("exact", "last_event"):
                bad = differing(kind, f"{kind}_portable")
                assert bad == 0, f"{bad} rows of the portable {kind} join differ from the DuckDB body"
        con.close()

        print(f"training rows whose window values differ from the last event's: {differ:,} "
              f"({100 * differ / args.spine_rows:.1f}%)")
        print(f"last_event (before #18)   {best['last_event']:8.2f} s")
        print(f"exact at the spine's time {best['exact']:8.2f} s   ratio {best['exact'] / best['last_event']:.2f}x")
        if not args.no_portable:
            print(f"portable, last_event      {best['last_event_portable']:8.2f} s")
            print(f"portable, exact           {best['exact_portable']:8.2f} s   ratio "
                  f"{best['exact_portable'] / best['last_event_portable']:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    main()
