"""`fwctl serve` against `feast serve` (Feast 0.67), both read with Feast's own SDK as the client.

    .venv/bin/python bench/feast_serve.py [--requests 5000] [--rounds 5]

The same data for both servers, in a SQLite online store each: two views (bench_customer, 10
features; bench_merchant, 5 features; 15 features in all), 10,000 customers and merchants,
generated once and written to Parquet. Feast's side: a Feast repo in a temp dir
(`online_store: sqlite`), `FeatureStore.apply` of the entities and views, the Parquet written with
`write_to_online_store`, then `feast serve` (one worker, worker restarts off, no access log).
Ours: an online store filled with the same rows, then `fwctl serve` (one worker).

The client for both is Feast's SDK (`online_store: type: remote`, `get_online_features`) in one
process in Feast's venv (bench/feast_venv.py builds it; FW_FEAST_VENV overrides): for
1 entity x 15 features and 100 x 15, --rounds rounds, each round sends requests/rounds calls to
one server then the other (the order alternates), so drift on a shared machine hits both.
Prints p50/p99 per server and the ratio ours/Feast (target: our p99 at most 0.5x Feast's).

This file also runs inside Feast's venv (``--feast-setup``, ``--client``): those modes import
only the standard library and Feast.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from feast_venv import FEAST_VERSION  # standard library only: also imported inside Feast's venv

N_ENTITIES = 10_000
VIEWS = (("bench_customer", "customer_id", [f"c_f{i}" for i in range(10)]),
         ("bench_merchant", "merchant_id", [f"m_f{i}" for i in range(5)]))
FEATURES = [f"{view}:{f}" for view, _, feats in VIEWS for f in feats]
REPO = Path(__file__).resolve().parents[1]


def kind(i: int) -> str:
    return "int" if i % 3 == 0 else "float"


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


# ---- our side (our venv) ---------------------------------------------------------------
def write_data(data_dir: Path) -> None:
    """One Parquet file per view (key, event_timestamp, features): what both stores are filled from."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    rng = random.Random(1)
    for view, key, feats in VIEWS:
        cols = {key: pa.array(range(N_ENTITIES), pa.int64()),
                "event_timestamp": pa.array([now - dt.timedelta(seconds=rng.randint(60, 86_400)) for _ in range(N_ENTITIES)],
                                            pa.timestamp("us", tz="UTC"))}
        for i, f in enumerate(feats):
            cols[f] = (pa.array([rng.randint(0, 1000) for _ in range(N_ENTITIES)], pa.int64()) if kind(i) == "int"
                       else pa.array([rng.random() * 100 for _ in range(N_ENTITIES)], pa.float64()))
        pq.write_table(pa.table(cols), data_dir / f"{view}.parquet")


def fill_ours(url: str, data_dir: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurewarehouse.online.base import ViewLayout, ViewState, open_store

    store = open_store(url)
    for view, key, feats in VIEWS:
        table = pq.read_table(data_dir / f"{view}.parquet")
        layout = ViewLayout(view, (key,), ("int",), tuple(feats), tuple(kind(i) for i in range(len(feats))),
                            ttl_seconds=30 * 86400)
        ts = table.column("event_timestamp").cast(pa.int64())  # microseconds since the epoch, what the store keeps
        batch = pa.record_batch([table.column(key).combine_chunks(), ts.combine_chunks(),
                                 pa.array([0] * table.num_rows, pa.int64())]
                                + [table.column(f).combine_chunks() for f in feats],
                                names=[key, "__ts", "__cts", *feats])
        store.begin_view(layout, full_refresh=True)
        store.write_batch(layout, batch)
        store.commit_view(ViewState(layout, "bench", None, dt.datetime.now().isoformat()))
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], port: int, cwd: Path | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FW_")}
    proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # feast serve forks gunicorn workers: stop the whole group
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                stop(proc)
                raise RuntimeError(f"{args[:3]} did not start: {proc.stderr.read()[-3000:]}")
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def remote_repo(path: Path, port: int) -> Path:
    """A Feast client repo whose online store is the server on ``port`` (what docs/feast.md tells users to write)."""
    path.mkdir()
    (path / "feature_store.yaml").write_text(
        f"project: bench\nprovider: local\nregistry: {path / 'registry.db'}\n"
        f"online_store:\n  type: remote\n  path: http://127.0.0.1:{port}\nentity_key_serialization_version: 3\n")
    return path


def run(a: argparse.Namespace) -> None:
    from feast_venv import FeastVenvError, feast_python as build_feast_venv

    try:
        feast_python = build_feast_venv()
    except FeastVenvError as e:
        sys.exit(str(e))
    tmp = Path(tempfile.mkdtemp(prefix="fw_bench_feast_"))
    procs: list[subprocess.Popen] = []
    try:
        data = tmp / "data"
        data.mkdir()
        write_data(data)
        feast_repo = tmp / "feast_repo"
        subprocess.run([str(feast_python), __file__, "--feast-setup", str(feast_repo), str(data)], check=True)
        url = f"sqlite:///{tmp / 'ours.db'}"
        fill_ours(url, data)
        project = tmp / "project"
        project.mkdir()
        (project / "dbt_project.yml").write_text((REPO / "dbt_project.yml").read_text())
        ours_port, feast_port = free_port(), free_port()
        procs.append(start([str(REPO / ".venv" / "bin" / "fwctl"), "serve", "--project-dir", str(project), "--store", url,
                            "--port", str(ours_port)], ours_port))
        procs.append(start([str(feast_python), "-c", "from feast.cli.cli import cli; cli()", "-c", str(feast_repo), "serve",
                            "-h", "127.0.0.1", "-p", str(feast_port), "--no-access-log", "--workers", "1",
                            "--max-requests", "0"], feast_port))
        clients = {"ours": remote_repo(tmp / "client_ours", ours_port), "feast": remote_repo(tmp / "client_feast", feast_port)}
        out = subprocess.run([str(feast_python), __file__, "--client", json.dumps({k: str(v) for k, v in clients.items()}),
                              "--requests", str(a.requests), "--rounds", str(a.rounds)], check=True, capture_output=True,
                             text=True)
        print(f"Feast {FEAST_VERSION} SDK as the client for both; SQLite online stores; {len(FEATURES)} features; "
              f"{a.requests} calls per server and size in {a.rounds} interleaved rounds; cpus: {os.cpu_count()}")
        for line in out.stdout.splitlines():
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            ours, feast = r["ours"], r["feast"]
            ratio50, ratio99 = pct(ours, 50) / pct(feast, 50), pct(ours, 99) / pct(feast, 99)
            print(f"{r['n']:>3} entity x 15: fwctl serve p50 {pct(ours, 50) * 1e3:.3f} ms p99 {pct(ours, 99) * 1e3:.3f} ms | "
                  f"feast serve p50 {pct(feast, 50) * 1e3:.3f} ms p99 {pct(feast, 99) * 1e3:.3f} ms | ours/Feast p50 "
                  f"{ratio50:.2f} p99 {ratio99:.2f} (target p99 <= 0.50: {'ok' if ratio99 <= 0.5 else 'MISSED'})")
    finally:
        for p in procs:
            stop(p)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


# ---- Feast's side (Feast's venv) ---------------------------------------------------------
def feast_setup(repo: Path, data_dir: Path) -> None:
    """A Feast repo with a SQLite online store holding the Parquet rows (apply + write_to_online_store)."""
    from datetime import timedelta

    import pandas as pd
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    repo.mkdir()
    (repo / "feature_store.yaml").write_text(
        f"project: bench\nprovider: local\nregistry: {repo / 'registry.db'}\n"
        f"online_store:\n  type: sqlite\n  path: {repo / 'online.db'}\nentity_key_serialization_version: 3\n")
    store = FeatureStore(repo_path=str(repo))
    objects = []
    for view, key, feats in VIEWS:
        entity = Entity(name=key.removesuffix("_id"), join_keys=[key], value_type=ValueType.INT64)
        source = FileSource(path=str(data_dir / f"{view}.parquet"), timestamp_field="event_timestamp")
        objects += [entity, FeatureView(name=view, entities=[entity], ttl=timedelta(days=30), source=source, online=True,
                                        schema=[Field(name=f, dtype=Int64 if kind(i) == "int" else Float64)
                                                for i, f in enumerate(feats)])]
    store.apply(objects)
    for view, _, _ in VIEWS:
        store.write_to_online_store(view, pd.read_parquet(data_dir / f"{view}.parquet"))


def client(repos: dict[str, str], requests: int, rounds: int) -> None:
    """Feast's SDK against both servers; prints one JSON line per size: {"n", "ours": [s...], "feast": [s...]}."""
    from feast import FeatureStore

    stores = {name: FeatureStore(repo_path=path) for name, path in repos.items()}
    rng = random.Random(3)
    for n in (1, 100):
        rows = [[{"customer_id": rng.randrange(N_ENTITIES), "merchant_id": rng.randrange(N_ENTITIES)} for _ in range(n)]
                for _ in range(200)]
        # same answers from both: the data really is the same, so the timings compare like with like
        for name, store in stores.items():
            got = store.get_online_features(features=FEATURES, entity_rows=rows[0]).to_dict()
            if None in got["c_f1"] or None in got["m_f4"]:
                raise SystemExit(f"{name}: missing values for present keys: {got}")
        first = {name: store.get_online_features(features=FEATURES, entity_rows=rows[1]).to_dict()
                 for name, store in stores.items()}
        if first["ours"] != first["feast"]:
            raise SystemExit(f"the servers disagree: ours {first['ours']} feast {first['feast']}")
        for store in stores.values():  # warm-up
            for r in rows[:50]:
                store.get_online_features(features=FEATURES, entity_rows=r)
        samples: dict[str, list[float]] = {name: [] for name in stores}
        per_round = requests // rounds
        for k in range(rounds):
            order = list(stores) if k % 2 == 0 else list(reversed(stores))
            for name in order:
                store = stores[name]
                for i in range(per_round):
                    r = rows[i % len(rows)]
                    t = time.perf_counter()
                    store.get_online_features(features=FEATURES, entity_rows=r)
                    samples[name].append(time.perf_counter() - t)
        print(json.dumps({"n": n, **samples}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=5000, help="calls per server and size (>= 5,000 for the issue's figure)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--feast-setup", nargs=2, metavar=("REPO", "DATA"), help=argparse.SUPPRESS)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.feast_setup:
        feast_setup(Path(a.feast_setup[0]), Path(a.feast_setup[1]))
    elif a.client:
        client(json.loads(a.client), a.requests, a.rounds)
    else:
        run(a)


if __name__ == "__main__":
    main()
