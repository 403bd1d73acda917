"""The demo generator: deterministic, realistic in shape, chunked, atomic."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from featurewarehouse.demo import generate as gen
from featurewarehouse.demo.generate import TABLES, DemoSpec, generate
from featurewarehouse.errors import ConfigError

SMALL = DemoSpec(rows=20_000, seed=11, days=60, end=dt.date(2025, 3, 1))


def _digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("demo") / "raw"
    result = generate(SMALL, out)
    tables = {t: pq.read_table(out / f"{t}.parquet") for t in TABLES}
    return {"out": out, "result": result, **tables}


def test_same_seed_gives_byte_identical_files(small, tmp_path):
    again = generate(SMALL, tmp_path / "again")
    assert _digest(again.out_dir) == _digest(small["out"])
    other = generate(DemoSpec(rows=20_000, seed=12, days=60, end=dt.date(2025, 3, 1)), tmp_path / "other")
    assert _digest(other.out_dir)["transactions.parquet"] != _digest(small["out"])["transactions.parquet"]


def test_exactly_rows_distinct_transactions_plus_a_few_redeliveries(small):
    txns = small["transactions"]
    ids = txns.column("transaction_id").to_numpy()
    assert len(np.unique(ids)) == 20_000
    assert ids.min() == 1 and ids.max() == 20_000
    duplicates = txns.num_rows - 20_000
    assert duplicates == PINNED_COUNTS["transactions"] - 20_000 and 0 < duplicates < 60  # about 0.1%
    # a redelivery repeats the transaction; only ingested_at differs
    df = txns.to_pandas()
    dup = df[df.duplicated("transaction_id", keep=False)].sort_values(["transaction_id", "ingested_at"])
    cols = ["customer_id", "merchant_id", "amount", "currency", "country", "channel", "event_ts"]
    assert (dup.groupby("transaction_id")[cols].nunique() == 1).all().all()
    assert (dup.groupby("transaction_id")["ingested_at"].nunique() == 2).all()
    assert small["result"].row_counts["transactions"] == txns.num_rows


def test_times_fall_in_the_window_after_signup_with_late_arrivals(small):
    df = small["transactions"].to_pandas()
    start, end = np.datetime64("2024-12-31"), np.datetime64("2025-03-01")
    assert df.event_ts.min() >= start and df.event_ts.max() < end
    lag = (df.ingested_at - df.event_ts).dt.total_seconds()
    assert (lag > 0).all()
    late = (lag > 3600).sum()
    assert 20 <= late <= 200  # about 0.4% arrive hours to days late
    customers = small["customers"].to_pandas().groupby("customer_id").signup_ts.min()
    assert (df.event_ts.values >= customers.loc[df.customer_id].values).all()


def test_shape_heavy_tails_and_a_daily_cycle(small):
    df = small["transactions"].to_pandas()
    usd = df[df.currency == "USD"].amount
    assert usd.quantile(0.99) / usd.median() > 8  # lognormal body, Pareto tail
    hours = df.event_ts.dt.hour.value_counts()
    assert hours.loc[[18, 19]].sum() > 5 * hours.loc[[3, 4]].sum()
    assert set(df.channel) == {"chip", "contactless", "online", "swipe"}


def test_chargebacks_arrive_days_to_weeks_later_and_fraud_comes_in_bursts(small):
    cb = small["chargebacks"].to_pandas().drop_duplicates("chargeback_id")
    txns = small["transactions"].to_pandas().drop_duplicates("transaction_id").set_index("transaction_id")
    delay_days = (cb.reported_at.values - txns.loc[cb.transaction_id].event_ts.values) / np.timedelta64(1, "D")
    assert delay_days.min() >= 1.0 and np.median(delay_days) > 5
    assert (cb.reported_at < pd_ts("2025-03-01")).all()  # only reports known by the end of the data
    assert set(cb.reason) == {"fraud", "dispute"}
    fraud = txns.loc[cb[cb.reason == "fraud"].transaction_id].sort_values("event_ts")
    # most reported fraud has another reported fraud on the same card within two hours
    gap = fraud.groupby("customer_id").event_ts.diff().dt.total_seconds()
    back = fraud.groupby("customer_id").event_ts.diff(-1).dt.total_seconds().abs()
    clustered = ((gap <= 7200) | (back <= 7200)).mean()
    assert clustered > 0.5


def pd_ts(text: str):
    import pandas as pd

    return pd.Timestamp(text)


def test_customers_are_a_slowly_changing_dimension(small):
    df = small["customers"].to_pandas()
    versions = df.groupby("customer_id").size()
    assert versions.max() >= 2 and (versions == 1).mean() > 0.8
    assert df.sort_values(["customer_id", "updated_at"]).equals(df)
    first = df.groupby("customer_id").updated_at.min()
    assert (first == df.groupby("customer_id").signup_ts.min()).all()
    assert df[df.card_type != "credit"].credit_limit.isna().all()


def test_chunks_become_row_groups_with_globally_unique_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "CHUNK_ROWS", 1_000)
    spec = DemoSpec(rows=5_000, seed=3, days=30)
    generate(spec, tmp_path)
    pf = pq.ParquetFile(tmp_path / "transactions.parquet")
    assert pf.metadata.num_row_groups >= 4
    ids = pf.read(columns=["transaction_id"]).column(0)
    assert pc.count_distinct(ids).as_py() == 5_000
    cb = pq.read_table(tmp_path / "chargebacks.parquet").to_pandas()
    assert cb.drop_duplicates("chargeback_id").chargeback_id.is_unique
    assert cb.groupby("chargeback_id").transaction_id.nunique().max() == 1


def test_refuses_to_overwrite_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    generate(DemoSpec(rows=500), tmp_path)
    with pytest.raises(ConfigError, match="already exists") as err:
        generate(DemoSpec(rows=500), tmp_path)
    assert "--force" in err.value.hint
    fresh = tmp_path / "fresh"

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gen, "_chargebacks_table", boom)
    with pytest.raises(RuntimeError):
        generate(DemoSpec(rows=500), fresh)
    assert list(fresh.iterdir()) == []  # no partial files, no temp dir


def test_rejects_tiny_specs():
    with pytest.raises(ConfigError, match="--rows must be at least 100"):
        DemoSpec(rows=10)
    with pytest.raises(ConfigError, match="--days must be at least 14"):
        DemoSpec(days=3)


def test_pinned_counts_for_a_seed(small):
    # the generator is deterministic: these exact numbers change only when it does
    assert small["result"].row_counts == PINNED_COUNTS


PINNED_COUNTS = {"customers": 583, "merchants": 100, "transactions": 20_026, "chargebacks": 37}


def test_cli_generate_and_load_guard(tmp_path, monkeypatch):
    from featurewarehouse.cli.main import main

    out = tmp_path / "raw"
    assert main(["demo", "generate", "--rows", "300", "--seed", "1", "--out", str(out), "--json"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["_dataset.json", *sorted(f"{t}.parquet" for t in TABLES)]
    assert main(["demo", "generate", "--rows", "300", "--out", str(out)]) == 2
    assert main(["demo", "generate", "--rows", "300", "--out", str(out), "--end", "01-07-2025", "--force"]) == 2
    # the DuckDB target reads Parquet directly: loading is for postgres only
    repo = Path(__file__).resolve().parents[2]
    assert main(["demo", "load", "--project-dir", str(repo), "--target", "dev"]) == 2


def test_a_planted_drift_changes_only_recent_amounts_and_is_off_by_default(small, tmp_path):
    assert "drift_days" not in SMALL.to_dict()  # the default dataset's manifest is unchanged
    drifted = generate(DemoSpec(rows=20_000, seed=11, days=60, end=dt.date(2025, 3, 1), drift_days=7),
                       tmp_path / "drift")
    before, after = small["transactions"], pq.read_table(drifted.out_dir / "transactions.parquet")
    assert after.drop(["amount"]).equals(before.drop(["amount"]))  # same rows, times, everything else
    cutoff = pa.scalar(dt.datetime(2025, 2, 22), type=before.schema.field("event_ts").type)  # end - 7 days
    recent = pc.greater_equal(before["event_ts"], cutoff)
    old_b, old_a = before.filter(pc.invert(recent))["amount"], after.filter(pc.invert(recent))["amount"]
    assert old_a.equals(old_b)
    ratio = pc.sum(after.filter(recent)["amount"]).as_py() / pc.sum(before.filter(recent)["amount"]).as_py()
    assert 1.6 < ratio < 2.05  # legit purchases doubled; fraud bursts and rounding keep it under 2
    with pytest.raises(ConfigError, match="--drift-days must be between 0"):
        DemoSpec(rows=20_000, days=60, drift_days=60)
