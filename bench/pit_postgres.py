"""Benchmark: the PIT macro's bodies on PostgreSQL vs hand-written PostgreSQL, same data, same run.

    .venv/bin/python bench/pit_postgres.py                       # 100k spine, 3 views x 100k rows
    .venv/bin/python bench/pit_postgres.py --view-rows 300000 --tz naive

Data: bench/pit_join.py's Feast shape (3 views x 5 features keyed on customer,
created timestamps, TTL 30d, pandas UTC-aware timestamps through Parquet, 10%
of rows tying on (key, ts)), loaded into PostgreSQL (FW_PG_* env vars, default
127.0.0.1:5432/test) over ADBC, analyzed, with an index on (customer_id, ts)
per view (its build time is printed apart; every formulation runs with it).
Formulations, each `create temp table ... as`, rounds interleaved, best counts:

  macro        featurewarehouse.point_in_time_join compiled by dbt for the postgres target
               (the postgres__ body: per view with a TTL, the range join + DISTINCT ON per distinct
               (key, t) where the statistics find spine rows x rows per window few, else the timeline)
  macro_range  the same with the range join forced (vars.fw_pit_formulation: range)
  macro_sort   the same with the timeline forced (vars.fw_pit_formulation: asof)
  portable     the portable default__ body (a running max of the rank over a timeline), for reference
  lateral      hand-written: per spine row and view, LEFT JOIN LATERAL (... order by the
               preference of decision 0001 limit 1), served by the index
  distinct_on  hand-written: per view, a range join with the TTL in the condition and
               DISTINCT ON (label_id) in preference order, joined back on label_id

All four apply the full tie-break, so their answers must be equal (count and
sums of every feature column). Prints seconds and the ratio to the fastest
hand-written formulation.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pit_join as pj  # noqa: E402  (the Feast data shape and the dbt project writer)

SCHEMA = "fw_bench_pit"


def pg_uri() -> str:
    return "postgresql://{u}@{h}:{p}/{d}".format(
        u=os.environ.get("FW_PG_USER", "postgres"), h=os.environ.get("FW_PG_HOST", "127.0.0.1"),
        p=os.environ.get("FW_PG_PORT", "5432"), d=os.environ.get("FW_PG_DATABASE", "test"))


def load(db: Path, pg) -> float:
    import duckdb

    src = duckdb.connect(str(db), read_only=True)
    started = time.perf_counter()
    with pg.cursor() as cur:
        cur.execute(f"drop schema if exists {SCHEMA} cascade")
        cur.execute(f"create schema {SCHEMA}")
        for name in [*pj.VIEWS, "spine"]:
            cur.adbc_ingest(name, src.sql(f"select * from {name}").to_arrow_reader(200_000),
                            mode="create", db_schema_name=SCHEMA)
        for name in pj.VIEWS:
            cur.execute(f"create index on {SCHEMA}.{name} (customer_id, ts)")
        for name in [*pj.VIEWS, "spine"]:
            cur.execute(f"analyze {SCHEMA}.{name}")
    src.close()
    return time.perf_counter() - started


def compile_macro(project: Path, formulation: str = "auto") -> dict[str, str]:
    """The macro's and the portable body's SQL; the statistics read the loaded tables."""
    env = {**os.environ, "FW_TARGET": "postgres", "FW_PG_SCHEMA": SCHEMA, "DBT_TARGET_PATH": str(project / "target")}
    proc = subprocess.run(
        [str(pj.VENV_BIN / "dbt"), "--quiet", "compile", "--select", "pit_macro", "pit_portable",
         "--vars", f"{{fw_pit_formulation: {formulation}}}",
         "--project-dir", str(project), "--profiles-dir", str(project / "profiles")],
        cwd=project, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"dbt compile failed:\n{proc.stdout}\n{proc.stderr}")
    out = project / "target" / "compiled" / "featurewarehouse" / "models"
    return {name: (out / f"{name}.sql").read_text() for name in ("pit_macro", "pit_portable")}


def _pref(v: dict, alias: str) -> str:
    return ", ".join([f"{alias}.ts desc", f"{alias}.{v['created']} desc nulls last",
                      *(f"{alias}.{f} desc nulls last" for f in v["features"])])


def lateral_sql() -> str:
    joins, cols = [], []
    for i, (name, v) in enumerate(pj.VIEWS.items()):
        feats = ", ".join(f"f.{f}" for f in v["features"])
        joins.append(
            f"left join lateral (select {feats} from {SCHEMA}.{name} f where f.customer_id = s.customer_id "
            f"and f.ts <= s.event_ts and f.ts >= s.event_ts - interval '{v['ttl_days']} days' "
            f"order by {_pref(v, 'f')} limit 1) v{i} on true")
        cols += [f"v{i}.{f}" for f in v["features"]]
    return f"select s.*, {', '.join(cols)}\nfrom {SCHEMA}.spine s\n" + "\n".join(joins)


def distinct_on_sql() -> str:
    ctes, joins, cols = [], [], []
    for i, (name, v) in enumerate(pj.VIEWS.items()):
        feats = ", ".join(f"f.{f}" for f in v["features"])
        ctes.append(
            f"d{i} as (select distinct on (s.label_id) s.label_id, {feats} from {SCHEMA}.spine s "
            f"join {SCHEMA}.{name} f on f.customer_id = s.customer_id and f.ts <= s.event_ts "
            f"and f.ts >= s.event_ts - interval '{v['ttl_days']} days' order by s.label_id, {_pref(v, 'f')})")
        joins.append(f"left join d{i} on d{i}.label_id = s.label_id")
        cols += [f"d{i}.{f}" for f in v["features"]]
    return (f"with {', '.join(ctes)}\nselect s.*, {', '.join(cols)}\nfrom {SCHEMA}.spine s\n" + "\n".join(joins))


def run(pg, sql: str) -> tuple[float, tuple]:
    feats = [f for v in pj.VIEWS.values() for f in v["features"]]
    with pg.cursor() as cur:
        cur.execute("drop table if exists fw_result")
        started = time.perf_counter()
        cur.execute(f"create temp table fw_result as {sql}")
        seconds = time.perf_counter() - started
        sums = ", ".join(f"count({f}), round(sum({f})::numeric, 3)" for f in feats)
        cur.execute(f"select count(*), {sums} from fw_result")
        return seconds, tuple(cur.fetchone())


def main() -> None:
    import adbc_driver_postgresql.dbapi as adbc

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spine-rows", type=int, default=100_000)
    p.add_argument("--view-rows", type=int, default=100_000)
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--tz", choices=("aware", "naive"), default="aware")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/fw_bench_pit_pg"))
    a = p.parse_args()
    pj.use_shape("feast")
    work = a.work_dir / f"s{a.spine_rows}_v{a.view_rows}_c{a.customers}_{a.tz}"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.duckdb"
    if not db.exists():
        pj.generate_feast(db, a.spine_rows, a.view_rows, a.customers, a.tz)
    pj.write_project(work / "project")
    pg = adbc.connect(pg_uri(), autocommit=True)
    try:
        print(f"loaded and indexed 3 views x {a.view_rows:,} rows + a {a.spine_rows:,}-row spine "
              f"({a.tz} timestamps, {a.customers:,} customers) in {load(db, pg):.1f} s", flush=True)
        compiled = compile_macro(work / "project")  # after the load: the statistics read the tables
        formulations = {"macro": compiled["pit_macro"],
                        "macro_range": compile_macro(work / "project", "range")["pit_macro"],
                        "macro_sort": compile_macro(work / "project", "asof")["pit_macro"],
                        "portable": compiled["pit_portable"], "lateral": lateral_sql(),
                        "distinct_on": distinct_on_sql()}
        chosen = "range join" if "distinct on" in compiled["pit_macro"] else "timeline"
        print(f"the statistics chose the {chosen} for the macro", flush=True)
        best: dict[str, float] = {}
        answers: dict[str, tuple] = {}
        for _ in range(a.repeat):
            for name, sql in formulations.items():
                seconds, answers[name] = run(pg, sql)
                best[name] = min(best.get(name, float("inf")), seconds)
                print(f"  {name:<12} {seconds:8.2f} s", flush=True)
        hand = min(("lateral", "distinct_on"), key=best.get)
        print(f"\n{'formulation':<12}{'best s':>9}{'vs fastest hand-written':>26}")
        for name in formulations:
            print(f"{name:<12}{best[name]:>9.2f}{best[name] / best[hand]:>25.2f}x")
        print(f"same answers (count and sums of every feature): {len(set(answers.values())) == 1}")
    finally:
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {SCHEMA} cascade")
        pg.close()


if __name__ == "__main__":
    main()
