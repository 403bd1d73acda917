"""Train on what you served: logged vectors flow through dbt into served_training_set.

A copy of the demo project builds a small dataset; then traffic is "replayed":
for chosen labelled transactions a vector is logged (feature-log sink, contract 4)
at a served_at inside or outside the scoring window, holding the values
fraud_training_set has for that transaction, with known changes. After
`dbt build -s feature_log+`, served_training_set must hold exactly the scored
transactions with exactly the logged values.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_project import copy_demo_project

pytestmark = pytest.mark.slow



@dataclass(frozen=True)
class Served:
    feature_names: tuple
    values: tuple
    statuses: tuple
    event_timestamps: tuple


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.demo.generate import DemoSpec, generate

    root = tmp_path_factory.mktemp("served_e2e")
    project = copy_demo_project(root / "project")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("FW_TARGET", "FW_PROJECT_DIR", "FW_PROFILES_DIR", "FW_FEATURE_LOG_PATH"):
            mp.delenv(var, raising=False)
        mp.setenv("FW_DATA_DIR", str(root / "data"))
        mp.setenv("FW_DUCKDB_PATH", str(root / "wh.duckdb"))
        mp.setenv("DBT_TARGET_PATH", str(root / "target"))
        generate(DemoSpec(rows=6_000, seed=11, days=75, end=dt.date(2025, 5, 1)), root / "data" / "raw")
        config = load_config(project, target="dev")
        run_dbt(config, ["build"], quiet=True)
        yield config, root


def _query(config, sql):
    from featurewarehouse.offline.warehouse import connect

    with connect(config) as wh:
        return wh.fetch_arrow(sql).to_pylist()


def _served_columns(config):
    import yaml

    spec = yaml.safe_load((config.project_dir / "models/feature_logs/served_fraud_features.yml").read_text())
    out = []
    for c in spec["models"][0]["columns"]:
        fw = ((c.get("config") or {}).get("meta") or {}).get("fw") or {}
        if fw.get("served_from"):
            out.append((c["name"], fw["served_from"]))
    return out


def test_logged_vectors_become_the_served_training_set(built):
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.serving.logging import FeatureLogSink

    config, root = built
    assert _query(config, "select count(*) as n from served_training_set") == [{"n": 0}]  # nothing served yet

    columns = _served_columns(config)
    names = [n for n, _ in columns]
    refs = [r for _, r in columns]
    # transactions whose (customer, merchant) has no other labelled transaction within 30 minutes,
    # so a vector can only belong to its own transaction's scoring window
    rows = _query(config, f"""
        with l as (
            select *, lag(event_ts) over (partition by customer_id, merchant_id order by event_ts) as prev_ts,
                      lead(event_ts) over (partition by customer_id, merchant_id order by event_ts) as next_ts
            from fraud_labels
        )
        select t.transaction_id, t.customer_id, t.merchant_id, t.event_ts, {', '.join('t.' + n for n in names)}
        from fraud_training_set t join l using (transaction_id)
        where (l.prev_ts is null or l.prev_ts < l.event_ts - interval '30 minutes')
          and (l.next_ts is null or l.next_ts > l.event_ts + interval '30 minutes')
        order by t.transaction_id
        limit 12
    """)
    assert len(rows) == 12

    def vector(row, overrides=None):
        values = {n: row[n] for n in names}
        values.update(overrides or {})
        return Served(
            ("customer_id", "merchant_id", *names),
            ((row["customer_id"],), (row["merchant_id"],), *((values[n],) for n in names)),
            (("PRESENT",), ("PRESENT",), *((("PRESENT",) if values[n] is not None else ("NOT_FOUND",)) for n in names)),
            ((None,),) * (2 + len(names)),
        )

    second = dt.timedelta(seconds=1)
    with FeatureLogSink(config.feature_log_path) as sink:
        for i, row in enumerate(rows[:10]):
            changes = {"amount_sum_7d": 12345.5} if i == 1 else {"home_country": None} if i == 2 else None
            sink.log(vector(row, changes), refs, request_id=f"in-{i}", served_at=row["event_ts"] + 2 * second)
        # a later vector within the window wins; 300 s after event_ts is still inside (inclusive)
        sink.log(vector(rows[0], {"txn_count_1h": 999}), refs, request_id="in-0-late",
                 served_at=rows[0]["event_ts"] + 300 * second)
        sink.log(vector(rows[10]), refs, request_id="after-window", served_at=rows[10]["event_ts"] + 301 * second)
        sink.log(vector(rows[11]), refs, request_id="before-txn", served_at=rows[11]["event_ts"] - second)

    run_dbt(config, ["build", "--select", "feature_log+"], quiet=True)

    vectors = _query(config, "select request_id, customer_id, merchant_id, n_features, n_present from feature_log_vectors order by request_id")
    assert len(vectors) == 13
    assert {v["n_features"] for v in vectors} == {len(names)}
    present_in_2 = sum(rows[2][n] is not None for n in names if n != "home_country")
    assert next(v for v in vectors if v["request_id"] == "in-2")["n_present"] == present_in_2

    got = _query(config, f"select transaction_id, served_request_id, {', '.join(names)} from served_training_set order by transaction_id")
    assert [g["transaction_id"] for g in got] == [r["transaction_id"] for r in rows[:10]]
    by_id = {g["transaction_id"]: g for g in got}
    for i, row in enumerate(rows[:10]):
        g = by_id[row["transaction_id"]]
        expected = {n: row[n] for n in names}
        if i == 0:
            expected["txn_count_1h"] = 999
        if i == 1:
            expected["amount_sum_7d"] = 12345.5
        if i == 2:
            expected["home_country"] = None
        assert g["served_request_id"] == ("in-0-late" if i == 0 else f"in-{i}")
        for n in names:
            want, have = expected[n], g[n]
            if isinstance(want, float) and have is not None:
                assert have == pytest.approx(want, rel=1e-12), (i, n)
            else:
                assert have == want, (i, n)


def test_the_scoring_window_follows_the_ttl_in_the_yaml(built):
    # last in this module: it edits the copied project's YAML
    from featurewarehouse.dbt import run_dbt

    config, _ = built
    yml = config.project_dir / "models/feature_logs/served_fraud_features.yml"
    yml.write_text(yml.read_text().replace("ttl: 5m", "ttl: 10m"))
    run_dbt(config, ["compile", "-s", "served_training_set"], quiet=True)
    compiled = next(config.target_path.glob("compiled/**/served_training_set.sql")).read_text()
    assert "interval '600 seconds'" in compiled and "interval '300 seconds'" not in compiled


def test_feature_log_records_the_service_and_reads_old_files_as_null(built, tmp_path, monkeypatch):
    """A feature-service request's rows carry its name; files written before the column existed load (null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.serving.log_format import log_schema
    from featurewarehouse.serving.logging import FeatureLogSink

    config, _ = built
    logs = tmp_path / "logs"
    served_at = dt.datetime(2025, 4, 1, 12, 0, 0)
    with FeatureLogSink(logs) as sink:
        result = Served(("customer_id", "txn_count_1h"), ((1,), (2,)), (("PRESENT",), ("PRESENT",)), ((None,), (None,)))
        sink.log(result, ["customer_txn_features:txn_count_1h"], request_id="svc", served_at=served_at,
                 feature_service="fraud_model")
        sink.log(result, ["customer_txn_features:txn_count_1h"], request_id="refs", served_at=served_at)
    old = pa.schema([f for f in log_schema() if f.name != "feature_service"])
    pq.write_table(pa.Table.from_pylist([{
        "request_id": "old", "served_at": served_at, "row_index": 0, "entity_keys": '{"customer_id":1}',
        "feature_view": "customer_txn_features", "feature_name": "txn_count_1h", "value": "2", "status": "PRESENT",
        "event_ts": None}], schema=old), logs / "fw-log-old.parquet")

    monkeypatch.setenv("FW_FEATURE_LOG_PATH", str(logs))
    run_dbt(config, ["run", "--select", "feature_log"], quiet=True)
    got = _query(config, "select request_id, feature_service from feature_log order by request_id")
    assert got == [{"request_id": "old", "feature_service": None}, {"request_id": "refs", "feature_service": None},
                   {"request_id": "svc", "feature_service": "fraud_model"}]
    # only files from before the column: it is still there, null (DuckDB's union_by_name alone would not add it)
    only_old = tmp_path / "only_old"
    only_old.mkdir()
    (logs / "fw-log-old.parquet").rename(only_old / "fw-log-old.parquet")
    monkeypatch.setenv("FW_FEATURE_LOG_PATH", str(only_old))
    run_dbt(config, ["run", "--select", "feature_log"], quiet=True)
    assert _query(config, "select request_id, feature_service from feature_log") == [
        {"request_id": "old", "feature_service": None}]
