"""Benchmark: `fwctl monitor`'s work per feature view vs one hand-written profiling query per view.

Runs against a demo project that is already built (``fwctl demo --rows N`` in
it first; the figure depends on N), on its DuckDB warehouse, warm (each side
run once before timing):

- stats: per feature view, ONE hand-written query grouped by day computing,
  per feature, non-null count, approximate distinct count and (numeric) min,
  max, mean, stddev and 5/50/95% quantiles (one list-valued quantile call, as
  a DuckDB user would write it);
- stats+bins: the same plus the counts per baseline bin (the profile the issue
  asks for: "histogram bins fixed by the baseline"), written by hand as
  cumulative sums over edges pasted as literals (the edges are computed
  before timing, as a hand-writer would have them);
- monitor: featurewarehouse.monitoring.run.monitor_view with its default
  baseline (the previous day): newest day, the baseline's bin edges, the
  baseline's profile, the view's daily profile with bin counts, freshness.

Rounds interleave the three sides; prints each side's median wall and CPU seconds and
the monitor's per-round ratios to both (target: within 1.5x of the hand-written profile).

    .venv/bin/fwctl demo generate --rows 10000000 --end today --force --project-dir examples/fraud
    .venv/bin/fwctl demo --project-dir examples/fraud
    .venv/bin/python bench/monitor.py --project-dir examples/fraud
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from featurewarehouse.config import load_config
from featurewarehouse.dbt import read_manifest
from featurewarehouse.monitoring.run import monitor_view
from featurewarehouse.monitoring.spec import view_monitors
from featurewarehouse.offline.spine import quote
from featurewarehouse.offline.warehouse import warehouse


def hand_written(view, bins: dict[str, tuple] | None = None) -> str:
    items = ["count(*)"]
    for f in view.features:
        c = quote(f.name)
        items += [f"count({c})", f"approx_count_distinct({c})"]
        if f.kind == "numeric":
            v = f"cast({c} as double)"
            items += [f"min({v})", f"max({v})", f"avg({v})", f"stddev_samp({v})",
                      f"quantile_cont({v}, [0.05, 0.5, 0.95])"]
            items += [f"sum(cast({v} >= {e!r} as integer))" for e in (bins or {}).get(f.name, ())]
        else:
            items += [f"count(*) filter (where {c} = '{x}')" for x in (bins or {}).get(f.name, ())]
    ts = quote(view.timestamp)
    return f"select date_trunc('day', {ts}), {', '.join(items)} from {view.relation} group by 1"


def baseline_bins(wh, manifest, view) -> dict[str, tuple]:
    from featurewarehouse.monitoring import profile, run, sql

    cur = run.resolve_source(manifest, view, "view")
    base = run.resolve_baseline(manifest, view, "previous", cur, run._newest_day(wh, cur))
    return profile.compute_bins(wh, sql.flavor(wh), base, {f.name: f.kind for f in view.features})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
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

        bins = {v.name: baseline_bins(wh, manifest, v) for v in views}

        def stats() -> None:
            for v in views:
                wh.fetch_arrow(hand_written(v))

        def stats_and_bins() -> None:
            for v in views:
                wh.fetch_arrow(hand_written(v, bins[v.name]))

        def monitored() -> None:
            for v in views:
                monitor_view(wh, manifest, v)

        sides = (("stats", stats), ("stats+bins", stats_and_bins), ("monitor", monitored))
        for _, fn in sides:
            fn()  # warm
        # rounds interleave the sides, so a change in the machine's load hits all of them alike;
        # CPU time (every DuckDB thread of this process) moves less with load than wall time
        wall: dict[str, list[float]] = {name: [] for name, _ in sides}
        cpu: dict[str, list[float]] = {name: [] for name, _ in sides}
        for _ in range(args.repeat):
            for name, fn in sides:
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(time.process_time() - c0)
    print(f"views: {', '.join(f'{v.name} ({rows[v.name]:,} rows)' for v in views)}")
    for name, _ in sides:
        print(f"{name:>10}: wall {statistics.median(wall[name]):.3f}s, cpu {statistics.median(cpu[name]):.3f}s "
              f"(median of {args.repeat} rounds)")
    for base in ("stats", "stats+bins"):
        w = [m / b for m, b in zip(wall["monitor"], wall[base])]
        c = [m / b for m, b in zip(cpu["monitor"], cpu[base])]
        target = " (the same profile; target <= 1.5x)" if base == "stats+bins" else ""
        print(f"monitor / hand-written {base}: wall {statistics.median(w):.2f}x [{', '.join(f'{x:.2f}' for x in w)}], "
              f"cpu {statistics.median(c):.2f}x [{', '.join(f'{x:.2f}' for x in c)}]{target}")


if __name__ == "__main__":
    main()
