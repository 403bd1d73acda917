"""Registry build time beyond dbt's own parse, and its peak memory.

Generates a project of N feature views x F features (default 1,000 x 20) over a
few staging models, then, in the same run:

1. cold: ``dbt parse --no-partial-parse`` through featurewarehouse.dbt.run_dbt, then
   the registry build from the manifest it wrote with no cache: read the
   manifest, tokenize/parse every view's SQL with sqlglot, fingerprint, resolve
   columns, trace column lineage, validate, write target/fw_registry.json;
2. the same cold build under tracemalloc, for its peak Python memory;
3. warm: one view's SQL edited, ``dbt parse`` (partial parsing) then the
   registry build with its analysis cache (only changed models re-analysed).

Wall and CPU time are both printed: the machine may be shared, and CPU time
of this one process (dbt runs in-process too) is the steadier comparison.
Target: registry build < 10% of dbt's parse time.

    .venv/bin/python bench/registry_build.py [--views 1000] [--features 20] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

STAGING = 10
WINDOWS = ["interval '1 hour'", "interval '24 hours'", "interval '7 days'", "interval '30 days'"]
AGGS = [("count", "*"), ("sum", "amount"), ("avg", "amount"), ("max", "amount"), ("min", "amount")]


def feature_sql(i: int, n_features: int) -> tuple[str, list[tuple[str, str, str]]]:
    """SQL for view i and its (feature, dtype, description) list."""
    stg = f"stg_events_{i % STAGING}"
    cols, feats = [], []
    for j in range(n_features):
        agg, arg = AGGS[j % len(AGGS)]
        window = WINDOWS[(j // len(AGGS)) % len(WINDOWS)]
        name = f"f{i}_{agg}_{j}"
        expr = f"{agg}({arg if arg == '*' else arg + ' * ' + str(1 + j % 3)})"
        cols.append(
            f"        {expr} over (\n            partition by customer_id order by event_ts\n"
            f"            range between {window} preceding and current row\n        ) as {name}")
        feats.append((name, "bigint" if agg == "count" else "double",
                      f"{agg} of amount over the trailing {window.split(chr(39))[1]} (view {i}, feature {j})"))
    sql = (f"-- generated feature view {i}\nwith events as (\n\n    select customer_id, event_ts, amount\n"
           f"    from {{{{ ref('{stg}') }}}}\n    where amount is not null\n\n),\n\nfinal as (\n\n    select\n"
           f"        customer_id,\n        event_ts,\n" + ",\n".join(cols) + "\n    from events\n\n)\n\nselect * from final\n")
    return sql, feats


def generate(root: Path, views: int, n_features: int) -> None:
    import yaml

    (root / "models" / "staging").mkdir(parents=True)
    (root / "models" / "features").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "bench", "version": "0.1.0", "config-version": 2, "profile": "bench",
        "model-paths": ["models"],
        "vars": {"fw": {"entities": {"customer": {"join_keys": [{"name": "customer_id", "dtype": "bigint"}]}}}},
        "models": {"bench": {"+materialized": "table"}},
    }, sort_keys=False))
    (root / "profiles.yml").write_text(yaml.safe_dump({"bench": {"target": "dev", "outputs": {
        "dev": {"type": "duckdb", "path": str(root / "wh.duckdb")}}}}))
    (root / "models" / "staging" / "_sources.yml").write_text(yaml.safe_dump({"version": 2, "sources": [{
        "name": "raw", "schema": "raw", "tables": [{"name": "events", "columns": [
            {"name": "customer_id", "data_type": "bigint"}, {"name": "event_ts", "data_type": "timestamp"},
            {"name": "amount", "data_type": "double"}, {"name": "kind", "data_type": "varchar"}]}]}]}))
    for s in range(STAGING):
        (root / "models" / "staging" / f"stg_events_{s}.sql").write_text(
            "select customer_id, cast(event_ts as timestamp) as event_ts, amount\n"
            f"from {{{{ source('raw', 'events') }}}}\nwhere kind = 'k{s}'\n")
    for i in range(views):
        sql, feats = feature_sql(i, n_features)
        name = f"feature_view_{i:04d}"
        (root / "models" / "features" / f"{name}.sql").write_text(sql)
        (root / "models" / "features" / f"{name}.yml").write_text(yaml.safe_dump({"version": 2, "models": [{
            "name": name, "description": f"Generated feature view {i}.",
            "config": {"meta": {"fw": {"kind": "feature_view", "entity": "customer", "timestamp": "event_ts",
                                       "ttl": "30d", "online": i % 2 == 0, "owner": f"team-{i % 7}",
                                       "tags": ["bench", f"group-{i % 13}"]}}},
            "columns": [{"name": "customer_id", "data_type": "bigint"},
                        {"name": "event_ts", "data_type": "timestamp"}] + [
                {"name": f, "description": d, "data_type": t,
                 "config": {"meta": {"fw": {"feature": True, "checks": {"not_null": True, "min": 0}}}}}
                for f, t, d in feats],
        }]}, sort_keys=False))


_RSS_PROBE = """
import sys
from pathlib import Path
import sqlglot.dialects.duckdb  # noqa: F401  (imports are not the build's memory)
from featurewarehouse.config import load_config
from featurewarehouse.registry.builder import build_registry

def hwm():  # this process's peak RSS in kB (ru_maxrss would start at the parent's, inherited over fork)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))

config = load_config(Path(sys.argv[1]))
before = hwm()
build_registry(config, dbt_command=None, use_cache=False, write=False)
print((hwm() - before) / 1e3)
"""


def peak_rss_growth(root: Path) -> float:
    """MB by which a cold registry build raises a fresh process's peak RSS (Linux /proc)."""
    out = subprocess.run([sys.executable, "-c", _RSS_PROBE, str(root)], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", type=int, default=1000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    args = parser.parse_args()

    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.registry.builder import build_registry

    root = args.keep or Path(tempfile.mkdtemp(prefix="fw_bench_registry_"))
    if args.keep and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DBT_TARGET_PATH", None)
    try:
        t0 = time.perf_counter()
        generate(root, args.views, args.features)
        print(f"project: {args.views} feature views x {args.features} features in {root} "
              f"(generated in {time.perf_counter() - t0:.1f}s)")
        config = load_config(root)

        # -- cold: dbt parse from scratch, registry build with no cache ---------------------------
        t0, c0 = time.perf_counter(), time.process_time()
        run_dbt(config, ["parse", "--no-partial-parse"], quiet=True)
        dbt_cold, dbt_cold_cpu = time.perf_counter() - t0, time.process_time() - c0
        manifest_mb = config.manifest_path.stat().st_size / 1e6

        c0 = time.process_time()
        result = build_registry(config, dbt_command=None)
        cold, cold_cpu = result.timings["registry"], time.process_time() - c0
        reg = result.registry
        n_feat = sum(len(v.features) for v in reg.feature_views)
        traced = sum(1 for v in reg.feature_views for f in v.features
                     if reg.column_lineage.get(v.name, {}).get(f.name))

        # -- peak memory of a cold build (tracemalloc slows it down: timed separately above) ------
        tracemalloc.start()
        build_registry(config, dbt_command=None, use_cache=False, write=False)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        # -- the same, as the growth of a fresh process's peak RSS (tracemalloc also counts memory that
        #    is reserved and never touched, such as orjson's parse arena) ----------------------------
        rss_growth = peak_rss_growth(root)

        # -- warm: an analyst edits one view; dbt partial parse vs registry rebuild with its cache --
        edited = root / "models" / "features" / "feature_view_0000.sql"
        edited.write_text(edited.read_text().replace("interval '7 days'", "interval '6 days'"))
        t0, c0 = time.perf_counter(), time.process_time()
        run_dbt(config, ["parse"], quiet=True)
        dbt_warm, dbt_warm_cpu = time.perf_counter() - t0, time.process_time() - c0
        c0 = time.process_time()
        warm_result = build_registry(config, dbt_command=None)
        warm, warm_cpu = warm_result.timings["registry"], time.process_time() - c0
        changed = warm_result.registry.changes["views"]["changed"]

        print(f"registry: {len(reg.feature_views)} views, {n_feat} features ({traced} with column lineage), "
              f"file {config.registry_path.stat().st_size / 1e6:.1f} MB; manifest {manifest_mb:.1f} MB")
        print("                               wall        cpu")
        print(f"cold  dbt parse (full)     : {dbt_cold:7.2f} s  {dbt_cold_cpu:7.2f} s")
        print(f"cold  registry build       : {cold:7.2f} s  {cold_cpu:7.2f} s   "
              f"ratio {cold / dbt_cold:6.1%} wall, {cold_cpu / dbt_cold_cpu:6.1%} cpu   (target < 10%)")
        print(f"warm  dbt parse (partial)  : {dbt_warm:7.2f} s  {dbt_warm_cpu:7.2f} s   (one view edited)")
        print(f"warm  registry build       : {warm:7.2f} s  {warm_cpu:7.2f} s   "
              f"ratio {warm / dbt_warm:6.1%} wall, {warm_cpu / dbt_warm_cpu:6.1%} cpu   "
              f"({warm_result.stats['analysed']} analysed, {warm_result.stats['cached']} cached; "
              f"changed: {', '.join(c['name'] for c in changed)})")
        print(f"registry build peak memory : {peak / 1e6:7.1f} MB (tracemalloc, cold build); "
              f"peak RSS growth {rss_growth:.1f} MB (fresh process, sqlglot imported)")
        if result.warnings:
            print(f"warnings: {len(result.warnings)} (first: {result.warnings[0]})")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
