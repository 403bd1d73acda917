"""Registry build time beyond dbt's own parse, and its peak memory.

Generates a project of N feature views x F features (default 1,000 x 20) over a
few staging models, then, in the same run:

1. ``dbt parse`` (full: no partial-parse state), through featurewarehouse.dbt.run_dbt;
2. the registry build from the manifest it wrote: read manifest, parse every
   view's SQL with sqlglot, fingerprint, trace column lineage, validate, write
   target/fw_registry.json (timed without tracing);
3. the same build again under tracemalloc, for its peak Python memory.

Target: registry build < 10% of dbt's parse time.

    .venv/bin/python bench/registry_build.py [--views 1000] [--features 20] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
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
    (root / "profiles").mkdir()
    (root / "dbt_project.yml").write_text(yaml.safe_dump({
        "name": "bench", "version": "0.1.0", "config-version": 2, "profile": "bench",
        "model-paths": ["models"],
        "vars": {"fw": {"entities": {"customer": {"join_keys": [{"name": "customer_id", "dtype": "bigint"}]}}}},
        "models": {"bench": {"+materialized": "table"}},
    }, sort_keys=False))
    (root / "profiles" / "profiles.yml").write_text(yaml.safe_dump({"bench": {"target": "dev", "outputs": {
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

        t0 = time.perf_counter()
        run_dbt(config, ["parse", "--no-partial-parse"], quiet=True)
        dbt_parse = time.perf_counter() - t0
        manifest_mb = config.manifest_path.stat().st_size / 1e6

        result = build_registry(config, dbt_command=None)
        build = result.timings["registry"]
        reg = result.registry
        n_feat = sum(len(v.features) for v in reg.feature_views)
        traced = sum(1 for v in reg.feature_views for f in v.features
                     if reg.column_lineage.get(v.name, {}).get(f.name))

        config.registry_path.unlink()
        tracemalloc.start()
        build_registry(config, dbt_command=None)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        print(f"dbt parse (full)          : {dbt_parse:8.2f} s   (manifest {manifest_mb:.1f} MB)")
        print(f"registry build beyond it  : {build:8.2f} s   ({len(reg.feature_views)} views, {n_feat} features, "
              f"{traced} with lineage, registry {config.registry_path.stat().st_size / 1e6:.1f} MB)")
        print(f"ratio build / dbt parse   : {build / dbt_parse:8.1%}   (target < 10%)")
        print(f"registry build peak memory: {peak / 1e6:8.1f} MB (tracemalloc, Python allocations)")
        if result.warnings:
            print(f"warnings: {len(result.warnings)} (first: {result.warnings[0]})")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
