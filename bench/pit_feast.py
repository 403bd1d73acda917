"""Benchmark: the PIT macro against Feast's own DuckDB offline store, same data, same rows.

    .venv/bin/python bench/pit_feast.py                            # 1M spine, 3 views x 1M rows
    .venv/bin/python bench/pit_feast.py --view-rows 10000000       # 10M rows per view
    .venv/bin/python bench/pit_feast.py --view-rows 10000000 --memory-limit 1500MB

Data: bench/pit_join.py's Feast shape (3 views x 5 features keyed on customer,
created timestamps, TTL 30d, 100k customers, 10% of rows repeating another
row's (key, ts) with a later created time), generated with pandas as UTC-aware
timestamps and written to Parquet; the same files are loaded into the DuckDB
file the macro reads (pit_join.py's work directory, shared with it).

  feast   Feast 0.67 `get_historical_features` with `offline_store: type: duckdb`
          over FileSources on those Parquet files (ttl 30d, created_timestamp_column),
          the spine as a pandas DataFrame read from the spine's Parquet (outside the
          timing), the result as Arrow (`to_arrow()`). It runs in Feast's own venv
          (bench/feast_venv.py builds it) in a process of its own: `apply` first, then
          the retrieval twice (cold: the first call of the process, warm: the second).
  macro   featurewarehouse.point_in_time_join compiled by dbt for DuckDB, run with
          `create temp table ... as` in a process of its own (bench/pit_join.py's runner),
          DuckDB's default settings unless --memory-limit caps its memory (most of its peak
          is the buffer pool holding the views' blocks, which a cap evicts).

Each side reports wall and CPU seconds and the process's peak resident memory
(VmHWM / ru_maxrss). Both results are written to Parquet (outside the timing)
and compared row by row on label_id: every feature value must be equal (0
mismatches). Feast breaks ties on (ts, created) only; this data has no two rows
equal on (key, ts, created), so decision 0001's feature tie-break is never
needed and the answers must agree.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


# ---- Feast's side (runs inside Feast's venv: standard library, Feast, pandas, pyarrow) -------------

def feast_side(repo: str, parquet_dir: str, out: str, spec: str) -> None:
    import resource
    from datetime import timedelta

    import pandas as pd
    import pyarrow.parquet as pq
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64, Int64

    views = json.loads(spec)
    repo_path = Path(repo)
    repo_path.mkdir(parents=True, exist_ok=True)
    (repo_path / "feature_store.yaml").write_text(
        f"project: pit_bench\nprovider: local\nregistry: {repo_path / 'registry.db'}\n"
        f"offline_store:\n  type: duckdb\nonline_store:\n  type: sqlite\n  path: {repo_path / 'online.db'}\n"
        "entity_key_serialization_version: 3\n")
    customer = Entity(name="customer", join_keys=["customer_id"])
    fvs = []
    for name, v in views.items():
        source = FileSource(name=f"{name}_source", path=str(Path(parquet_dir) / f"{name}.parquet"),
                            timestamp_field="ts", created_timestamp_column=v["created"])
        fvs.append(FeatureView(
            name=name, entities=[customer], ttl=timedelta(days=v["ttl_days"]), source=source,
            schema=[Field(name=f, dtype=Float64 if t == "double" else Int64) for f, t in zip(v["features"], v["types"])]))
    store = FeatureStore(repo_path=str(repo_path))
    store.apply([customer, *fvs])
    spine = pd.read_parquet(Path(parquet_dir) / "spine.parquet")
    refs = [f"{name}:{f}" for name, v in views.items() for f in v["features"]]
    runs = []
    table = None
    for _ in range(2):  # cold (the process's first retrieval), then warm
        before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        table = store.get_historical_features(entity_df=spine, features=refs).to_arrow()
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        runs.append({"seconds": seconds, "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)})
    pq.write_table(table, out)
    print(json.dumps({"cold": runs[0], "warm": runs[1], "rows": table.num_rows, "peak_rss_mb": vm_hwm_mb()}))


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- our side and the comparison (our venv) -------------------------------------------------------

def run_feast(feast_python: Path, work: Path, parquet_dir: Path, out: Path) -> dict:
    import pit_join as pj

    repo = work / f"feast_repo_{os.getpid()}"
    proc = subprocess.run([str(feast_python), __file__, "_feast", str(repo), str(parquet_dir), str(out),
                           json.dumps(pj.VIEWS)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"Feast's run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_macro(db: Path, sql: str, work: Path, out: Path, threads: int, memory_limit: str | None = None) -> dict:
    import pit_join as pj

    sql_file = work / "macro_vs_feast.sql"
    sql_file.write_text(sql)
    proc = subprocess.run([sys.executable, pj.__file__, "_run", str(db), str(sql_file), str(threads), memory_limit or "",
                           next(iter(pj.VIEWS.values()))["features"][0], str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the macro's run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mismatches(ours: Path, feast: Path) -> tuple[int, int, int]:
    """(spine rows only one side has, rows whose features differ, feature values Feast left NULL that we filled)."""
    import duckdb

    import pit_join as pj

    feats = [f for v in pj.VIEWS.values() for f in v["features"]]
    con = duckdb.connect()
    missing = con.execute(f"""
        select count(*) from read_parquet('{ours}') o full join read_parquet('{feast}') f using (label_id)
        where o.label_id is null or f.label_id is null""").fetchone()[0]
    differ = con.execute(f"""
        select count(*) from read_parquet('{ours}') o join read_parquet('{feast}') f using (label_id)
        where {' or '.join(f'o.{c} is distinct from f.{c}' for c in feats)}""").fetchone()[0]
    filled = con.execute(f"""
        select count(*) from read_parquet('{ours}') o join read_parquet('{feast}') f using (label_id)
        where o.{feats[0]} is not null and f.{feats[0]} is null""").fetchone()[0]
    return missing, differ, filled


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_feast":
        feast_side(*sys.argv[2:6])
        return
    import pit_join as pj
    from feast_venv import FEAST_SPEC, FeastVenvError, feast_python

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spine-rows", type=int, default=1_000_000)
    p.add_argument("--view-rows", type=int, default=1_000_000)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=1, help="rounds, Feast and the macro interleaved; the best counts")
    p.add_argument("--memory-limit", help="DuckDB memory_limit for the macro's run (as a dbt profile's settings: "
                                          "would set it), e.g. 1500MB; Feast's side keeps its defaults")
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/fw_bench_pit"))
    a = p.parse_args()
    try:
        python = feast_python()
    except FeastVenvError as e:
        raise SystemExit(str(e))
    pj.use_shape("feast")
    work = a.work_dir / f"s{a.spine_rows}_v{a.view_rows}_feast_aware"  # pit_join.py --shape feast --tz aware
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.duckdb"
    if not db.exists():
        print(f"generating {a.spine_rows:,} spine rows and 3 x {a.view_rows:,} view rows ...", flush=True)
        pj.generate_feast(db, a.spine_rows, a.view_rows, a.customers, "aware")
    pj.write_project(work / "project")
    sql = pj.compile_macro(work / "project", db)["pit_macro"]
    results: dict[str, list[dict]] = {"feast": [], "macro": []}
    for _ in range(a.repeat):
        results["feast"].append(run_feast(python, work, work / "parquet", work / "feast_result.parquet"))
        print(f"  feast {results['feast'][-1]}", flush=True)
        results["macro"].append(run_macro(db, sql, work, work / "macro_result.parquet", a.threads, a.memory_limit))
        print(f"  macro {results['macro'][-1]}", flush=True)
    missing, differ, filled = mismatches(work / "macro_result.parquet", work / "feast_result.parquet")

    feast_warm = min(results["feast"], key=lambda r: r["warm"]["seconds"])
    feast_cold = min(results["feast"], key=lambda r: r["cold"]["seconds"])
    macro = min(results["macro"], key=lambda r: r["seconds"])
    feast_peak = min(r["peak_rss_mb"] for r in results["feast"])
    print(f"\n{FEAST_SPEC} (DuckDB offline store) vs the macro; spine {a.spine_rows:,} rows, 3 views x "
          f"{a.view_rows:,} rows, tz-aware; best of {a.repeat}")
    print(f"{'':<14}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}{'wall vs macro':>15}")
    rows = [("feast (cold)", feast_cold["cold"]["seconds"], feast_cold["cold"]["cpu_seconds"], feast_peak),
            ("feast (warm)", feast_warm["warm"]["seconds"], feast_warm["warm"]["cpu_seconds"], feast_peak),
            ("macro", macro["seconds"], macro["cpu_seconds"], min(r["peak_rss_mb"] for r in results["macro"]))]
    for name, wall, cpu, peak in rows:
        print(f"{name:<14}{wall:>9.2f}{cpu:>8.1f}{peak:>9.0f}{wall / macro['seconds']:>14.2f}x")
    print(f"rows: macro {macro['rows']:,}, feast {results['feast'][-1]['rows']:,}; spine rows on one side only: "
          f"{missing}; rows with a different feature value: {differ} (of which filled by us, NULL in Feast: {filled})")


if __name__ == "__main__":
    main()
