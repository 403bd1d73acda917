"""Benchmark the demo generator: time and peak RSS, against an I/O floor in the same run.

    .venv/bin/python bench/demo_generate.py --rows 10000000

The baseline writes the same number of transaction rows of plain uniform random
columns (same schema, same compression) to Parquet: the cost of the bytes alone.
Each measurement runs in a fresh child process so its peak RSS is its own.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, resource, sys, time
mode, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = time.perf_counter()
if mode == "generate":
    from featurewarehouse.demo.generate import DemoSpec, generate
    counts = generate(DemoSpec(rows=rows, seed=42), out, force=True).row_counts
else:
    import numpy as np, pyarrow as pa, pyarrow.parquet as pq
    rng = np.random.default_rng(0)
    chunk = 500_000
    schema = None
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        t0 = np.int64(1_735_689_600) * 1_000_000
        table = pa.table({
            "transaction_id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "customer_id": pa.array(rng.integers(0, rows // 40, n)),
            "merchant_id": pa.array(rng.integers(0, rows // 200, n)),
            "amount": pa.array(rng.random(n) * 100),
            "currency": pa.array(np.array(["USD", "EUR"])[rng.integers(0, 2, n)]),
            "country": pa.array(np.array(["US", "DE"])[rng.integers(0, 2, n)]),
            "channel": pa.array(np.array(["chip", "online"])[rng.integers(0, 2, n)]),
            "event_ts": pa.array(t0 + rng.integers(0, 180 * 86400, n) * 1_000_000, type=pa.timestamp("us")),
            "ingested_at": pa.array(t0 + rng.integers(0, 180 * 86400, n) * 1_000_000, type=pa.timestamp("us")),
        })
        writer = writer or pq.ParquetWriter(out + "/transactions.parquet", table.schema, compression="zstd")
        writer.write_table(table)
    writer.close()
    counts = {"transactions": rows}
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "counts": counts}))
"""


def measure(mode: str, rows: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="fw_bench_demo_") as out:
        proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(rows), out],
                              check=True, capture_output=True, text=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        du = subprocess.run(["du", "-sm", out], capture_output=True, text=True).stdout.split()[0]
        result["disk_mib"] = int(du)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    started = time.perf_counter()
    gen = measure("generate", args.rows)
    base = measure("baseline", args.rows)
    print(f"rows={args.rows:,}")
    print(f"generator: {gen['seconds']:.1f}s  peak RSS {gen['peak_rss_mib']:.0f} MiB  "
          f"on disk {gen['disk_mib']} MiB  {gen['counts']}")
    print(f"baseline (random columns, same schema, Parquet only): {base['seconds']:.1f}s  "
          f"peak RSS {base['peak_rss_mib']:.0f} MiB")
    print(f"ratio generator/baseline: time {gen['seconds'] / base['seconds']:.2f}x, "
          f"peak RSS {gen['peak_rss_mib'] / base['peak_rss_mib']:.2f}x  (total {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
