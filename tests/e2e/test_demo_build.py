"""The demo project builds on DuckDB and PostgreSQL, and its outputs mean what they say.

A copy of the project builds a small generated dataset; the feature values are
then recomputed by brute force in Python from the raw Parquet (not from the
staging models) for a sample of rows chosen to catch look-ahead bugs.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from demo_project import copy_demo_project

from featurewarehouse.config import load_config
from featurewarehouse.dbt import run_dbt
from featurewarehouse.demo.generate import COUNTRIES, DemoSpec, generate
from featurewarehouse.offline.warehouse import connect

pytestmark = pytest.mark.slow

SPEC = DemoSpec(rows=20_000, seed=5, days=120, end=dt.date(2025, 5, 1))
USD_RATE = {cur: rate for cur, rate, _ in COUNTRIES.values()}
WINDOWS = {"1h": pd.Timedelta(hours=1), "24h": pd.Timedelta(hours=24),
           "7d": pd.Timedelta(days=7), "30d": pd.Timedelta(days=30)}
FEATURE_LOG_COLUMNS = ["request_id", "served_at", "row_index", "entity_keys", "feature_view",
                       "feature_name", "value", "status", "event_ts", "feature_service"]


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo_e2e")
    project = copy_demo_project(root / "project")
    data = root / "data"
    generate(SPEC, data / "raw")
    txns = pq.read_table(data / "raw" / "transactions.parquet").to_pandas()
    cbs = pq.read_table(data / "raw" / "chargebacks.parquet").to_pandas()
    clean = txns.sort_values("ingested_at").drop_duplicates("transaction_id").copy()
    clean["amount_usd"] = clean.amount / clean.currency.map(USD_RATE)
    cbs = cbs.drop_duplicates("chargeback_id").merge(
        clean[["transaction_id", "merchant_id", "event_ts"]], on="transaction_id"
    )
    return {"root": root, "project": project, "data": data, "raw_txns": txns, "txns": clean, "cbs": cbs}


def _env(mp: pytest.MonkeyPatch, raw: dict, name: str) -> None:
    for var in ("FW_TARGET", "FW_PROJECT_DIR", "FW_PROFILES_DIR", "FW_FEATURE_LOG_PATH"):
        mp.delenv(var, raising=False)
    mp.setenv("FW_DATA_DIR", str(raw["data"]))
    mp.setenv("FW_DUCKDB_PATH", str(raw["root"] / f"{name}.duckdb"))
    mp.setenv("DBT_TARGET_PATH", str(raw["root"] / f"target_{name}"))


def _query(config):
    def q(sql: str) -> pd.DataFrame:
        with connect(config) as wh:
            return wh.fetch_arrow(sql).to_pandas()
    return q


@pytest.fixture(scope="module")
def duckdb_build(raw):
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, raw, "duckdb")
        config = load_config(raw["project"], target="dev")
        run_dbt(config, ["build"], quiet=True)
        yield _query(config), ""


# ---- the properties, for any engine -------------------------------------------------

def check_staging_removes_duplicates(q, raw, s):
    assert len(raw["raw_txns"]) > SPEC.rows  # the raw file has redeliveries
    got = q(f"select count(*) as n, count(distinct transaction_id) as d from {s}stg_transactions")
    assert (int(got.n[0]), int(got.d[0])) == (SPEC.rows, SPEC.rows)
    n_cb = q(f"select count(*) as n from {s}stg_chargebacks").n[0]
    assert int(n_cb) == len(raw["cbs"])


def _sample_transactions(txns: pd.DataFrame) -> list[int]:
    """Random rows, plus rows whose customer pays again within the hour (a look-ahead
    window would count that later payment)."""
    t = txns.sort_values(["customer_id", "event_ts"])
    nxt = t.groupby("customer_id").event_ts.shift(-1)
    soon = t[(nxt - t.event_ts) <= pd.Timedelta(hours=1)].transaction_id
    rng = np.random.default_rng(0)
    picks = list(rng.choice(t.transaction_id, 30, replace=False)) + list(rng.choice(soon, 20, replace=False))
    return sorted(int(x) for x in picks)


def check_feature_view_keys_are_unique(q, raw, s):
    for view, keys in (("customer_spend_features", "customer_id, event_ts"),
                       ("customer_merchant_features", "customer_id, merchant_id, event_ts"),
                       ("customer_profile_features", "customer_id, feature_ts"),
                       ("merchant_risk_features", "merchant_id, feature_ts")):
        dup = q(f"select count(*) as n from (select {keys} from {s}{view} group by {keys} having count(*) > 1) d")
        assert int(dup.n[0]) == 0, view
    # one spend row per customer and instant: fewer rows than transactions only by same-second payments
    n = int(q(f"select count(*) as n from {s}customer_spend_features").n[0])
    assert n == raw["txns"][["customer_id", "event_ts"]].drop_duplicates().shape[0]


def check_customer_spend_looks_only_backwards(q, raw, s):
    txns = raw["txns"]
    ids = _sample_transactions(txns)
    sampled = txns.set_index("transaction_id").loc[ids, ["customer_id", "event_ts"]]
    view = q(f"select * from {s}customer_spend_features").set_index(["customer_id", "event_ts"])
    got = view.loc[list(sampled.drop_duplicates().itertuples(index=False, name=None))].reset_index()
    by_customer = {c: g for c, g in txns.groupby("customer_id")}
    later_in_window = 0
    for row in got.itertuples():
        hist = by_customer[row.customer_id]
        t = pd.Timestamp(row.event_ts)
        for name, width in WINDOWS.items():
            inside = hist[(hist.event_ts >= t - width) & (hist.event_ts <= t)]
            assert getattr(row, f"txn_count_{name}") == len(inside), (row.transaction_id, name)
            assert math.isclose(getattr(row, f"amount_sum_{name}"), inside.amount_usd.sum(), rel_tol=1e-9)
            assert math.isclose(getattr(row, f"amount_avg_{name}"), inside.amount_usd.mean(), rel_tol=1e-9)
        later_in_window += int(((hist.event_ts > t) & (hist.event_ts <= t + WINDOWS["1h"])).any())
    assert later_in_window >= 20  # the sample really had future payments to ignore


def _merchant_days(cbs: pd.DataFrame, rng) -> list[tuple[int, pd.Timestamp]]:
    """Snapshots just before and just after chargebacks were reported, plus random ones."""
    picks = []
    for cb in cbs.sample(min(25, len(cbs)), random_state=1).itertuples():
        before = pd.Timestamp(cb.reported_at).floor("D")
        picks += [(cb.merchant_id, before), (cb.merchant_id, before + pd.Timedelta(days=1))]
    for _ in range(15):
        picks.append((int(rng.integers(1, SPEC.merchants + 1)),
                      pd.Timestamp(SPEC.start) + pd.Timedelta(days=int(rng.integers(2, SPEC.days)))))
    return picks


def check_merchant_risk_counts_only_reported_chargebacks(q, raw, s):
    txns, cbs = raw["txns"], raw["cbs"]
    picks = _merchant_days(cbs, np.random.default_rng(2))
    got = q(f"select * from {s}merchant_risk_features").set_index(["merchant_id", "feature_ts"])
    unreported_seen = 0
    for merchant, d in picks:
        row = got.loc[(merchant, d)]
        in_window = txns[(txns.merchant_id == merchant) & (txns.event_ts >= d - pd.Timedelta(days=90))
                         & (txns.event_ts < d)]
        mine = cbs[cbs.transaction_id.isin(in_window.transaction_id)]
        reported = mine[mine.reported_at <= d]
        unreported_seen += int(len(mine) > len(reported))
        assert row.merchant_txn_count_90d == len(in_window), (merchant, d)
        assert row.merchant_chargeback_count_90d == len(reported), (merchant, d)
        assert row.merchant_fraud_report_count_90d == int((reported.reason == "fraud").sum())
        expected = len(reported) / len(in_window) if len(in_window) else None
        if expected is None:
            assert pd.isna(row.chargeback_rate_90d)
        else:
            assert math.isclose(row.chargeback_rate_90d, expected, rel_tol=1e-12)
    assert unreported_seen >= 10  # chargebacks that existed but were not yet reported were left out


def check_labels_arrive_after_transactions(q, raw, s):
    txns, cbs = raw["txns"], raw["cbs"]
    labels = q(f"select * from {s}fraud_labels")
    assert (labels.label_available_at >= labels.event_ts).all()
    fraud = cbs[cbs.reason == "fraud"].groupby("transaction_id").reported_at.min()
    cutoff = txns.ingested_at.max()
    matured = txns[txns.event_ts + pd.Timedelta(days=30) <= cutoff].set_index("transaction_id")
    assert len(labels) == len(matured)
    first = fraud.reindex(matured.index)
    expected_fraud = first <= matured.event_ts + pd.Timedelta(days=30)
    labels = labels.set_index("transaction_id").loc[matured.index]
    assert int(labels.is_fraud.sum()) == int(expected_fraud.sum()) > 0
    pos = labels[labels.is_fraud]
    assert (pos.label_available_at == first[pos.index]).all()
    neg = labels[~labels.is_fraud]
    assert (neg.label_available_at == neg.event_ts + pd.Timedelta(days=30)).all()


def check_training_set_is_point_in_time(q, raw, s):
    n = q(f"select (select count(*) from {s}fraud_training_set) as t, (select count(*) from {s}fraud_labels) as l")
    assert int(n.t[0]) == int(n.l[0]) > 0
    # the spine's own transaction is the latest spend row at its event_ts
    spend = q(f"""select count(*) as bad, count(f.customer_id) as matched from {s}fraud_training_set as ts
                  left join {s}customer_spend_features as f
                    on f.customer_id = ts.customer_id and f.event_ts = ts.event_ts
                  where ts.txn_count_30d is distinct from f.txn_count_30d
                     or ts.amount_sum_7d is distinct from f.amount_sum_7d""")
    assert int(spend.bad[0]) == 0
    # merchant risk comes from the snapshot at the midnight before the transaction
    risk = q(f"""select count(*) as bad, count(ts.chargeback_rate_90d) as present
                 from {s}fraud_training_set as ts
                 left join {s}merchant_risk_features as m
                   on m.merchant_id = ts.merchant_id
                  and m.feature_ts = cast(date_trunc('day', ts.event_ts) as timestamp)
                 where ts.chargeback_rate_90d is distinct from m.chargeback_rate_90d""")
    assert int(risk.bad[0]) == 0


def check_customer_profile_is_the_version_valid_then(q, raw, s):
    versions = pq.read_table(raw["data"] / "raw" / "customers.parquet").to_pandas()
    view = q(f"select * from {s}customer_profile_features")
    changed = versions.customer_id[versions.duplicated("customer_id")].unique()
    sample = pd.concat([view[view.customer_id.isin(changed[:20])], view.sample(30, random_state=3)])
    for row in sample.itertuples():
        mine = versions[(versions.customer_id == row.customer_id) & (versions.updated_at <= row.feature_ts)]
        valid = mine.sort_values("updated_at").iloc[-1]
        assert (row.home_country, row.card_type) == (valid.home_country, valid.card_type), row
        assert (pd.isna(row.credit_limit) and pd.isna(valid.credit_limit)) or row.credit_limit == valid.credit_limit
        age = (pd.Timestamp(row.feature_ts) - valid.signup_ts) // pd.Timedelta(days=1)
        assert row.account_age_days == age
    # a month-start row exists for every month a customer was signed up
    months = q(f"select count(*) as n from {s}customer_profile_features where feature_ts = timestamp '2025-03-01 00:00:00'")
    assert int(months.n[0]) == int((versions.groupby("customer_id").signup_ts.min() <= pd.Timestamp("2025-03-01")).sum())


def check_feature_log_builds_empty(q, raw, s):
    assert int(q(f"select count(*) as n from {s}feature_log").n[0]) == 0
    schema = s.strip('".') or "main"
    cols = q(f"""select column_name, data_type from information_schema.columns
                 where table_schema = '{schema}' and table_name = 'feature_log' order by ordinal_position""")
    assert list(cols.column_name) == FEATURE_LOG_COLUMNS
    assert cols.data_type.str.lower().str.startswith("timestamp").sum() == 2


CHECKS = [check_staging_removes_duplicates, check_feature_view_keys_are_unique,
          check_customer_spend_looks_only_backwards, check_customer_profile_is_the_version_valid_then,
          check_merchant_risk_counts_only_reported_chargebacks, check_labels_arrive_after_transactions,
          check_training_set_is_point_in_time, check_feature_log_builds_empty]

FINGERPRINT_SQL = """
select
  (select count(*) from {s}customer_profile_features) as profile_rows,
  (select sum(account_age_days) from {s}customer_profile_features) as account_age_sum,
  (select count(*) from {s}customer_merchant_features where pair_txn_count_lifetime = 1) as first_visits,
  (select sum(merchant_chargeback_count_90d) from {s}merchant_risk_features) as chargeback_sum,
  (select sum(txn_count_7d) from {s}fraud_training_set) as training_count_7d,
  (select count(*) from {s}fraud_training_set where card_type is null) as training_no_profile
"""


def _fingerprint(q, s: str) -> dict:
    return {k: int(v) for k, v in q(FINGERPRINT_SQL.format(s=s)).iloc[0].items()}


def _write_feature_log(directory: Path) -> int:
    """Three served values in the feature-log format; returns the row count."""
    import pyarrow as pa

    directory.mkdir(parents=True, exist_ok=True)
    served = dt.datetime(2025, 5, 2, 12, 0)
    table = pa.table({
        "request_id": ["r1", "r1", "r2"],
        "served_at": pa.array([served] * 3, type=pa.timestamp("us")),
        "row_index": pa.array([0, 0, 0], type=pa.int32()),
        "entity_keys": ['{"customer_id":42}', '{"customer_id":42}', '{"customer_id":7}'],
        "feature_view": ["customer_spend_features"] * 3,
        "feature_name": ["txn_count_1h", "amount_sum_1h", "txn_count_1h"],
        "value": ["3", "120.5", None],
        "status": ["PRESENT", "PRESENT", "NOT_FOUND"],
        "event_ts": pa.array([served, served, None], type=pa.timestamp("us")),
    })
    pq.write_table(table, directory / "part-0001.parquet")
    return table.num_rows


def test_duckdb_feature_log_reads_logged_files(raw):
    logs = raw["root"] / "served_logs"
    expected = _write_feature_log(logs)
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, raw, "duckdb_logs")
        mp.setenv("FW_FEATURE_LOG_PATH", str(logs))
        config = load_config(raw["project"], target="dev")
        run_dbt(config, ["build", "--select", "feature_log"], quiet=True)
        got = _query(config)("select status, count(*) as n from feature_log group by 1 order by 1")
    assert dict(zip(got.status, got.n)) == {"NOT_FOUND": 1, "PRESENT": expected - 1}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_duckdb(duckdb_build, raw, check):
    q, s = duckdb_build
    check(q, raw, s)


@pytest.mark.postgres
def test_postgres_builds_the_same_demo(duckdb_build, raw, pg_schema, postgres_uri):
    from featurewarehouse.demo.load import load_raw_tables

    raw_schema = f"{pg_schema}_raw"
    duckdb_numbers = _fingerprint(*duckdb_build)  # before the env points at postgres
    try:
        with pytest.MonkeyPatch.context() as mp:
            _env(mp, raw, "postgres")
            mp.setenv("FW_PG_SCHEMA", pg_schema)
            config = load_config(raw["project"], target="postgres")
            loaded = load_raw_tables(config)
            assert loaded.schema == raw_schema
            assert loaded.row_counts["transactions"] == len(raw["raw_txns"])
            assert loaded.row_counts["feature_log_raw"] == 0
            run_dbt(config, ["build"], quiet=True)
            q, s = _query(config), f'"{pg_schema}".'
            for check in CHECKS:
                check(q, raw, s)
            # the same numbers as DuckDB
            assert _fingerprint(q, s) == duckdb_numbers
            # served vectors reach feature_log through <schema>_raw.feature_log_raw
            logs = raw["root"] / "served_logs_pg"
            mp.setenv("FW_FEATURE_LOG_PATH", str(logs))
            expected = _write_feature_log(logs)
            config = load_config(raw["project"], target="postgres")
            assert load_raw_tables(config).row_counts["feature_log_raw"] == expected
            run_dbt(config, ["build", "--select", "feature_log"], quiet=True)
            assert int(q(f"select count(*) as n from {s}feature_log").n[0]) == expected
    finally:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(postgres_uri, autocommit=True) as con, con.cursor() as cur:
            cur.execute(f'drop schema if exists "{raw_schema}" cascade')
