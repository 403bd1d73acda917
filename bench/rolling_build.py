"""Benchmark: the demo's spend features built by rolling_features vs the hand-written SQL, same data, same run.

Data (DuckDB, generated in SQL with the demo's shape): --rows transactions over
180 days, one customer per 40 transactions (as `fwctl demo generate`), amounts
log-normal-ish, several payments per second for some customers.

Formulations, each materialized with `create table ... as`, --repeat times, best time counts:

  hand_written   the demo's customer_spend_features.sql before the macro (RANGE windows, group by instant)
  macro          examples/fraud/models/features/customer_spend_features.sql as dbt compiles it
  incremental    then 1% new rows (the next ~2 days) arrive; the macro's incremental SQL (dbt compiles
                 it with is_incremental() true) runs as dbt's delete+insert does, against a full build

With --count-distinct, also count_distinct of merchants over 4 windows: the macro as dbt compiles it
(DuckDB: a DISTINCT window aggregate), a hand-written native window query, and the portable body's
join formulation (what PostgreSQL runs), written out.

Both builds are checked equal (every row and column, floats to 1e-9 relative), and the incremental result equals a full rebuild. Prints seconds and ratios.

  .venv/bin/python bench/rolling_build.py                  # 1M transactions
  .venv/bin/python bench/rolling_build.py --rows 10000000  # 10M
  .venv/bin/python bench/rolling_build.py --count-distinct  # also count_distinct: the macro's join vs native
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEMO_MODEL = REPO / "examples" / "fraud" / "models" / "features" / "customer_spend_features.sql"
DAYS = 180

# The demo's hand-written view (git history: examples/fraud/models/features/customer_spend_features.sql
# before the macro), the baseline; {source} is the transactions table.
HAND_WRITTEN = """
with transactions as (
    select transaction_id, customer_id, event_ts, amount_usd from {source}
),
windows as (
    select
        customer_id, event_ts, transaction_id,
        count(*) over last_1h as txn_count_1h, sum(amount_usd) over last_1h as amount_sum_1h,
        avg(amount_usd) over last_1h as amount_avg_1h,
        count(*) over last_24h as txn_count_24h, sum(amount_usd) over last_24h as amount_sum_24h,
        avg(amount_usd) over last_24h as amount_avg_24h,
        count(*) over last_7d as txn_count_7d, sum(amount_usd) over last_7d as amount_sum_7d,
        avg(amount_usd) over last_7d as amount_avg_7d,
        count(*) over last_30d as txn_count_30d, sum(amount_usd) over last_30d as amount_sum_30d,
        avg(amount_usd) over last_30d as amount_avg_30d
    from transactions
    window
        last_1h as (partition by customer_id order by event_ts range between interval '1 hour' preceding and current row),
        last_24h as (partition by customer_id order by event_ts range between interval '24 hours' preceding and current row),
        last_7d as (partition by customer_id order by event_ts range between interval '7 days' preceding and current row),
        last_30d as (partition by customer_id order by event_ts range between interval '30 days' preceding and current row)
),
final as (
    select
        customer_id, event_ts, max(transaction_id) as transaction_id,
        max(txn_count_1h) as txn_count_1h, max(amount_sum_1h) as amount_sum_1h, max(amount_avg_1h) as amount_avg_1h,
        max(txn_count_24h) as txn_count_24h, max(amount_sum_24h) as amount_sum_24h, max(amount_avg_24h) as amount_avg_24h,
        max(txn_count_7d) as txn_count_7d, max(amount_sum_7d) as amount_sum_7d, max(amount_avg_7d) as amount_avg_7d,
        max(txn_count_30d) as txn_count_30d, max(amount_sum_30d) as amount_sum_30d, max(amount_avg_30d) as amount_avg_30d
    from windows
    group by customer_id, event_ts
)
select * from final
"""
# count_distinct: the macro's portable formulation (each instant joins its longest window) against
# DuckDB's native DISTINCT window aggregate, to decide whether a duckdb__ override pays
DISTINCT_WINDOWS = ("1h", "24h", "7d", "30d")
DISTINCT_MODEL = """{{ featurewarehouse.rolling_features(
    source=ref('stg_transactions'), entity='customer', timestamp='event_ts',
    aggregations=[{'agg': 'count_distinct', 'column': 'merchant_id', 'name': 'merchant_count'}],
    windows=['1h', '24h', '7d', '30d']) }}
"""
DISTINCT_NATIVE = """
select customer_id, event_ts, {maxes}
from (
    select customer_id, event_ts, {windows}
    from stg_transactions
) as w
group by customer_id, event_ts
""".format(
    maxes=", ".join(f"max(m_{w}) as merchant_count_{w}" for w in DISTINCT_WINDOWS),
    windows=", ".join(f"count(distinct merchant_id) over (partition by customer_id order by event_ts range between "
                      f"interval '{s} seconds' preceding and current row) as m_{w}"
                      for w, s in zip(DISTINCT_WINDOWS, (3600, 86400, 604800, 2592000))))
# the portable body's formulation (PostgreSQL): each instant joins the rows of its longest window
DISTINCT_JOIN = """
with instants as (select distinct customer_id, event_ts from stg_transactions)
select i.customer_id, i.event_ts, {counts}
from instants as i
inner join stg_transactions as s
    on s.customer_id = i.customer_id and s.event_ts <= i.event_ts and s.event_ts >= i.event_ts - interval '2592000 seconds'
group by i.customer_id, i.event_ts
""".format(counts=", ".join(
    f"count(distinct case when s.event_ts >= i.event_ts - interval '{s} seconds' then s.merchant_id end)"
    f" as merchant_count_{w}" for w, s in zip(DISTINCT_WINDOWS, (3600, 86400, 604800, 2592000))))
FEATURES = [f"{f}_{w}" for w in ("1h", "24h", "7d", "30d") for f in ("txn_count", "amount_sum", "amount_avg")]


def generate(con, rows: int, first_id: int, start: str, days: float, customers: int, table: str) -> None:
    """Transactions: uniform over the period, customers uniform, 1 in 20 paid twice in the same second."""
    con.execute(f"""
        create or replace table {table} as
        with base as (
            select
                {first_id} + i as transaction_id,
                cast(hash(i, 'c') % {customers} as bigint) as customer_id,
                cast(hash(i, 'm') % {max(20, customers // 5)} as bigint) as merchant_id,
                timestamp '{start}' + to_seconds(cast(hash(i, 't') % {int(days * 86400)} as bigint)) as event_ts,
                round(exp(3 + (hash(i, 'a') % 1000) / 400.0), 2) as amount_usd
            from range({rows}) as r(i)
        )
        select * from base
        union all  -- same-second repeats: RANGE peers that share one output row
        select transaction_id + {rows}, customer_id, merchant_id, event_ts, amount_usd / 2
        from base where transaction_id % 20 = 0
    """)


def differences(con, a: str, b: str) -> int:
    """Rows of a and b that differ (matched on customer and instant; floats to 1e-9 relative)."""
    same = ["a.transaction_id = b.transaction_id"] + [
        f"a.{f} = b.{f}" if "count" in f else f"abs(a.{f} - b.{f}) <= 1e-9 * greatest(abs(a.{f}), 1)" for f in FEATURES]
    return con.execute(f"""
        select count(*) from {a} as a full outer join {b} as b
            on a.customer_id = b.customer_id and a.event_ts = b.event_ts
        where a.customer_id is null or b.customer_id is null or not ({' and '.join(same)})
    """).fetchone()[0]


def bench_project(work: Path, db: Path, models_config: str = "") -> Path:
    """A dbt project under ``work`` on the DuckDB file ``db``, with this repository's macros and the
    demo's customer entity (``models_config``: a ``models:`` value for dbt_project.yml)."""
    project = work / "project"
    (project / "models").mkdir(parents=True)
    shutil.copytree(REPO / "macros", project / "macros")
    models = f"models: {models_config}\n" if models_config else ""
    (project / "dbt_project.yml").write_text(
        'name: featurewarehouse\nversion: "0.1.0"\nconfig-version: 2\nprofile: bench\n' + models
        + "vars:\n  fw:\n    entities:\n      customer: {join_keys: [{name: customer_id, dtype: bigint}]}\n")
    (project / "profiles.yml").write_text(
        f'bench:\n  target: dev\n  outputs:\n    dev: {{type: duckdb, path: "{db}", schema: main, threads: 1}}\n')
    return project


def compile_macro(work: Path, db: Path) -> tuple[str, ...]:
    """The demo model's SQL as dbt compiles it: full, incremental (target table exists); the count_distinct model."""
    project = bench_project(work, db)
    (project / "models" / "stg_transactions.sql").write_text("select 1 as placeholder  -- the generated table\n")
    demo = DEMO_MODEL.read_text()
    (project / "models" / "spend_full.sql").write_text(demo)
    (project / "models" / "spend_incremental.sql").write_text("{{ config(materialized='incremental') }}\n" + demo)
    (project / "models" / "merchant_count.sql").write_text(DISTINCT_MODEL)
    proc = subprocess.run([str(VENV_BIN / "dbt"), "--quiet", "compile", "--select", "spend_full", "spend_incremental",
                           "merchant_count",
                           "--profiles-dir", str(project), "--project-dir", str(project)],
                          capture_output=True, text=True, cwd=project)
    if proc.returncode != 0:
        raise SystemExit(f"dbt compile failed:\n{proc.stdout}\n{proc.stderr}")
    compiled = project / "target" / "compiled" / "featurewarehouse" / "models"
    return tuple((compiled / f"{m}.sql").read_text() for m in ("spend_full", "spend_incremental", "merchant_count"))


def timed(con, sql: str) -> float:
    start = time.perf_counter()
    con.execute(sql)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transactions (before same-second repeats)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--count-distinct", action="store_true",
                        help="also time count_distinct over 4 windows: the macro's join vs DuckDB's native window")
    args = parser.parse_args()
    import duckdb

    work = Path(tempfile.mkdtemp(prefix="fw_rolling_bench_"))
    try:
        db = work / "bench.duckdb"
        customers = max(50, args.rows // 40)
        con = duckdb.connect(str(db))
        con.execute(f"set threads = {args.threads}")
        generate(con, args.rows, 0, "2024-01-01", DAYS, customers, "stg_transactions")
        # the incremental model's target must exist for dbt to compile its incremental branch
        con.execute("create table spend_incremental as select * from stg_transactions limit 0")
        con.close()
        full_sql, incremental_sql, distinct_sql = compile_macro(work, db)
        assert "select max(event_ts) from" in incremental_sql, "dbt did not compile the incremental branch"
        con = duckdb.connect(str(db))
        con.execute(f"set threads = {args.threads}")
        n = con.execute("select count(*) from stg_transactions").fetchone()[0]
        print(f"{n:,} transactions, {customers:,} customers, {DAYS} days, threads={args.threads}")

        best: dict[str, float] = {}
        hand = HAND_WRITTEN.format(source="stg_transactions")
        for _ in range(args.repeat):
            for name, sql in (("hand_written", hand), ("macro", full_sql)):
                t = timed(con, f"create or replace table spend_{name} as {sql}")
                best[name] = min(best.get(name, t), t)
        bad = differences(con, "spend_hand_written", "spend_macro")
        assert bad == 0, f"{bad} rows of the macro differ from the hand-written ones"

        if args.count_distinct:
            for _ in range(args.repeat):
                for name, sql in (("distinct_macro", distinct_sql), ("distinct_native", DISTINCT_NATIVE),
                                  ("distinct_join", DISTINCT_JOIN)):
                    t = timed(con, f"create or replace table {name} as {sql}")
                    best[name] = min(best.get(name, t), t)
            cols = ", ".join(["customer_id", "event_ts", *[f"merchant_count_{w}" for w in DISTINCT_WINDOWS]])
            for other in ("distinct_native", "distinct_join"):
                bad = con.execute(f"select count(*) from (select {cols} from distinct_macro except "
                                  f"select {cols} from {other})").fetchone()[0]
                assert bad == 0, f"{bad} count_distinct rows of the macro differ from {other}"

        # 1% new rows over the next ~2 days, then the incremental step (dbt delete+insert) vs a full build
        con.execute("drop table spend_incremental")
        con.execute("create table spend_incremental as select * from spend_macro")
        new = max(1, n // 100)
        generate(con, new * 20 // 21, 10 * n, "2024-06-29", DAYS / 100, customers, "fw_new_rows")
        con.execute("insert into stg_transactions select * from fw_new_rows")
        # incremental_sql names the table as dbt would ("bench"."main"."spend_incremental"): same file, same table
        start = time.perf_counter()
        con.execute(f"create temp table fw_incr as {incremental_sql}")
        con.execute("delete from spend_incremental where (customer_id, event_ts) in "
                    "(select customer_id, event_ts from fw_incr)")
        con.execute("insert into spend_incremental select * from fw_incr")
        best["incremental"] = time.perf_counter() - start
        recomputed = con.execute("select count(*) from fw_incr").fetchone()[0]
        for _ in range(args.repeat):
            t = timed(con, f"create or replace table spend_rebuilt as {full_sql}")
            best["full_after"] = min(best.get("full_after", t), t)
        bad = differences(con, "spend_incremental", "spend_rebuilt")
        assert bad == 0, f"{bad} rows of the incremental build differ from a full one"
        con.close()

        print(f"hand-written build    {best['hand_written']:8.2f} s")
        print(f"macro build           {best['macro']:8.2f} s   ratio {best['macro'] / best['hand_written']:.2f}x"
              f"  (target <= 1.20x)")
        if args.count_distinct:
            print(f"count_distinct, macro             {best['distinct_macro']:8.2f} s")
            print(f"count_distinct, native window     {best['distinct_native']:8.2f} s   "
                  f"macro/native {best['distinct_macro'] / best['distinct_native']:.2f}x")
            print(f"count_distinct, join (portable)   {best['distinct_join']:8.2f} s   "
                  f"join/native {best['distinct_join'] / best['distinct_native']:.2f}x")
        print(f"full build, +1% rows  {best['full_after']:8.2f} s")
        print(f"incremental, +1% rows {best['incremental']:8.2f} s   "
              f"{100 * best['incremental'] / best['full_after']:.1f}% of a full build (target <= 5%), "
              f"{recomputed:,} rows recomputed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    main()
