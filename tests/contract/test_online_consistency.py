"""Train/serve consistency: after a sync, every online value equals the point-in-time value at
the sync time computed by the macro ``latest_feature_values`` (and by the brute-force reference).

dbt builds the PIT fixture project (tests/dbt/project with the real macros/) once; each random
dataset then refills its tables and re-executes the macro's compiled SQL, syncs the same tables
into each store at ``now = as_of`` and reads every key back. The same data also proves that the
sync's one Python rendering of the latest-value rules (``latest_values_sql``) returns exactly
the macro's rows (parity).
"""
from __future__ import annotations

import random
import sys
from datetime import timedelta
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for extra in (TESTS, TESTS / "dbt"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from online_support import cleanup, STORE_KINDS, redis_service_url, registry, store_url  # noqa: E402
from pit_cases import reference  # noqa: E402
from pit_cases.cases import T0, VIEW_COLUMNS, VIEWS  # noqa: E402
from pit_project import Runner, build, fill_statements, make_project  # noqa: E402

from featurewarehouse.offline.warehouse import DuckDBWarehouse  # noqa: E402
from featurewarehouse.online.base import open_store  # noqa: E402
from featurewarehouse.online.sync import latest_values_sql, sync_views  # noqa: E402
from featurewarehouse.registry.model import Feature, FeatureView, JoinKey  # noqa: E402
from featurewarehouse.serving.client import OnlineClient  # noqa: E402

ALL_VIEWS = ["v_plain", "v_ttl", "v_avail", "v_avail_nottl", "v_pair", "v_merchant"]
TEXTS = ("", "a", "B", "b", "é", "Z", "a b", "ab")
STEP = timedelta(hours=6)
DATASETS = 6


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("online_consistency"))
    result = build(project, "dev")
    runner = Runner("dev", project)
    wh = DuckDBWarehouse.__new__(DuckDBWarehouse)
    wh.path, wh.con = "(fixture)", runner.con
    yield result, runner, wh
    runner.close()


@pytest.fixture
def built_postgres(tmp_path, postgres_uri, pg_schema):
    from featurewarehouse.offline.warehouse import PostgresWarehouse

    project = make_project(tmp_path / "pg")
    result = build(project, "postgres", pg_schema)
    runner = Runner("postgres", project, postgres_uri)
    wh = PostgresWarehouse.__new__(PostgresWarehouse)
    wh.uri, wh.con = postgres_uri, runner.con
    yield result, runner, wh
    runner.close()


def feature_view(name: str, relation: str) -> FeatureView:
    spec = VIEWS[name]
    return FeatureView(
        name=name, relation=relation, entities=("customer",) if "customer_id" in spec.keys else ("merchant",),
        join_keys=tuple(JoinKey(k, "bigint") for k in spec.keys), timestamp=spec.timestamp,
        features=(Feature("f_int", name, "bigint"), Feature("f_str", name, "varchar")),
        created_timestamp=spec.created, available_timestamp=spec.available,
        ttl_seconds=int(spec.ttl.total_seconds()) if spec.ttl else None, online=True,
    )


def random_rows(rng: random.Random, name: str) -> list[dict]:
    spec = VIEWS[name]
    out = []
    for _ in range(rng.randint(0, 60)):
        row = {c: None for c in VIEW_COLUMNS[name]}
        for k in spec.keys:
            row[k] = rng.choice([None] + [1, 3, 12, 23] * 4)
        row[spec.timestamp] = rng.choice([None] + [T0 + i * STEP for i in range(8)] * 3)
        if spec.created:
            row[spec.created] = rng.choice([None, T0, T0 + STEP])
        if spec.available:
            row[spec.available] = None if rng.random() < 0.1 else (row[spec.timestamp] or T0) + rng.choice([0, 0, 1, 2]) * STEP
        row["f_int"] = rng.choice([None, -2, -1, 0, 1, 2, 3])
        row["f_str"] = rng.choice((None, *TEXTS))
        out.append(row)
    return out


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_online_values_equal_the_macro_at_sync_time(built, kind, tmp_path, request):
    check_consistency(built, kind, tmp_path, request, "duckdb")


@pytest.mark.postgres
def test_online_values_equal_the_macro_on_postgres(built_postgres, tmp_path, request):
    check_consistency(built_postgres, "sqlite", tmp_path, request, "postgres")


def check_consistency(built, kind, tmp_path, request, dialect, datasets=DATASETS, min_compared=100):
    """``datasets``/``min_compared``: fewer on engines where each query is a job (Spark)."""
    result, runner, wh = built
    redis_url = redis_service_url(request, kind)
    views = [feature_view(v, result.relation[v]) for v in ALL_VIEWS]
    rng = random.Random(20261123)
    compared = 0
    for dataset in range(datasets):
        rows = {v: random_rows(rng, v) for v in ALL_VIEWS}
        as_of = T0 + rng.randint(0, 9) * STEP + rng.choice([timedelta(0), timedelta(microseconds=1)])
        statements = []
        for v in ALL_VIEWS:
            statements += fill_statements(result.relation[v], VIEW_COLUMNS[v], rows[v])
        statements += fill_statements(result.relation["pit_as_of"], ["as_of"], [{"as_of": as_of}])
        runner.execute(statements)
        url = store_url(kind, tmp_path / f"d{dataset}", redis_url)
        (tmp_path / f"d{dataset}").mkdir()
        try:
            store = open_store(url)
            sync_views(wh, store, registry(*views), views, now=as_of)
            store.close()
            client = OnlineClient(open_store(url), registry(*views), clock=lambda: as_of)
            for fv in views:
                spec = VIEWS[fv.name]
                cols = [*spec.keys, spec.timestamp, *([spec.created] if spec.created else []), "f_int", "f_str"]
                _, macro = runner.query(result.sql[f"latest_{fv.name}"])
                expected = reference.latest_feature_values(spec, rows[fv.name], as_of)
                assert reference.canonical(macro, cols) == reference.canonical(expected, cols), fv.name
                # parity: the sync's SQL returns the macro's rows (expired keys flagged, not dropped)
                _, ours = runner.query(latest_values_sql(fv, as_of, dialect=dialect))
                ours = [{**r, spec.timestamp: r["__ts"], **({spec.created: r["__cts"]} if spec.created else {})}
                        for r in ours if not r["__expired"]]
                assert reference.canonical(ours, cols) == reference.canonical(macro, cols), fv.name
                # every key that has rows, present in the macro output or not
                all_keys = sorted({tuple(r[k] for k in spec.keys) for r in rows[fv.name]
                                   if all(r[k] is not None for k in spec.keys)})
                if not all_keys:
                    continue
                by_key = {tuple(r[k] for k in spec.keys): r for r in macro}
                got = client.get_online_features(
                    [f"{fv.name}:f_int", f"{fv.name}:f_str"],
                    [dict(zip(spec.keys, key)) for key in all_keys],
                )
                data = got.to_dict()
                n_keys = len(spec.keys)
                for j, key in enumerate(all_keys):
                    want = by_key.get(key)
                    statuses = (got.statuses[n_keys][j], got.statuses[n_keys + 1][j])
                    if want is None:
                        assert statuses == ("NOT_FOUND", "NOT_FOUND"), (fv.name, key)
                        continue
                    assert (data["f_int"][j], data["f_str"][j]) == (want["f_int"], want["f_str"]), (fv.name, key, as_of)
                    assert got.event_timestamps[n_keys][j] == want[spec.timestamp]
                    assert statuses[0] == ("NULL_VALUE" if want["f_int"] is None else "PRESENT")
                    compared += 1
            client.close()
        finally:
            cleanup(url)
    assert compared > min_compared  # the random data really exercised the comparison
