"""Benchmark: Python historical retrieval vs hand-written DuckDB, time and peak RSS.

    .venv/bin/python bench/historical.py                       # all scenarios, default sizes
    .venv/bin/python bench/historical.py --scenario pit --spine-rows 1000000 --view-rows 3333334
    .venv/bin/python bench/historical.py --scenario wide       # 17k spine rows x 1,000 features (50 views)

Scenario ``pit``: a spine (Parquet, ``--spine-rows``) against 3 feature views
(``--view-rows`` rows each: customer spend with created timestamp and a 30d
TTL, merchant risk with 90d TTL, customer profile without TTL), the result
written to a warehouse table. Measured in the same run, each in its own
process (peak RSS = that process's max RSS):

* ``fwctl``: ``FeatureStore.get_historical_features(parquet, output=table)``
  (renders the macro through dbt, stages the spine, keeps the spine order);
* ``range``: hand-written range join, TTL inside the join condition,
  ``qualify row_number()`` per spine row (the fastest in the foundation issue);
* ``asof``: hand-written ASOF join on the key + time, after keeping the
  latest created row per (key, ts), TTL checked on the joined row;
* ``asof_hugeint``: hand-written ASOF join on the key and one HUGEINT packing
  (ts, created) (bench/pit_join.py), no dedupe step: the fastest hand-written
  query of issue 15; its answers equal the others' because no two rows here
  tie on (key, ts, created).

``--tz aware`` stores every timestamp (views and spine) as UTC-aware, the way
pandas writes them to Parquet (DuckDB reads TIMESTAMP WITH TIME ZONE); in
both shapes 10% of customer-spend rows repeat another row's (key, ts) with a
later created time. The narrow scenario (``--narrow-days``) times a spine
covering only the last days of the data, where the macro's pre-filter to the
spine's time range minus the TTL pays. All answers are checked equal (row count and a checksum over every
feature column). Scenario ``wide``: 17k spine rows x 50 generated views x 20
features = 1,000 features, returned as Arrow; time and peak RSS, plus the
size of the rendered SQL.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAY_US = 86_400 * 1_000_000
START = "2024-01-01"


# ---- a generated project --------------------------------------------------------

def write_project(root: Path, views: dict[str, dict], memory_limit: str) -> None:
    """A dbt project whose feature views are dbt views over raw tables the bench fills."""
    import yaml

    (root / "models").mkdir(parents=True)
    shutil.copytree(REPO / "macros", root / "macros")
    (root / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "featurewarehouse", "version": "0.1.0", "config-version": 2, "profile": "featurewarehouse",
        "model-paths": ["models"], "macro-paths": ["macros"], "target-path": "target",
        "vars": {"fw": {"entities": {
            "customer": {"join_keys": [{"name": "customer_id", "dtype": "bigint"}]},
            "merchant": {"join_keys": [{"name": "merchant_id", "dtype": "bigint"}]},
        }}},
        "models": {"featurewarehouse": {"+materialized": "view"}},
    }, sort_keys=False))
    # in the project directory, where fwctl and dbt look after DBT_PROFILES_DIR
    (root / "profiles.yml").write_text(yaml.safe_dump({"featurewarehouse": {
        "target": "dev",
        "outputs": {"dev": {"type": "duckdb", "path": str(root / "wh.duckdb"), "schema": "main", "threads": 2,
                            "settings": {"memory_limit": memory_limit}}},
    }}))
    models = []
    for name, spec in views.items():
        (root / "models" / f"{name}.sql").write_text(f"select * from {{{{ target.schema }}}}.raw_{name}\n")
        fw = {"kind": "feature_view", "entity": spec["entity"], "timestamp": "event_ts"}
        if spec.get("created"):
            fw["created_timestamp"] = "created_ts"
        if spec.get("ttl"):
            fw["ttl"] = spec["ttl"]
        models.append({
            "name": name, "description": f"bench view {name}", "config": {"meta": {"fw": fw}},
            "columns": [{"name": f, "description": f, "data_type": t, "config": {"meta": {"fw": {"feature": True}}}}
                        for f, t in spec["features"].items()],
        })
    (root / "models" / "views.yml").write_text(yaml.safe_dump({"version": 2, "models": models}, sort_keys=False))


def fill_raw(root: Path, views: dict[str, dict], view_rows: int, seed: int, tz: str | None = None) -> None:
    import duckdb
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(root / "wh.duckdb"))
    t0 = np.datetime64(START, "us").astype(np.int64)
    for name, spec in views.items():
        n = view_rows if spec.get("rows") is None else spec["rows"]
        key = "customer_id" if spec["entity"] == "customer" else "merchant_id"
        cols = {
            key: rng.integers(0, spec["keys"], n, dtype=np.int64),
            # microsecond times over a year: (key, ts) practically never tie
            "event_ts": t0 + rng.integers(0, 365 * DAY_US, n),
        }
        if spec.get("created"):
            cols["created_ts"] = cols["event_ts"] + rng.integers(0, DAY_US, n)
            # 10% of rows: another row's (key, ts) with a later created time, each row at most once
            tie = rng.choice(n, n // 10, replace=False)
            src_rows = (tie + 1) % n
            cols[key][tie] = cols[key][src_rows]
            cols["event_ts"][tie] = cols["event_ts"][src_rows]
            cols["created_ts"][tie] = cols["created_ts"][src_rows] + 1_000_000
        for c in ("event_ts", "created_ts"):
            if c in cols:
                cols[c] = pa.array(cols[c], pa.timestamp("us", tz=tz))
        for f, t in spec["features"].items():
            cols[f] = rng.normal(100, 30, n) if t == "double" else rng.integers(0, 1000, n, dtype=np.int64)
        table = pa.table(cols)
        con.register("src", table)
        con.execute(f"create or replace table raw_{name} as select * from src")
        con.unregister("src")
        del table, cols
    con.close()


def write_spine(path: Path, rows: int, seed: int, customers: int, merchants: int, days: int = 370,
                tz: str | None = None) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed + 1)
    t0 = np.datetime64(START, "us").astype(np.int64)
    chunk = 2_000_000
    writer = None
    for lo in range(0, rows, chunk):
        n = min(chunk, rows - lo)
        table = pa.table({
            "label_id": np.arange(lo, lo + n, dtype=np.int64),
            "customer_id": rng.integers(0, customers, n, dtype=np.int64),
            "merchant_id": rng.integers(0, merchants, n, dtype=np.int64),
            # the last `days` days of the data (370: from a few days before all data)
            "event_ts": pa.array(t0 + rng.integers((365 - days) * DAY_US, 365 * DAY_US, n), pa.timestamp("us", tz=tz)),
            "is_fraud": rng.integers(0, 2, n, dtype=np.int8),
        })
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


PIT_VIEWS = {
    "customer_spend": {"entity": "customer", "keys": 200_000, "created": True, "ttl": "30d",
                       "features": {"spend_avg": "double", "txn_count": "bigint"}},
    "merchant_risk": {"entity": "merchant", "keys": 20_000, "ttl": "90d",
                      "features": {"chargeback_rate": "double"}},
    "customer_profile": {"entity": "customer", "keys": 200_000,
                         "features": {"account_age_days": "bigint", "risk_score": "double"}},
}
PIT_FEATURES = ["customer_spend:*", "merchant_risk:*", "customer_profile:*"]
FEATURE_COLS = ["spend_avg", "txn_count", "chargeback_rate", "account_age_days", "risk_score"]


# ---- the measured steps (each runs in a child process) ------------------------------

def _duckdb(root: Path, memory_limit: str | None = None):
    import duckdb

    con = duckdb.connect(str(root / "wh.duckdb"))
    con.execute("set threads = 2")
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    return con


def _spine_sql(spine: str) -> str:
    return f"select *, file_row_number as rid from read_parquet('{spine}', file_row_number=true)"


# The three views every hand-written formulation joins: (name, key, features, TTL days, has created_ts)
HAND_VIEWS = (
    ("customer_spend", "customer_id", ["spend_avg", "txn_count"], 30, True),
    ("merchant_risk", "merchant_id", ["chargeback_rate"], 90, False),
    ("customer_profile", "customer_id", ["account_age_days", "risk_score"], None, False),
)


def _hand_query(spine_cte: str, view_cte, exclude: str = "rid") -> str:
    """One hand-written training-set query: the spine CTE ``s``, one ``<view>_hit`` CTE per view (one row
    per spine ``rid``) from ``view_cte(name, key, features, ttl_days, created)``, joined back on rid."""
    ctes = [f"s as ({spine_cte})", *(view_cte(*v) for v in HAND_VIEWS)]
    return (
        "with " + ",\n".join(ctes) +
        f"\nselect s.* exclude ({exclude}), a.spend_avg, a.txn_count, b.chargeback_rate, c.account_age_days, "
        "c.risk_score from s left join customer_spend_hit a using (rid) left join merchant_risk_hit b using (rid) "
        "left join customer_profile_hit c using (rid)"
    )


def hand_range_sql(spine: str) -> str:
    def view(name, key, feats, ttl_days, created):
        ttl = f" and f.event_ts >= s.event_ts - interval {ttl_days} day" if ttl_days else ""
        order = "f.event_ts desc, f.created_ts desc" if created else "f.event_ts desc"
        cols = ", ".join(f"f.{c}" for c in feats)
        return (f"{name}_hit as (select s.rid, {cols} from s join raw_{name} f on f.{key} = s.{key} "
                f"and f.event_ts <= s.event_ts{ttl} qualify row_number() over (partition by s.rid order by {order}) = 1)")
    return _hand_query(_spine_sql(spine), view)


def hand_asof_sql(spine: str) -> str:
    def view(name, key, feats, ttl_days, created):
        latest = (f"(select * from raw_{name} qualify row_number() over "
                  f"(partition by {key}, event_ts order by created_ts desc) = 1)") if created else f"raw_{name}"
        keep = f"f.event_ts >= s.event_ts - interval {ttl_days} day" if ttl_days else "true"
        cols = ", ".join(f"case when {keep} then f.{c} end as {c}" for c in feats)
        return (f"{name}_hit as (select s.rid, {cols} from s asof left join {latest} f "
                f"on s.{key} = f.{key} and s.event_ts >= f.event_ts)")
    return _hand_query(_spine_sql(spine), view)


def hand_asof_hugeint_sql(spine: str) -> str:
    """ASOF on the key and (ts, created) packed in one HUGEINT (NULL created lowest), no dedupe."""
    def key(ts: str, created: str | None) -> str:
        low = f"coalesce(epoch_us({created})::hugeint + 9223372036854775809, 0)" if created else "0"
        return f"(epoch_us({ts})::hugeint * 18446744073709551616 + {low})"

    def view(name, k, feats, ttl_days, created):
        keep = f"f.event_ts >= s.event_ts - interval {ttl_days} day" if ttl_days else "true"
        cols = ", ".join(f"case when {keep} then f.{c} end as {c}" for c in feats)
        rows = f"(select *, {key('event_ts', 'created_ts' if created else None)} as fw_k from raw_{name})"
        return (f"{name}_hit as (select s.rid, {cols} from s asof left join {rows} f "
                f"on s.{k} = f.{k} and s.fw_k >= f.fw_k)")
    spine_cte = (f"select *, (epoch_us(event_ts)::hugeint + 1) * 18446744073709551616 - 1 as fw_k "
                 f"from ({_spine_sql(spine)})")
    return _hand_query(spine_cte, view, exclude="rid, fw_k")


HAND_WRITTEN = {"range": hand_range_sql, "asof": hand_asof_sql, "asof_hugeint": hand_asof_hugeint_sql}


def step(kind: str, args: dict) -> dict:
    """One measured step, in this (child) process."""
    root = Path(args["root"])
    started = time.perf_counter()
    info: dict = {}
    if kind == "fwctl":
        from featurewarehouse.store import FeatureStore

        from featurewarehouse.offline.retrieval import spine_size_class
        from featurewarehouse.offline.spine import classify

        store = FeatureStore(root, target=args.get("target"))
        # the size class retrieval passes (a SQL spine counted), so the timed call renders nothing
        bound = spine_size_class(store.config, classify(args["spine"]))
        rendered = store._rendered(args["features"], False, bound)  # registry + one dbt compile, timed apart
        info["render_seconds"] = time.perf_counter() - started
        res = store.get_historical_features(args["spine"], args["features"], timestamp_column="event_ts",
                                            output=args.get("output"))
        info["rows"] = res.num_rows
        info["sql_chars"] = sum(len(q) for q in rendered)
        info["queries"] = len(rendered)
    elif kind in HAND_WRITTEN:
        sql = HAND_WRITTEN[kind](args["spine"])
        con = _duckdb(root, args["memory_limit"])
        con.execute(f"create or replace table {args['output']} as {sql}")
        info["rows"] = con.execute(f"select count(*) from {args['output']}").fetchone()[0]
        con.close()
    info["seconds"] = time.perf_counter() - started
    info["sql_seconds"] = info["seconds"] - info.get("render_seconds", 0.0)
    return info


def run_child(kind: str, args: dict) -> dict:
    """Run ``step`` in a fresh process; add its peak RSS."""
    err_path = Path(tempfile.mkstemp(prefix="fw_bench_err_")[1])
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "_step", kind, json.dumps(args)], stdout=subprocess.PIPE, stderr=err,
            text=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")},
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        lines = [ln for ln in err_path.read_text().splitlines() if ln.strip()]
        err_path.unlink()
        reason = next((ln for ln in lines if "Error" in ln), lines[-1] if lines else "?")
        return {"failed": reason[:200], "seconds": float("inf"), "sql_seconds": float("inf"),
                "peak_rss_mib": usage.ru_maxrss / 1024, "rows": 0}
    err_path.unlink()
    info = json.loads(out.strip().splitlines()[-1])
    info["peak_rss_mib"] = usage.ru_maxrss / 1024
    # wall time on a shared machine swings with others' load; the child's CPU time is steadier
    info["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return info


def checksum(root: Path, table: str) -> tuple:
    con = _duckdb(root)
    parts = ", ".join(f"count({c}), round(sum({c})::double, 3)" for c in FEATURE_COLS)
    row = con.execute(f"select count(*), sum(label_id), {parts} from {table}").fetchone()
    con.close()
    return tuple(row)


# ---- scenarios ------------------------------------------------------------------------

def scenario_pit(work: Path, spine_rows: int, view_rows: int, seed: int, repeat: int, memory_limit: str,
                 spine_days: int = 370, kinds: tuple[str, ...] = ("range", "asof", "asof_hugeint", "fwctl"),
                 tz: str | None = None) -> None:
    root = work / ("pit" if tz is None else "pit_tz")
    if not (root / "wh.duckdb").exists():
        print(f"generating 3 views x {view_rows:,} rows ...", flush=True)
        write_project(root, PIT_VIEWS, memory_limit)
        fill_raw(root, PIT_VIEWS, view_rows, seed, tz)
        _build(root)
    else:
        _refresh_macros(root, memory_limit)
    spine = work / f"spine_{spine_rows}_{spine_days}d{'_tz' if tz else ''}.parquet"
    if not spine.exists():
        write_spine(spine, spine_rows, seed, 200_000, 20_000, spine_days, tz)
    args = {"root": str(root), "spine": str(spine), "features": PIT_FEATURES, "memory_limit": memory_limit}
    print(f"\npit: spine {spine_rows:,} rows over {spine_days} days x 3 views x {view_rows:,} rows over 365 days, "
          f"{'UTC-aware' if tz else 'naive'} timestamps, result to a warehouse table; DuckDB memory_limit {memory_limit}")
    results = {}
    for kind in kinds:
        best = None
        for _ in range(repeat):
            info = run_child(kind, {**args, "output": f"out_{kind}"})
            best = info if best is None or info["seconds"] < best["seconds"] else best
        results[kind] = best
        if "failed" in best:
            print(f"  {kind:<10} FAILED after peak RSS {best['peak_rss_mib']:.0f} MiB: {best['failed']}", flush=True)
            continue
        extra = (f"   (dbt render {best['render_seconds']:.2f} s + staging/SQL {best['sql_seconds']:.2f} s)"
                 if "render_seconds" in best else "")
        print(f"  {kind:<12} {best['seconds']:8.2f} s   cpu {best['cpu_seconds']:7.2f} s   "
              f"peak RSS {best['peak_rss_mib']:8.0f} MiB   rows {best['rows']:,}{extra}", flush=True)
    results = {k: v for k, v in results.items() if "failed" not in v}
    if "fwctl" not in results or not set(HAND_WRITTEN) & set(results):
        print("  (no ratio: a formulation failed)")
        return
    sums = {k: checksum(root, f"out_{k}") for k in results}
    same = len(set(sums.values())) == 1
    print(f"  answers identical (count + sums of every feature): {same}")
    if not same:
        for k, v in sums.items():
            print(f"    {k}: {v}")
    fastest = min((k for k in HAND_WRITTEN if k in results), key=lambda k: results[k]["seconds"])
    base = results[fastest]["seconds"]
    cpu_fastest = min((k for k in HAND_WRITTEN if k in results), key=lambda k: results[k]["cpu_seconds"])
    print(f"  ratio fwctl / fastest hand-written ({fastest}): {results['fwctl']['seconds'] / base:.2f}x total, "
          f"{results['fwctl']['sql_seconds'] / base:.2f}x without the dbt render (target <= 1.2x); "
          f"cpu (render included) / least-cpu hand-written ({cpu_fastest}): "
          f"{results['fwctl']['cpu_seconds'] / results[cpu_fastest]['cpu_seconds']:.2f}x")


def scenario_wide(work: Path, seed: int, memory_limit: str, n_views: int = 50, n_feats: int = 20,
                  spine_rows: int = 17_000) -> None:
    root = work / "wide"
    views = {
        f"wide_{i:02d}": {"entity": "customer", "keys": spine_rows, "ttl": "30d" if i % 2 else None,
                          "rows": spine_rows * 10,
                          "features": {f"w{i:02d}_f{j:02d}": "double" for j in range(n_feats)}}
        for i in range(n_views)
    }
    if not (root / "wh.duckdb").exists():
        print(f"generating {n_views} views x {n_feats} features x {spine_rows * 10:,} rows ...", flush=True)
        write_project(root, views, memory_limit)
        fill_raw(root, views, 0, seed)
        _build(root)
    else:
        _refresh_macros(root, memory_limit)
    spine = work / f"wide_spine_{spine_rows}.parquet"
    if not spine.exists():
        write_spine(spine, spine_rows, seed, spine_rows, 1)
    features = [f"{v}:*" for v in views]
    print(f"\nwide: {spine_rows:,} spine rows x {n_views} views x {n_feats} features = {n_views * n_feats:,} features")
    for label, output in (("Arrow result", None), ("to a table", "out_wide")):
        info = run_child("fwctl", {"root": str(root), "spine": str(spine), "features": features, "output": output})
        if "failed" in info:
            print(f"  fwctl ({label}) FAILED after peak RSS {info['peak_rss_mib']:.0f} MiB: {info['failed']}")
            continue
        print(f"  fwctl ({label:<12}) {info['seconds']:7.2f} s   peak RSS {info['peak_rss_mib']:6.0f} MiB   "
              f"rows {info['rows']:,}   (dbt render {info['render_seconds']:.2f} s + staging/SQL "
              f"{info['sql_seconds']:.2f} s; rendered SQL {info['sql_chars'] / 1024:.0f} KiB in {info['queries']} queries)",
              flush=True)


def _refresh_macros(root: Path, memory_limit: str) -> None:
    """Reused data, current macros and settings: the bench always measures the macro as it is now."""
    import yaml

    shutil.rmtree(root / "macros")
    shutil.copytree(REPO / "macros", root / "macros")
    for sql in (root / "models").glob("*.sql"):
        sql.write_text(f"select * from {{{{ target.schema }}}}.raw_{sql.stem}\n")
    path = root / "profiles.yml"
    profiles = yaml.safe_load(path.read_text())
    profiles["featurewarehouse"]["outputs"]["dev"]["settings"] = {"memory_limit": memory_limit}
    profiles["featurewarehouse"]["outputs"]["pg"] = {
        "type": "postgres", "host": os.environ.get("FW_PG_HOST", "127.0.0.1"),
        "port": int(os.environ.get("FW_PG_PORT", "5432")), "user": os.environ.get("FW_PG_USER", "postgres"),
        "password": os.environ.get("FW_PG_PASSWORD", ""), "dbname": os.environ.get("FW_PG_DATABASE", "test"),
        "schema": PG_SCHEMA, "threads": 2,
    }
    path.write_text(yaml.safe_dump(profiles))


PG_SCHEMA = "fw_bench_historical"


def scenario_postgres(work: Path, spine_rows: int, view_rows: int, seed: int, memory_limit: str) -> None:
    """fwctl on PostgreSQL: the same views loaded over COPY, the result to a table. Time and peak RSS."""
    import adbc_driver_postgresql.dbapi as adbc

    root = work / "pit"
    if not (root / "wh.duckdb").exists():
        write_project(root, PIT_VIEWS, memory_limit)
        fill_raw(root, PIT_VIEWS, view_rows, seed)
        _build(root)
    _refresh_macros(root, memory_limit)
    spine = work / f"spine_{spine_rows}_370d.parquet"
    if not spine.exists():
        write_spine(spine, spine_rows, seed, 200_000, 20_000)
    uri = "postgresql://{u}@{h}:{p}/{d}".format(
        u=os.environ.get("FW_PG_USER", "postgres"), h=os.environ.get("FW_PG_HOST", "127.0.0.1"),
        p=os.environ.get("FW_PG_PORT", "5432"), d=os.environ.get("FW_PG_DATABASE", "test"))
    pg = adbc.connect(uri, autocommit=True)
    src = _duckdb(root)
    started = time.perf_counter()
    with pg.cursor() as cur:
        cur.execute(f"drop schema if exists {PG_SCHEMA} cascade")
        cur.execute(f"create schema {PG_SCHEMA}")
        for name in PIT_VIEWS:
            reader = src.sql(f"select * from raw_{name}").to_arrow_reader(500_000)
            cur.adbc_ingest(f"raw_{name}", reader, mode="create", db_schema_name=PG_SCHEMA)
            cur.execute(f"analyze {PG_SCHEMA}.raw_{name}")
    src.close()
    print(f"\npostgres: loaded 3 views x {view_rows:,} rows over COPY in {time.perf_counter() - started:.1f} s")
    subprocess.run([sys.executable, __file__, "_build", str(root), "pg"], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    try:
        info = run_child("fwctl", {"root": str(root), "spine": str(spine), "features": PIT_FEATURES,
                                   "output": f"{PG_SCHEMA}.out_fwctl", "target": "pg"})
        if "failed" in info:
            print(f"  fwctl FAILED after peak RSS {info['peak_rss_mib']:.0f} MiB: {info['failed']}")
        else:
            print(f"  fwctl  spine {spine_rows:,} rows (Parquet over COPY) -> table: {info['seconds']:.2f} s   "
                  f"peak RSS {info['peak_rss_mib']:.0f} MiB   rows {info['rows']:,}   (dbt render "
                  f"{info['render_seconds']:.2f} s + staging/SQL {info['sql_seconds']:.2f} s)", flush=True)
            parts = ", ".join(f"count({c}), sum({c})::float8" for c in FEATURE_COLS)
            with pg.cursor() as cur:
                cur.execute(f"select count(*), sum(label_id)::float8, {parts} from {PG_SCHEMA}.out_fwctl")
                got = cur.fetchone()
            # the reference: the hand-written DuckDB ASOF query on the same spine
            run_child("asof", {"root": str(root), "spine": str(spine), "memory_limit": memory_limit,
                               "output": "out_pg_reference"})
            ref_table = "DuckDB ASOF (hand-written)"
            con = _duckdb(root)
            want = con.execute(f"select count(*), sum(label_id)::double, {parts.replace('float8', 'double')} "
                               "from out_pg_reference").fetchone()
            con.close()
            same = want is not None and all(
                a == b if isinstance(a, int) else abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(got, want))
            print(f"  same answers as {ref_table} (counts and sums of every feature): {same}")
            if not same:
                print(f"    postgres: {got}\n    duckdb:   {want}")
    finally:
        with pg.cursor() as cur:
            cur.execute(f"drop schema if exists {PG_SCHEMA} cascade")
        pg.close()


def _build(root: Path) -> None:
    """dbt build + registry, in a child process (dbt keeps the DuckDB file open in-process)."""
    subprocess.run([sys.executable, __file__, "_build", str(root)], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO / "python")})


def _build_here(root: Path, target: str | None = None) -> None:
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.registry import load_registry

    config = load_config(root, target=target)
    run_dbt(config, ["build"], quiet=True)
    load_registry(config)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        _build_here(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_step":
        print(json.dumps(step(sys.argv[2], json.loads(sys.argv[3]))))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", choices=("pit", "wide", "postgres", "all"), default="all")
    p.add_argument("--spine-rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--view-rows", type=int, default=3_333_334, help="rows per view (default: 10M over 3 views)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=1, help="runs per formulation (the best is reported)")
    p.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit for every formulation")
    p.add_argument("--narrow-days", type=int, default=30,
                   help="also run the first spine size over only the last N days (0: skip), to size the pre-filter")
    p.add_argument("--work-dir", type=Path, default=None, help="keep generated data here (default: a tmp dir)")
    p.add_argument("--tz", choices=("naive", "aware", "both"), default="both",
                   help="scenario pit: naive timestamps, UTC-aware ones (as pandas writes Parquet), or both")
    a = p.parse_args()
    for var in ("DBT_TARGET_PATH", "FW_TARGET", "FW_PROFILES_DIR", "FW_DUCKDB_PATH", "FW_PROJECT_DIR"):
        os.environ.pop(var, None)
    work = a.work_dir or Path(tempfile.mkdtemp(prefix="fw_bench_hist_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir: {work}  (cpus: {os.cpu_count()})")
    try:
        if a.scenario in ("pit", "all"):
            for tz in ([None, "UTC"] if a.tz == "both" else [None] if a.tz == "naive" else ["UTC"]):
                for rows in a.spine_rows:
                    scenario_pit(work, rows, a.view_rows, a.seed, a.repeat, a.memory_limit, tz=tz)
                if a.narrow_days:
                    scenario_pit(work, a.spine_rows[0], a.view_rows, a.seed, a.repeat, a.memory_limit,
                                 spine_days=a.narrow_days, tz=tz)
        if a.scenario in ("wide", "all"):
            scenario_wide(work, a.seed, a.memory_limit)
        if a.scenario in ("postgres", "all"):
            scenario_postgres(work, a.spine_rows[0], a.view_rows, a.seed, a.memory_limit)
    finally:
        if a.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
