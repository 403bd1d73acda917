"""Benchmark: a training set through the PIT macro vs hand-written DuckDB queries, same data, same run.

A 1M-row spine (label rows: customer, merchant, event time) is joined against
three feature views of --view-rows rows each:

  customer_spend    entity customer, created_at, ttl 30d, 4 features
  merchant_risk     entity merchant,             ttl 90d, 4 features
  customer_profile  entity customer, created_at, no ttl,  4 features

Formulations, all materialized with `create temp table ... as`:

  macro            featurewarehouse.point_in_time_join as dbt compiles it for DuckDB (adapter dispatch; per
                   view the ASOF or the bucketed range formulation, chosen from statistics of the data,
                   macros/pit_duckdb_range.sql; --formulation asof|range forces one)
  macro_portable   the macro's portable default__ body (union + running max window), for reference
  asof             hand-written: per view, dedupe (keys, ts) by (created, values), then ASOF LEFT JOIN, ttl as a CASE
  asof_composite   hand-written: ASOF LEFT JOIN on a composite struct key {ts, created}, no dedupe
  range            hand-written: range join with the TTL inside the join condition, best row per spine row
                   (the no-TTL view has no lower bound: it joins every older row)
  range_asof       hand-written: range join for views with a TTL, ASOF for the view without

Each formulation runs in its own process (peak RSS is that process's), --repeat
times; the best time counts. Results are checked equal (row count and an
order-independent hash over every output column). Prints seconds, peak RSS and
the ratio to the fastest hand-written formulation.

  .venv/bin/python bench/pit_join.py                       # 1M spine, 1M rows per view
  .venv/bin/python bench/pit_join.py --view-rows 10000000  # 10M rows per view
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

VIEWS = {
    "customer_spend": {
        "entity": "customer", "keys": ["customer_id"], "created": "created_at", "ttl": "30d", "ttl_days": 30,
        "features": ["txn_count_7d", "amount_sum_7d", "amount_avg_7d", "txn_count_1h"],
        "types": ["bigint", "double", "double", "bigint"],
    },
    "merchant_risk": {
        "entity": "merchant", "keys": ["merchant_id"], "created": None, "ttl": "90d", "ttl_days": 90,
        "features": ["chargeback_rate_90d", "chargebacks_90d", "txns_90d", "risk_score"],
        "types": ["double", "bigint", "bigint", "bigint"],
    },
    "customer_profile": {
        "entity": "customer", "keys": ["customer_id"], "created": "created_at", "ttl": None, "ttl_days": None,
        "features": ["account_age_days", "home_country", "card_type", "tier"],
        "types": ["bigint", "varchar", "varchar", "bigint"],
    },
}
# --shape feast: data shaped like Feast's own benchmark (and like what its users
# bring): 3 views x 5 features keyed on one entity, created timestamps, TTL 30d,
# generated with pandas as UTC-aware timestamps written to Parquet (so DuckDB
# reads TIMESTAMP WITH TIME ZONE; --tz naive converts them to naive UTC), and
# about 10% of rows tying another on (key, ts) with a different created time.
FEAST_VIEWS = {
    name: {
        "entity": "customer", "keys": ["customer_id"], "created": "created", "ttl": "30d", "ttl_days": 30,
        "features": [f"{prefix}_f{j}" for j in range(5)],
        "types": ["double", "double", "bigint", "double", "bigint"],
    }
    for name, prefix in (("customer_spend", "spend"), ("customer_risk", "risk"), ("customer_activity", "act"))
}
SHAPES = {"bench": VIEWS, "feast": FEAST_VIEWS}
SPINE_STUBS = {
    "bench": "select 1::bigint as label_id, 1::bigint as customer_id, 1::bigint as merchant_id,"
             " now()::timestamp as event_ts, false as is_fraud where 1 = 0\n",
    "feast": "select 1::bigint as label_id, 1::bigint as customer_id, now()::timestamp as event_ts where 1 = 0\n",
}


def use_shape(shape: str) -> None:
    """Point the module's VIEWS (read by every formulation) at one data shape."""
    global VIEWS, FEATURE_REFS
    VIEWS = SHAPES[shape]
    FEATURE_REFS = [f"{v}:*" for v in VIEWS]


FEATURE_REFS = [f"{v}:*" for v in VIEWS]


# ---- data -------------------------------------------------------------------

def generate(db: Path, spine_rows: int, view_rows: int, customers: int, merchants: int) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    year = 365 * 86400
    con.execute(f"""
    create or replace table spine as
    select i as label_id,
           (hash(i, 1) % {customers})::bigint as customer_id,
           (hash(i, 2) % {merchants})::bigint as merchant_id,
           timestamp '2024-01-01' + to_seconds((hash(i, 3) % {year})::bigint) as event_ts,
           (hash(i, 4) % 50 = 0) as is_fraud
    from range({spine_rows}) t(i);

    create or replace table customer_spend as
    select (hash(i, 5) % {customers})::bigint as customer_id,
           timestamp '2023-12-01' + to_seconds((hash(i, 6) % ({year} + 31 * 86400))::bigint) as ts,
           timestamp '2023-12-01' + to_seconds((hash(i, 6) % ({year} + 31 * 86400))::bigint + (hash(i, 7) % 3600)::bigint)
               as created_at,
           (hash(i, 8) % 1000)::bigint as txn_count_7d, (hash(i, 9) % 100000) / 100.0 as amount_sum_7d,
           (hash(i, 10) % 10000) / 100.0 as amount_avg_7d, (hash(i, 11) % 50)::bigint as txn_count_1h
    from range({view_rows}) t(i);

    create or replace table merchant_risk as
    select (hash(i, 12) % {merchants})::bigint as merchant_id,
           timestamp '2023-12-01' + to_seconds((hash(i, 13) % ({year} + 31 * 86400))::bigint) as ts,
           (hash(i, 14) % 1000) / 1000.0 as chargeback_rate_90d, (hash(i, 15) % 500)::bigint as chargebacks_90d,
           (hash(i, 16) % 100000)::bigint as txns_90d, (hash(i, 17) % 100)::bigint as risk_score
    from range({view_rows}) t(i);

    create or replace table customer_profile as
    select (hash(i, 18) % {customers})::bigint as customer_id,
           timestamp '2023-12-01' + to_seconds((hash(i, 19) % ({year} + 31 * 86400))::bigint) as ts,
           timestamp '2023-12-01' + to_seconds((hash(i, 19) % ({year} + 31 * 86400))::bigint + 60) as created_at,
           (hash(i, 20) % 3000)::bigint as account_age_days,
           ['US', 'GB', 'FR', 'DE'][(hash(i, 21) % 4)::int + 1] as home_country,
           ['debit', 'credit'][(hash(i, 22) % 2)::int + 1] as card_type, (hash(i, 23) % 5)::bigint as tier
    from range({view_rows}) t(i);
    """)
    con.execute("checkpoint")
    con.close()


def generate_feast(db: Path, spine_rows: int, view_rows: int, customers: int, tz: str, seed: int = 7) -> None:
    """Feast-shaped data the way its users make it: pandas, UTC-aware timestamps, Parquet, then DuckDB."""
    import duckdb
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    year_s = 365 * 86400
    parquet_dir = db.parent / "parquet"
    parquet_dir.mkdir(exist_ok=True)
    con = duckdb.connect(str(db))
    con.execute("set TimeZone = 'UTC'")

    def load(name: str, frame: "pd.DataFrame") -> None:
        path = parquet_dir / f"{name}.parquet"
        frame.to_parquet(path, index=False)  # timestamp[us, tz=UTC] (pandas' ns, coerced by pyarrow)
        cols = "*" if tz == "aware" else ", ".join(
            f"timezone('UTC', {c}) as {c}" if str(frame[c].dtype).startswith("datetime64") else c for c in frame.columns)
        con.execute(f"create or replace table {name} as select {cols} from read_parquet('{path}')")

    for name, v in FEAST_VIEWS.items():
        ties = view_rows // 10  # rows that repeat another row's (key, ts) with a later created time
        base = view_rows - ties
        keys = rng.integers(0, customers, base)
        ts = start - pd.Timedelta(days=31) + pd.to_timedelta(rng.integers(0, year_s + 31 * 86400, base), unit="s")
        created = ts + pd.to_timedelta(rng.integers(0, 3600, base), unit="s")
        pick = rng.choice(base, ties, replace=False)  # each tie once: no (key, ts, created) repeats
        frame = pd.DataFrame({
            "customer_id": np.concatenate([keys, keys[pick]]),
            "ts": np.concatenate([ts.values, ts.values[pick]]),
            "created": np.concatenate([created.values, (created + pd.Timedelta(seconds=1)).values[pick]]),
        })
        for c in ("ts", "created"):
            frame[c] = pd.to_datetime(frame[c], utc=True)
        for f, t in zip(v["features"], v["types"]):
            frame[f] = rng.normal(100, 30, view_rows) if t == "double" else rng.integers(0, 1000, view_rows)
        load(name, frame.sample(frac=1.0, random_state=seed).reset_index(drop=True))
    spine = pd.DataFrame({
        "label_id": np.arange(spine_rows),
        "customer_id": rng.integers(0, customers, spine_rows),
        "event_ts": start + pd.to_timedelta(rng.integers(0, year_s, spine_rows), unit="s"),
    })
    load("spine", spine)
    con.execute("checkpoint")
    con.close()


# ---- the macro's SQL, compiled by dbt ----------------------------------------

def write_project(project: Path) -> None:
    """A throw-away dbt project whose models are the generated tables (compiled, never built)."""
    if project.exists():
        shutil.rmtree(project)
    (project / "models").mkdir(parents=True)
    shutil.copytree(REPO / "macros", project / "macros")
    shutil.copytree(REPO / "profiles", project / "profiles")
    (project / "dbt_project.yml").write_text(textwrap.dedent("""\
        name: featurewarehouse
        version: "0.1.0"
        config-version: 2
        profile: featurewarehouse
        model-paths: ["models"]
        macro-paths: ["macros"]
        vars:
          fw:
            entities:
              customer: {join_keys: [{name: customer_id, dtype: bigint}]}
              merchant: {join_keys: [{name: merchant_id, dtype: bigint}]}
        """))
    yml = ["version: 2", "models:", "  - name: spine", "    config: {meta: {fw: {kind: label}}}"]
    for name, v in VIEWS.items():
        cols = [f"cast(null as bigint) as {k}" for k in v["keys"]] + ["cast(null as timestamp) as ts"]
        if v["created"]:
            cols.append(f"cast(null as timestamp) as {v['created']}")
        cols += [f"cast(null as {t}) as {f}" for f, t in zip(v["features"], v["types"])]
        (project / "models" / f"{name}.sql").write_text("select " + ", ".join(cols) + " where 1 = 0\n")
        fw = {"kind": "feature_view", "entity": v["entity"], "timestamp": "ts"}
        if v["created"]:
            fw["created_timestamp"] = v["created"]
        if v["ttl"]:
            fw["ttl"] = v["ttl"]
        yml += [f"  - name: {name}", f"    config: {{meta: {{fw: {json.dumps(fw)}}}}}", "    columns:"]
        for f, t in zip(v["features"], v["types"]):
            yml += [f"      - name: {f}", f"        data_type: {t}", "        config: {meta: {fw: {feature: true}}}"]
    (project / "models" / "models.yml").write_text("\n".join(yml) + "\n")
    (project / "models" / "spine.sql").write_text(SPINE_STUBS["feast" if VIEWS is FEAST_VIEWS else "bench"])
    args = f"spine=ref('spine'), spine_timestamp='event_ts', features={FEATURE_REFS!r}"
    (project / "models" / "pit_macro.sql").write_text(f"{{{{ featurewarehouse.point_in_time_join({args}) }}}}\n")
    (project / "models" / "pit_portable.sql").write_text(
        f"{{{{ featurewarehouse.default__point_in_time_join({args}) }}}}\n")


def compile_macro(project: Path, db: Path, formulation: str = "auto") -> dict[str, str]:
    env = {**os.environ, "FW_TARGET": "dev", "FW_DUCKDB_PATH": str(db), "DBT_TARGET_PATH": str(project / "target")}
    proc = subprocess.run(
        [str(VENV_BIN / "dbt"), "--quiet", "compile", "--select", "pit_macro", "pit_portable",
         "--vars", json.dumps({"fw_pit_formulation": formulation}),
         "--project-dir", str(project), "--profiles-dir", str(project / "profiles")],
        cwd=project, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"dbt compile failed:\n{proc.stdout}\n{proc.stderr}")
    out = project / "target" / "compiled" / "featurewarehouse" / "models"
    return {name: (out / f"{name}.sql").read_text() for name in ("pit_macro", "pit_portable")}


# ---- hand-written formulations -----------------------------------------------

def _pref_desc(v: dict, alias: str) -> str:
    parts = [f"{alias}.ts desc"]
    if v["created"]:
        parts.append(f"{alias}.{v['created']} desc nulls last")
    parts += [f"{alias}.{f} desc nulls last" for f in v["features"]]
    return ", ".join(parts)


def _keys_eq(v: dict, left: str, right: str) -> str:
    return " and ".join(f"{left}.{k} = {right}.{k}" for k in v["keys"])


def _ttl_ok(v: dict, alias: str) -> str:
    return f"{alias}.ts >= s.event_ts - interval {v['ttl_days']} day" if v["ttl_days"] else "true"


def asof_view_ctes(name: str, v: dict, i: int) -> str:
    partition = ", ".join(v["keys"] + ["ts"])
    return (f"d{i} as (select * from {name} where ts is not null "
            f"qualify row_number() over (partition by {partition} order by {_pref_desc(v, name)}) = 1)")


def asof_query(use_range_for_ttl: bool = False) -> str:
    ctes, joins, cols = [], [], []
    ranged = [(i, n, v) for i, (n, v) in enumerate(VIEWS.items()) if use_range_for_ttl and v["ttl_days"]]
    if ranged:
        ctes.append("s0 as (select *, row_number() over () as fw_rid from spine)")
    for i, (name, v) in enumerate(VIEWS.items()):
        if use_range_for_ttl and v["ttl_days"]:
            ctes.append(range_view_cte(name, v, i, "s0"))
            joins.append(f"left join r{i} on r{i}.fw_rid = s.fw_rid")
            cols += [f"r{i}.{f}" for f in v["features"]]
        else:
            ctes.append(asof_view_ctes(name, v, i))
            joins.append(f"asof left join d{i} on {_keys_eq(v, 's', f'd{i}')} and s.event_ts >= d{i}.ts")
            cols += [f"case when {_ttl_ok(v, f'd{i}')} then d{i}.{f} end as {f}" for f in v["features"]]
    base = "s0" if ranged else "spine"
    select = "s.* exclude (fw_rid)" if ranged else "s.*"
    return (f"with {', '.join(ctes)}\nselect {select}, {', '.join(cols)}\nfrom {base} s\n" + "\n".join(joins))


def asof_composite_query() -> str:
    ctes, joins, cols = [], [], []
    ctes.append("s as (select *, {'ts': event_ts, 'c': timestamp 'infinity'} as fw_k from spine)")
    for i, (name, v) in enumerate(VIEWS.items()):
        created = v["created"] or "ts"
        ctes.append(f"d{i} as (select *, {{'ts': ts, 'c': {created}}} as fw_k from {name} where ts is not null)")
        joins.append(f"asof left join d{i} on {_keys_eq(v, 's', f'd{i}')} and s.fw_k >= d{i}.fw_k")
        cols += [f"case when {_ttl_ok(v, f'd{i}')} then d{i}.{f} end as {f}" for f in v["features"]]
    return f"with {', '.join(ctes)}\nselect s.* exclude (fw_k), {', '.join(cols)}\nfrom s\n" + "\n".join(joins)


# (ts, created) in one HUGEINT: epoch microseconds of ts in the high 64 bits, of
# created (offset to be non-negative; NULL lowest) in the low 64 bits. One ASOF
# on it finds the greatest (ts, created) at or before t without a dedupe step;
# rows tying on (key, ts, created) are NOT broken by feature values (decision
# 0001), so its answers equal the reference only on data without such ties.
def _hugeint_key(ts: str, created: str | None) -> str:
    low = f"coalesce(epoch_us({created})::hugeint + 9223372036854775809, 0)" if created else "0"
    return f"(epoch_us({ts})::hugeint * 18446744073709551616 + {low})"


def asof_hugeint_query() -> str:
    ctes = ["s as (select *, (epoch_us(event_ts)::hugeint + 1) * 18446744073709551616 - 1 as fw_k from spine)"]
    joins, cols = [], []
    for i, (name, v) in enumerate(VIEWS.items()):
        ctes.append(f"d{i} as (select *, {_hugeint_key('ts', v['created'])} as fw_k from {name} where ts is not null)")
        joins.append(f"asof left join d{i} on {_keys_eq(v, 's', f'd{i}')} and s.fw_k >= d{i}.fw_k")
        cols += [f"case when {_ttl_ok(v, f'd{i}')} then d{i}.{f} end as {f}" for f in v["features"]]
    return f"with {', '.join(ctes)}\nselect s.* exclude (fw_k), {', '.join(cols)}\nfrom s\n" + "\n".join(joins)


def range_view_cte(name: str, v: dict, i: int, spine: str) -> str:
    lower = f" and f.ts >= s.event_ts - interval {v['ttl_days']} day" if v["ttl_days"] else ""
    feats = ", ".join(f"f.{f}" for f in v["features"])
    return (f"r{i} as (select s.fw_rid, {feats} from {spine} s join {name} f on {_keys_eq(v, 's', 'f')} "
            f"and f.ts <= s.event_ts{lower} "
            f"qualify row_number() over (partition by s.fw_rid order by {_pref_desc(v, 'f')}) = 1)")


def range_query() -> str:
    ctes = ["s0 as (select *, row_number() over () as fw_rid from spine)"]
    joins, cols = [], []
    for i, (name, v) in enumerate(VIEWS.items()):
        ctes.append(range_view_cte(name, v, i, "s0"))
        joins.append(f"left join r{i} on r{i}.fw_rid = s.fw_rid")
        cols += [f"r{i}.{f}" for f in v["features"]]
    return f"with {', '.join(ctes)}\nselect s.* exclude (fw_rid), {', '.join(cols)}\nfrom s0 s\n" + "\n".join(joins)


# ---- running one formulation in its own process ------------------------------

def run_one(db: str, sql_file: str, threads: int, memory_limit: str | None, filled_column: str,
            out: str | None = None) -> None:
    import resource

    import duckdb

    con = duckdb.connect(db, read_only=True)
    con.execute(f"set threads = {threads}")
    con.execute("set TimeZone = 'UTC'")  # aware timestamps: the hand-written SQL and the macro's casts agree
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    sql = Path(sql_file).read_text()
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    con.execute(f"create temp table fw_result as {sql}")
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cols = [r[0] for r in con.execute("select column_name from (describe fw_result)").fetchall()]
    row_count, checksum = con.execute(
        f"select count(*), sum(hash({', '.join(cols)})) from fw_result").fetchone()
    filled = con.execute(f"select count({filled_column}) from fw_result").fetchone()[0]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if out:  # the result, for a row-by-row comparison (bench/pit_feast.py); after the peak is read
        con.execute(f"copy fw_result to '{out}' (format parquet)")
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "rows": row_count, "checksum": str(checksum), "filled": filled,
                      "peak_rss_mb": peak_mb}))


def measure(db: Path, sql: str, work: Path, name: str, args: argparse.Namespace) -> dict:
    sql_file = work / f"{name}.sql"
    sql_file.write_text(sql)
    best = None
    for _ in range(args.repeat):
        cmd = [sys.executable, __file__, "_run", str(db), str(sql_file), str(args.threads), args.memory_limit or "",
               next(iter(VIEWS.values()))["features"][0]]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_run":
        run_one(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] or None, sys.argv[6],
                sys.argv[7] if len(sys.argv) > 7 else None)
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spine-rows", type=int, default=1_000_000)
    p.add_argument("--view-rows", type=int, default=1_000_000, help="rows per feature view (e.g. 10000000)")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--merchants", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 8GB")
    p.add_argument("--repeat", type=int, default=1, help="runs per formulation; the best counts")
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/fw_bench_pit"))
    p.add_argument("--only", nargs="*", help="run only these formulations")
    p.add_argument("--shape", choices=sorted(SHAPES), default="bench",
                   help="bench: the original 3 views; feast: Feast's benchmark shape (see FEAST_VIEWS)")
    p.add_argument("--tz", choices=("aware", "naive"), default="aware",
                   help="--shape feast: timestamps as pandas writes them (aware) or converted to naive UTC")
    p.add_argument("--formulation", choices=("auto", "asof", "range"), default="auto",
                   help="the macro's DuckDB formulation (vars.fw_pit_formulation): chosen from statistics, or forced")
    args = p.parse_args()
    use_shape(args.shape)

    shape = "" if args.shape == "bench" else f"_{args.shape}_{args.tz}"
    work = args.work_dir / f"s{args.spine_rows}_v{args.view_rows}{shape}"
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.duckdb"
    if not db.exists():
        print(f"generating {args.spine_rows:,} spine rows and 3 x {args.view_rows:,} view rows ...", flush=True)
        start = time.perf_counter()
        if args.shape == "feast":
            generate_feast(db, args.spine_rows, args.view_rows, args.customers, args.tz)
        else:
            generate(db, args.spine_rows, args.view_rows, args.customers, args.merchants)
        print(f"  done in {time.perf_counter() - start:.1f}s", flush=True)
    project = work / "project"
    write_project(project)
    compiled = compile_macro(project, db, args.formulation)

    formulations = {
        "macro": compiled["pit_macro"],
        "macro_portable": compiled["pit_portable"],
        "asof": asof_query(),
        "asof_composite": asof_composite_query(),
        "asof_hugeint": asof_hugeint_query(),
        "range": range_query(),
        "range_asof": asof_query(use_range_for_ttl=True),
    }
    if args.only:
        formulations = {k: v for k, v in formulations.items() if k in args.only}
    results = {}
    for name, sql in formulations.items():
        print(f"running {name} ...", flush=True)
        results[name] = measure(db, sql, work, name, args)
        print(f"  {results[name]}", flush=True)

    hand = {k: r for k, r in results.items() if not k.startswith("macro") and "error" not in r}
    fastest = min(hand, key=lambda k: hand[k]["seconds"]) if hand else None
    print(f"\nspine {args.spine_rows:,} rows, 3 views x {args.view_rows:,} rows, threads={args.threads}, "
          f"shape {args.shape}" + (f", {args.tz} timestamps" if args.shape == "feast" else ""))
    # wall time swings with the load of a shared machine: CPU time is the steadier ratio
    cpu_base = min((r["cpu_seconds"] for r in hand.values()), default=None)
    print(f"{'formulation':<16}{'seconds':>9}{'cpu s':>8}{'peak RSS MB':>13}{'vs fastest hand-written':>26}"
          f"{'cpu vs least-cpu hand-written':>31}  result")
    reference = results.get("range_asof") or results.get("asof")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:<16}{'-':>9}{'-':>8}{'-':>13}{'-':>26}{'-':>31}  error: {r['error'][:80]}")
            continue
        ratio = f"{r['seconds'] / hand[fastest]['seconds']:.2f}x" if fastest else "-"
        same = "same" if reference and "error" not in reference and (r["rows"], r["checksum"]) == (
            reference["rows"], reference["checksum"]) else f"rows={r['rows']} checksum differs"
        cpu_ratio = f"{r['cpu_seconds'] / cpu_base:.2f}x" if cpu_base else "-"
        print(f"{name:<16}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.1f}{r['peak_rss_mb']:>13.0f}{ratio:>26}"
              f"{cpu_ratio:>31}  {same}")
    if fastest:
        print(f"fastest hand-written: {fastest}")
    # formulations that do not apply the full tie-break can return other rows: compare with equals too
    if reference and "error" not in reference and "macro" in results and "error" not in results["macro"]:
        same = {k: r for k, r in hand.items() if (r["rows"], r["checksum"]) == (reference["rows"], reference["checksum"])}
        if same:
            best = min(same, key=lambda k: same[k]["seconds"])
            print(f"fastest hand-written with the same rows: {best}; macro/{best} = "
                  f"{results['macro']['seconds'] / same[best]['seconds']:.2f}x")


if __name__ == "__main__":
    main()
