"""Benchmark: `fwctl monitor`'s work per feature view vs one hand-written profiling query per view.

Runs against a demo project that is already built (``fwctl demo --rows N`` in
it first; the figure depends on N), on its DuckDB warehouse, warm (each side
run once before timing):

- baseline: per feature view, ONE hand-written query grouped by day computing,
  per feature, count, non-null count, min, max, mean, stddev, 5/50/95%
  quantiles and approximate distinct count (categorical features: non-null
  and distinct counts);
- monitor: featurewarehouse.monitoring.run.monitor_view with its default
  baseline (the previous day): newest day, the baseline's bin edges, the
  baseline's profile, the view's daily profile with bin counts, freshness.

Prints each side's seconds and the ratio (target: within 1.5x).

    cd /tmp/demo && fwctl demo --rows 1000000
    .venv/bin/python bench/monitor.py --project-dir /tmp/demo
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from featurewarehouse.config import load_config
from featurewarehouse.dbt import read_manifest
from featurewarehouse.monitoring.run import monitor_view
from featurewarehouse.monitoring.spec import view_monitors
from featurewarehouse.offline.spine import quote
from featurewarehouse.offline.warehouse import warehouse


def hand_written(view) -> str:
    items = ["count(*)"]
    for f in view.features:
        c = quote(f.name)
        items += [f"count({c})", f"approx_count_distinct({c})"]
        if f.kind == "numeric":
            v = f"cast({c} as double)"
            items += [f"min({v})", f"max({v})", f"avg({v})", f"stddev_samp({v})"]
            items += [f"quantile_cont({v}, {q})" for q in (0.05, 0.5, 0.95)]
    ts = quote(view.timestamp)
    return f"select date_trunc('day', {ts}), {', '.join(items)} from {view.relation} group by 1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = load_config(args.project_dir)
    manifest = read_manifest(config)
    views = [v for v in view_monitors(manifest).values() if v.features]
    with warehouse(config, read_only=True) as wh:
        if wh.dialect != "duckdb":
            raise SystemExit("bench/monitor.py measures the DuckDB target")
        rows = {v.name: wh.fetch_arrow(f"select count(*) as n from {v.relation}").column("n")[0].as_py() for v in views}
        if not any(rows.values()):
            raise SystemExit("the feature views are empty: build the demo first")
        views = [v for v in views if rows[v.name]]

        def baseline() -> None:
            for v in views:
                wh.fetch_arrow(hand_written(v))

        def monitored() -> None:
            for v in views:
                monitor_view(wh, manifest, v)

        timings = {}
        for name, fn in (("hand-written", baseline), ("monitor", monitored)):
            fn()  # warm
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            timings[name] = best
    print(f"views: {', '.join(f'{v.name} ({rows[v.name]:,} rows)' for v in views)}")
    for name, secs in timings.items():
        print(f"{name:>13}: {secs:.3f}s (best of {args.repeat})")
    print(f"monitor / hand-written: {timings['monitor'] / timings['hand-written']:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
