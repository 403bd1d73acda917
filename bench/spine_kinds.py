"""Benchmark: historical retrieval for every spine kind, against the Parquet-path spine, same run.

    .venv/bin/python bench/spine_kinds.py                                  # 10k, 100k, 1M spine rows
    .venv/bin/python bench/spine_kinds.py --spine-rows 10000 --duckdb-defaults   # the cliff, before the fix

Issue 15: a 100k-row pandas spine took 243 s against 25 s for the same spine
as a Parquet path, because DuckDB planned the ASOF joins over a registered
Arrow scan (estimated at ~1 row) as nested loops. This runs the same request
(bench/historical.py's three views, result returned as Arrow) with the spine as

  parquet    a Parquet file path (the baseline)
  pandas     a pandas DataFrame (registered as Arrow)
  arrow      a pyarrow Table
  sql        a SELECT query (read_parquet over the same file)
  relation   a table in the warehouse

in one process per spine size, rounds interleaved (kind order rotates each
round), the best of --rounds counting. The dbt render is done once up front
and reported apart (a fixed cost per feature list, cached by FeatureStore);
every timed call gets the rendered SQL. Prints seconds and the ratio to the
Parquet path (target <= 1.2x), and checks every kind returns the same rows.
``--duckdb-defaults`` runs with DuckDB's own planner thresholds instead of the
ones fwctl sets (offline/warehouse.py PLANNER_SETTINGS), to show the cliff:
keep the spine small then.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import historical as hist  # noqa: E402  (bench/historical.py: its project, data and spine generators)

KINDS = ("parquet", "pandas", "arrow", "sql", "relation")


def child(root: Path, spine_path: Path, rounds: int, duckdb_defaults: bool) -> dict:
    import pyarrow.parquet as pq

    from featurewarehouse.offline import retrieval, warehouse
    from featurewarehouse.store import FeatureStore

    if duckdb_defaults:
        warehouse.PLANNER_SETTINGS.clear()
    from featurewarehouse.offline.spine import ArrowSpine, spine_size_bound

    store = FeatureStore(root)
    table = pq.read_table(spine_path)
    started = time.perf_counter()
    # as FeatureStore renders, once per size class, before the timing: every kind holds the same
    # rows (read off the frame or Parquet, counted for SQL and the relation), so one class
    store._rendered(hist.PIT_FEATURES, False, spine_size_bound(ArrowSpine(table)))
    render = time.perf_counter() - started

    def pit_sql(rows):
        return store._rendered(hist.PIT_FEATURES, False, rows)
    frame = table.to_pandas()
    relation = f"spine_rel_{table.num_rows}"
    with warehouse.connect(store.config) as wh:
        wh.execute(f"create or replace table {relation} as select * from read_parquet('{spine_path}')")
    spines = {"parquet": str(spine_path), "pandas": frame, "arrow": table,
              "sql": f"select * from read_parquet('{spine_path}')", "relation": relation}
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    cpu: dict[str, list[float]] = {k: [] for k in KINDS}
    sums: dict[str, tuple] = {}
    for r in range(rounds):
        order = KINDS[r % len(KINDS):] + KINDS[:r % len(KINDS)]
        for kind in order:
            t0, c0 = time.perf_counter(), time.process_time()
            res = retrieval.get_historical_features(
                store.config, spines[kind], hist.PIT_FEATURES, timestamp_column="event_ts",
                registry=store.registry, pit_sql=pit_sql)
            times[kind].append(time.perf_counter() - t0)
            cpu[kind].append(time.process_time() - c0)  # DuckDB's threads included
            out = res.to_arrow()
            sums[kind] = (out.num_rows, *(out.column(c).null_count for c in hist.FEATURE_COLS),
                          *(round(float(pc_sum(out.column(c))), 3) for c in hist.FEATURE_COLS))
    with warehouse.connect(store.config) as wh:
        wh.execute(f"drop table {relation}")
    return {"render": render, "times": times, "cpu": cpu, "same": len(set(sums.values())) == 1}


def pc_sum(column):
    import pyarrow.compute as pc

    return pc.sum(column).as_py() or 0.0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        print(json.dumps(child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")))
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spine-rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--view-rows", type=int, default=1_000_000, help="rows per feature view")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--memory-limit", default="2GB")
    p.add_argument("--duckdb-defaults", action="store_true", help="DuckDB's own join thresholds (shows the cliff)")
    p.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "fw_bench_spine_kinds")
    a = p.parse_args()
    for var in ("DBT_TARGET_PATH", "FW_TARGET", "FW_PROFILES_DIR", "FW_DUCKDB_PATH", "FW_PROJECT_DIR"):
        os.environ.pop(var, None)
    root = a.work_dir / f"v{a.view_rows}" / "pit"
    if not (root / "wh.duckdb").exists():
        print(f"generating 3 views x {a.view_rows:,} rows ...", flush=True)
        hist.write_project(root, hist.PIT_VIEWS, a.memory_limit)
        hist.fill_raw(root, hist.PIT_VIEWS, a.view_rows, a.seed)
        hist._build(root)
    else:
        hist._refresh_macros(root, a.memory_limit)
    print(f"3 views x {a.view_rows:,} rows, result as Arrow, best of {a.rounds} interleaved rounds, "
          f"planner thresholds: {'DuckDB defaults' if a.duckdb_defaults else 'fwctl (PLANNER_SETTINGS)'}")
    print(f"{'spine rows':>10}  " + "".join(f"{k:>16}" for k in KINDS) + "   render (once)  same rows")
    for rows in a.spine_rows:
        spine = a.work_dir / f"spine_{rows}.parquet"
        if not spine.exists():
            hist.write_spine(spine, rows, a.seed, 200_000, 20_000)
        proc = subprocess.run(
            [sys.executable, __file__, "_child", str(root), str(spine), str(a.rounds), "1" if a.duckdb_defaults else "0"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(hist.REPO / "python")})
        if proc.returncode != 0:
            print(f"{rows:>10,}  failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        best = {k: min(v) for k, v in r["times"].items()}
        base = best["parquet"]
        cells = "".join(f"{best[k]:>8.2f}s {best[k] / base:>5.2f}x" for k in KINDS)
        print(f"{rows:>10,}  {cells}   {r['render']:>10.2f}s   {r['same']}", flush=True)
        # wall time swings with a shared machine's load; CPU time (this process, DuckDB's threads included) less
        cpu = {k: min(v) for k, v in r["cpu"].items()}
        cells = "".join(f"{cpu[k]:>8.2f}c {cpu[k] / cpu['parquet']:>5.2f}x" for k in KINDS)
        print(f"{'(cpu s)':>10}  {cells}", flush=True)


if __name__ == "__main__":
    main()
