"""HTTP feature-server latency and throughput, against the in-process client in the same run.

    .venv/bin/python bench/serve_http.py [--requests 10000] [--stores sqlite,redis] [--seconds 5] [--clients 4]
                                         [--rounds 3] [--throughput-only] [--guard-cost]

(env FW_BENCH_LOG_CONVERTER=thread: convert the log in the server's interpreter, as before.)

For each store (SQLite file, Redis at FW_BENCH_REDIS or redis://127.0.0.1:6379/13):

1. fills two online views (10 + 5 features = 15 features, 10,000 customers and merchants);
2. baseline: ``OnlineClient.get_online_features`` in process, p50/p99 over N calls;
3. HTTP: ``fwctl serve``'s app under uvicorn (uvloop + httptools when installed) in its own
   process on loopback; one keep-alive connection sends N requests one after the other
   (1 entity x 15 features, then 100 entities x 15 features): p50/p99 client-side;
4. throughput: C client processes, each with a keep-alive connection, for S seconds;
   with feature logging off and on (the logging cost must stay under 10%): both servers run
   side by side and take turns, --rounds times, so drift on a shared machine hits both; the
   cost is computed from the medians;
5. on SQLite also the read on the event loop vs in the thread pool (the app's default is
   the faster one).

Servers run as `fwctl serve` does, with the server limits (serving/limits.py); ``--guard-cost``
measures only what those cost: throughput against plain uvicorn, rounds alternating.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from servers import free_port, wait_for_health  # noqa: E402

N_ENTITIES = 10_000
CUSTOMER_FEATURES = [f"c_f{i}" for i in range(10)]
MERCHANT_FEATURES = [f"m_f{i}" for i in range(5)]
FEATURES = [f"bench_customer:{f}" for f in CUSTOMER_FEATURES] + [f"bench_merchant:{f}" for f in MERCHANT_FEATURES]


# ---- store setup --------------------------------------------------------------------
def fill(url: str) -> None:
    import pyarrow as pa

    from featurewarehouse.online.base import ViewLayout, ViewState, open_store
    from featurewarehouse.online.keys import micros

    now = micros(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    rng = random.Random(1)
    store = open_store(url)
    for view, key, feats in (("bench_customer", "customer_id", CUSTOMER_FEATURES),
                             ("bench_merchant", "merchant_id", MERCHANT_FEATURES)):
        kinds = ["int" if i % 3 == 0 else "float" for i in range(len(feats))]
        layout = ViewLayout(view, (key,), ("int",), tuple(feats), tuple(kinds), ttl_seconds=30 * 86400)
        data = {key: list(range(N_ENTITIES)), "__ts": [now - rng.randint(0, 86_400_000_000) for _ in range(N_ENTITIES)],
                "__cts": [0] * N_ENTITIES}
        for f, k in zip(feats, kinds):
            data[f] = [rng.randint(0, 1000) if k == "int" else rng.random() * 100 for _ in range(N_ENTITIES)]
        types = [(key, pa.int64()), ("__ts", pa.int64()), ("__cts", pa.int64())]
        types += [(f, pa.int64() if k == "int" else pa.float64()) for f, k in zip(feats, kinds)]
        store.begin_view(layout, full_refresh=True)
        store.write_batch(layout, pa.record_batch(data, schema=pa.schema(types)))
        store.commit_view(ViewState(layout, "bench", None, dt.datetime.now().isoformat()))
    store.close()


def drop(url: str) -> None:
    if url.startswith("redis"):
        from featurewarehouse.online.base import open_store

        store = open_store(url)
        store.drop_all()
        store.close()


def body(n: int, rng: random.Random) -> bytes:
    return json.dumps({
        "features": FEATURES,
        "entities": {"customer_id": [rng.randrange(N_ENTITIES) for _ in range(n)],
                     "merchant_id": [rng.randrange(N_ENTITIES) for _ in range(n)]},
    }).encode()


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# ---- measurements -----------------------------------------------------------------
def in_process(url: str, n_entities: int, requests: int) -> list[float]:
    from featurewarehouse.online.base import open_store
    from featurewarehouse.serving.client import OnlineClient

    client = OnlineClient(open_store(url))
    rng = random.Random(2)
    bodies = [json.loads(body(n_entities, rng)) for _ in range(200)]
    for b in bodies[:50]:
        client.get_online_features(b["features"], b["entities"])
    out = []
    for i in range(requests):
        b = bodies[i % len(bodies)]
        t = time.perf_counter()
        client.get_online_features(b["features"], b["entities"])
        out.append(time.perf_counter() - t)
    client.close()
    return out


def over_http(port: int, n_entities: int, requests: int) -> list[float]:
    rng = random.Random(3)
    bodies = [body(n_entities, rng) for _ in range(200)]
    con = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"content-type": "application/json"}
    for b in bodies[:50]:
        con.request("POST", "/get-online-features", b, headers)
        r = con.getresponse()
        r.read()
        assert r.status == 200, r.status
    out = []
    for i in range(requests):
        t = time.perf_counter()
        con.request("POST", "/get-online-features", bodies[i % len(bodies)], headers)
        r = con.getresponse()
        r.read()
        out.append(time.perf_counter() - t)
    con.close()
    return out


def _load_worker(port: int, seconds: float, n_entities: int, headers: dict, seed: int, q) -> None:
    rng = random.Random(seed)
    bodies = [body(n_entities, rng) for _ in range(100)]
    con = http.client.HTTPConnection("127.0.0.1", port)
    done = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        con.request("POST", "/get-online-features", bodies[done % 100], headers)
        r = con.getresponse()
        r.read()
        assert r.status == 200, (r.status, r.read())
        done += 1
    q.put(done)


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of a process and of its children (the log writer), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(p: int | str) -> list[str]:
        with open(f"/proc/{p}/stat") as f:
            return f.read().rpartition(")")[2].split()

    own = stat(pid)
    kids = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                st = stat(entry)
            except OSError:
                continue
            if st[1] == str(pid):  # ppid
                kids += int(st[11]) + int(st[12])
    return (int(own[11]) + int(own[12])) / tick, kids / tick


def throughput(port: int, clients: int, seconds: float, n_entities: int = 1, headers: dict | None = None) -> float:
    """Requests per second of ``clients`` processes, each on one keep-alive connection, for ``seconds``."""
    headers = headers or {"content-type": "application/json"}
    q = mp.Queue()
    procs = [mp.Process(target=_load_worker, args=(port, seconds, n_entities, headers, i, q)) for i in range(clients)]
    for p in procs:
        p.start()
    total = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


# ---- server process -----------------------------------------------------------------
def serve(url: str, port: int, log_to: str | None, threadpool: bool, guarded: bool = True) -> None:
    import uvicorn

    from featurewarehouse.serving import limits

    from featurewarehouse.online.base import open_store
    from featurewarehouse.serving.client import OnlineClient
    from featurewarehouse.serving.http import create_app, tune_gc_for_serving
    from featurewarehouse.serving.logging import FeatureLogSink

    converter = os.environ.get("FW_BENCH_LOG_CONVERTER", "process")  # what `fwctl serve` uses
    sink = FeatureLogSink(log_to, converter=converter) if log_to else None
    app = create_app(OnlineClient(open_store(url)), log_sink=sink, threadpool=threadpool, token="")
    tune_gc_for_serving()  # as `fwctl serve` does
    if guarded:  # what `fwctl serve` runs: uvicorn with the server limits (serving/limits.py)
        limits.run(app, host="127.0.0.1", port=port, limits=limits.ServerLimits())
    else:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Server:
    def __init__(self, url: str, *, log_to: str | None = None, threadpool: bool = False, guarded: bool = True):
        self.port = free_port()
        args = [sys.executable, __file__, "--serve", url, "--port", str(self.port)]
        if log_to:
            args += ["--log-to", log_to]
        if threadpool:
            args.append("--threadpool")
        if not guarded:
            args.append("--unguarded")
        self.proc = subprocess.Popen(args)
        wait_for_health(self.proc, self.port, timeout=30)

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: uvicorn shuts down, the log sink flushes
        self.proc.wait(30)


def guard_cost(a: argparse.Namespace) -> None:
    """Throughput of `fwctl serve`'s guarded protocol against plain uvicorn, alternating rounds."""
    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_guard_"))
    try:
        url = f"sqlite:///{tmp / 'online.db'}"
        fill(url)
        guarded, plain = Server(url), Server(url, guarded=False)
        rps_guarded, rps_plain = [], []
        try:
            for i in range(a.rounds):  # alternate which goes first: drift on a shared machine hits both
                order = ((plain, rps_plain), (guarded, rps_guarded))
                for srv, out in order if i % 2 == 0 else reversed(order):
                    out.append(throughput(srv.port, a.clients, a.seconds))
        finally:
            guarded.stop()
            plain.stop()
        paired = statistics.median(g / p for g, p in zip(rps_guarded, rps_plain))
        print(f"throughput 1 entity x 15, {a.clients} clients x {a.seconds:.0f}s x {a.rounds} rounds: "
              f"plain uvicorn {statistics.median(rps_plain):,.0f} req/s, with the server limits "
              f"{statistics.median(rps_guarded):,.0f} req/s (guarded/plain: median of the rounds' ratios {paired:.3f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--stores", default="sqlite,redis")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3, help="off/on throughput rounds (alternating)")
    ap.add_argument("--throughput-only", action="store_true", help="skip the latency cases")
    ap.add_argument("--serve")
    ap.add_argument("--port", type=int)
    ap.add_argument("--log-to")
    ap.add_argument("--threadpool", action="store_true")
    ap.add_argument("--unguarded", action="store_true", help="(server) plain uvicorn, without the server limits")
    ap.add_argument("--guard-cost", action="store_true",
                    help="only: throughput with the server limits (timeouts, caps) against plain uvicorn, SQLite")
    a = ap.parse_args()
    if a.serve:
        serve(a.serve, a.port, a.log_to, a.threadpool, guarded=not a.unguarded)
        return
    if a.guard_cost:
        guard_cost(a)
        return

    import importlib.util

    print(f"uvloop: {bool(importlib.util.find_spec('uvloop'))}  httptools: {bool(importlib.util.find_spec('httptools'))}  "
          f"orjson: {bool(importlib.util.find_spec('orjson'))}  cpus: {os.cpu_count()}")
    print(f"{len(FEATURES)} features, {a.requests} sequential requests per case, "
          f"throughput: {a.clients} client processes x {a.seconds:.0f}s")
    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_serve_"))
    try:
        for kind in a.stores.split(","):
            if kind == "sqlite":
                url = f"sqlite:///{tmp / 'online.db'}"
            else:
                base = os.environ.get("FW_BENCH_REDIS", "redis://127.0.0.1:6379/13")
                url = f"{base}?prefix=fwbench{uuid.uuid4().hex[:8]}"
            fill(url)
            print(f"\n== {kind} ==")
            try:
                if not a.throughput_only:
                    server = Server(url)
                    try:
                        for n in (1, 100):
                            base_lat = in_process(url, n, a.requests)
                            http_lat = over_http(server.port, n, a.requests)
                            target = 2.5 if n == 1 else 8.0
                            p99 = pct(http_lat, 99) * 1e3
                            print(f"{n:>3} entity x 15: in-process p50 {pct(base_lat, 50)*1e3:.3f} ms p99 {pct(base_lat, 99)*1e3:.3f} ms | "
                                  f"HTTP p50 {pct(http_lat, 50)*1e3:.3f} ms p99 {p99:.3f} ms "
                                  f"(target {target} ms: {'ok' if p99 < target else 'MISSED'}) | "
                                  f"HTTP/in-process p50 x{pct(http_lat, 50) / pct(base_lat, 50):.1f}")
                    finally:
                        server.stop()
                logs = tmp / f"logs_{kind}"
                off, on = Server(url), Server(url, log_to=str(logs))
                rps_off, rps_on = [], []
                cpu = {"off": [0.0, 0.0], "on": [0.0, 0.0]}
                served = {"off": 0.0, "on": 0.0}
                try:
                    for _ in range(a.rounds):
                        for name, srv, out in (("off", off, rps_off), ("on", on, rps_on)):
                            before = cpu_seconds(srv.proc.pid)
                            out.append(throughput(srv.port, a.clients, a.seconds))
                            if name == "on":
                                time.sleep(1.2)  # the writer's last batch of the round: charged to this round
                            after = cpu_seconds(srv.proc.pid)
                            cpu[name][0] += after[0] - before[0]
                            cpu[name][1] += after[1] - before[1]
                            served[name] += out[-1] * a.seconds
                finally:
                    off.stop()
                    on.stop()
                from featurewarehouse.serving.logging import read_log

                logged = read_log(logs).num_rows
                vectors = round(served["on"]) * len(FEATURES)
                med_off, med_on = statistics.median(rps_off), statistics.median(rps_on)
                # each round runs off then on: the median of the per-round ratios is less exposed to
                # drift on a shared machine than the ratio of the medians
                paired = statistics.median(b / a for a, b in zip(rps_off, rps_on))
                print(f"throughput 1 entity: logging off {med_off:,.0f} req/s, on {med_on:,.0f} req/s "
                      f"(cost {100 * (1 - med_on / med_off):.1f}% of the medians, {100 * (1 - paired):.1f}% "
                      f"median of the rounds' ratios; rounds off "
                      f"{', '.join(f'{r:,.0f}' for r in rps_off)} / on {', '.join(f'{r:,.0f}' for r in rps_on)}; "
                      f"{logged:,} log rows written and flushed on shutdown, for about {vectors:,} served cells)")
                us = {k: (1e6 * cpu[k][0] / served[k], 1e6 * cpu[k][1] / served[k]) for k in cpu}
                print(f"server CPU per request: logging off {us['off'][0]:.0f} us, on {us['on'][0]:.0f} us in the server "
                      f"+ {us['on'][1]:.0f} us in the log writer process (server-interpreter cost "
                      f"{100 * (us['on'][0] / us['off'][0] - 1):.1f}%, total {100 * (sum(us['on']) / us['off'][0] - 1):.1f}%)")
                if kind == "sqlite" and not a.throughput_only:
                    server = Server(url, threadpool=True)
                    try:
                        pool = over_http(server.port, 1, a.requests // 2)
                    finally:
                        server.stop()
                    server = Server(url)
                    try:
                        loop = over_http(server.port, 1, a.requests // 2)
                    finally:
                        server.stop()
                    print(f"read on the event loop: p50 {pct(loop, 50)*1e3:.3f} ms p99 {pct(loop, 99)*1e3:.3f} ms | "
                          f"in the thread pool: p50 {pct(pool, 50)*1e3:.3f} ms p99 {pct(pool, 99)*1e3:.3f} ms")
            finally:
                drop(url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
