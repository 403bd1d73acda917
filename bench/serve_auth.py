"""Token checks and several workers in `fwctl serve`: throughput ratios, measured in the same run.

    .venv/bin/python bench/serve_auth.py [--seconds 3] [--clients 4] [--rounds 3] [--only tokens|workers]

Both cases run real `fwctl serve` processes on loopback against one SQLite online store
(bench/serve_http.py's two views, 10 + 5 features, 10,000 entities), 1 entity x 15 features
per request, C client processes with a keep-alive connection each, for S seconds:

1. tokens: a server with a token file (3 tokens; the one used is scoped to both views) against
   one without tokens. Target: on/off throughput >= 0.95.
2. workers: `--workers 2` against `--workers 1` (report the ratio; on a 2-core machine the
   clients compete with the servers for the cores).

The two servers of a case run side by side and take turns, --rounds times, alternating which
goes first, so drift on a shared machine hits both; ratios are medians of the rounds' ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from serve_http import fill, throughput  # noqa: E402  (the same store and requests as the latency benchmark)
from servers import free_port, wait_for_health  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-token-secret-000001"


class Fwctl:
    """`fwctl serve` on a free port, until stop()."""

    def __init__(self, project: Path, store: str, *args: str):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FW_")}
        self.proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "fwctl"), "serve", "--project-dir", str(project),
                                      "--store", store, "--port", str(self.port), *args], env=env)
        wait_for_health(self.proc, self.port)
        time.sleep(1.0)  # every worker listening

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def compare(name: str, a: tuple[str, Fwctl, dict], b: tuple[str, Fwctl, dict], args: argparse.Namespace) -> None:
    """Throughput of a over b, rounds alternating."""
    rates: dict[str, list[float]] = {a[0]: [], b[0]: []}
    try:
        for i in range(args.rounds):
            for label, srv, headers in (a, b) if i % 2 == 0 else (b, a):
                rates[label].append(throughput(srv.port, args.clients, args.seconds, headers=headers))
    finally:
        a[1].stop()
        b[1].stop()
    ratio = statistics.median(x / y for x, y in zip(rates[a[0]], rates[b[0]]))
    print(f"{name}: 1 entity x 15 features, {args.clients} clients x {args.seconds:g}s x {args.rounds} rounds: "
          f"{a[0]} {statistics.median(rates[a[0]]):,.0f} req/s, {b[0]} {statistics.median(rates[b[0]]):,.0f} req/s "
          f"({a[0]}/{b[0]}: median of the rounds' ratios {ratio:.3f})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", choices=["tokens", "workers"])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_auth_"))
    try:
        store = f"sqlite:///{tmp / 'online.db'}"
        fill(store)
        project = tmp / "project"
        project.mkdir()
        (project / "dbt_project.yml").write_text((REPO / "dbt_project.yml").read_text())
        if args.only in (None, "tokens"):
            tokens = tmp / "tokens.yml"
            tokens.write_text(json.dumps({"tokens": [
                {"name": "other", "token": "other-secret-0000000001", "views": ["x"], "scopes": ["read"]},
                {"name": "bench", "token": SECRET, "views": ["bench_customer", "bench_merchant"], "scopes": ["read"]},
                {"name": "svc", "token": "svc-secret-00000000001", "services": ["s"], "scopes": ["read"]},
            ]}))
            compare("tokens", ("on", Fwctl(project, store, "--token-file", str(tokens)),
                               {"content-type": "application/json", "authorization": f"Bearer {SECRET}"}),
                    ("off", Fwctl(project, store), {"content-type": "application/json"}), args)
        if args.only in (None, "workers"):
            compare("workers", ("2 workers", Fwctl(project, store, "--workers", "2"), {"content-type": "application/json"}),
                    ("1 worker", Fwctl(project, store), {"content-type": "application/json"}), args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
