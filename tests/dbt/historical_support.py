"""Shared helpers for the historical-retrieval tests (tests/dbt/test_historical_*.py)."""
from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE = HERE / "historical_project"

FEATURES = [
    "customer_features:*",
    "merchant_features:chargeback_rate",
    "customer_merchant_features:pair_txn_count",
]
FEATURE_COLUMNS = ["spend_7d", "txn_count", "chargeback_rate", "pair_txn_count"]
SPINE_COLUMNS = ["label_id", "customer_id", "merchant_id", "event_ts", "is_fraud"]

# Hand-checked answers for seeds/spine_labels.csv (see the seeds):
# label_id -> (spend_7d, txn_count, chargeback_rate, pair_txn_count)
EXPECTED = {
    1: (21.0, 3, 0.01, 1),        # tie on ts: the later created_ts wins; 0.50 not yet available
    2: (21.0, 3, 0.03, 4),
    3: (21.0, 3, 0.03, 4),        # duplicate spine row, kept
    4: (99.0, 9, 0.01, 8),        # ts exactly t - ttl (2d, 3d): inclusive
    5: (None, None, None, None),  # before all data
    6: (None, 2, 0.01, None),     # NULL feature value on the chosen row; exactly at the TTL edge
    7: (None, None, 0.01, None),  # NULL customer key
    8: (50.0, 5, None, None),     # NULL merchant key
    9: (None, None, 0.50, None),  # one second past the TTL; backfilled value now available
    10: (None, 2, 0.03, None),    # feature row exactly at t
}

# The env vars that would point a test at someone else's files.
ISOLATE_ENV = ("DBT_TARGET_PATH", "FW_TARGET", "FW_PROFILES_DIR", "FW_PROJECT_DIR", "FW_DUCKDB_PATH")


def copy_project(dst: Path) -> Path:
    """The fixture project plus the repository's macros, in ``dst``."""
    shutil.copytree(FIXTURE, dst, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb*", "macros"))
    shutil.copytree(REPO / "macros", dst / "macros")
    return dst  # its profile's relative `path: warehouse.duckdb` is this copy's file (run_dbt releases dbt-duckdb's)


def spine_frame():
    """seeds/spine_labels.csv as the pandas frame an ML engineer would have."""
    import pandas as pd

    df = pd.read_csv(FIXTURE / "seeds" / "spine_labels.csv", parse_dates=["event_ts"])
    df["customer_id"] = df["customer_id"].astype("Int64")
    df["merchant_id"] = df["merchant_id"].astype("Int64")
    df["is_fraud"] = df["is_fraud"].astype("int32")
    return df


def rows_of(table, columns) -> list[tuple]:
    data = table.select(list(columns)).to_pylist()
    return [tuple(r[c] for c in columns) for r in data]


def features_by_label(table) -> dict[int, tuple]:
    return {r[0]: tuple(r[1:]) for r in rows_of(table, ["label_id", *FEATURE_COLUMNS])}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fetch(store, sql: str):
    """``sql``'s rows as Arrow, from the store's own warehouse."""
    from featurewarehouse.offline.warehouse import connect

    with connect(store.config) as wh:
        return wh.fetch_arrow(sql)


def check_parquet_spine_to_parquet_file(store, df, tmp_path: Path) -> None:
    """``df`` written as a Parquet spine, the training set written to a Parquet file: every row, in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "spine.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), src)
    dest = tmp_path / "train.parquet"
    result = store.get_historical_features(str(src), FEATURES, timestamp_column="event_ts", output=str(dest))
    assert (result.output_kind, result.num_rows) == ("parquet", 10)
    assert pq.read_table(dest).column("label_id").to_pylist() == list(range(1, 11))
    assert features_by_label(pq.read_table(dest)) == EXPECTED
