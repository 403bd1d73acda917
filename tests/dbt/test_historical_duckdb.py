"""Historical retrieval on DuckDB: parity with the dbt model, spine kinds, outputs, spine errors.

The fixture project (tests/dbt/historical_project) is copied with the
repository's macros to a tmp dir and built once for the module.
"""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurewarehouse.errors import ConfigError
from historical_support import (
    EXPECTED,
    FEATURE_COLUMNS,
    FEATURES,
    ISOLATE_ENV,
    SPINE_COLUMNS,
    copy_project,
    fetch,
    features_by_label,
    rows_of,
    spine_frame,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from featurewarehouse.config import load_config
    from featurewarehouse.dbt import run_dbt
    from featurewarehouse.store import FeatureStore

    with pytest.MonkeyPatch.context() as mp:
        for name in ISOLATE_ENV:
            mp.delenv(name, raising=False)
        project = copy_project(tmp_path_factory.mktemp("hist_duckdb") / "project")
        config = load_config(project, target="dev")
        run_dbt(config, ["build"], quiet=True)
        yield FeatureStore(config=config)


# ---- parity and the rules ------------------------------------------------------

def test_a_feature_service_gives_the_same_rows_as_its_list(store):
    by_list = store.get_historical_features(spine_frame(), FEATURES, timestamp_column="event_ts").to_arrow()
    by_service = store.get_historical_features(spine_frame(), feature_service="fraud_features",
                                               timestamp_column="event_ts").to_arrow()
    assert by_service.equals(by_list)
    assert store.registry.used_by("merchant_features") == ("training_set",)
    with pytest.raises(ConfigError, match="both features and feature_service"):
        store.get_historical_features(spine_frame(), FEATURES, feature_service="fraud_features")


def test_python_path_returns_exactly_the_dbt_models_rows(store):
    df = spine_frame()
    result = store.get_historical_features(df, FEATURES, timestamp_column="event_ts")
    got = result.to_arrow()
    assert got.column_names == SPINE_COLUMNS + FEATURE_COLUMNS
    model = fetch(store, "select * from training_set")
    assert model.column_names == got.column_names
    key = lambda r: r[0]  # noqa: E731  label_id is unique in the seed
    assert sorted(rows_of(got, got.column_names), key=key) == sorted(rows_of(model, model.column_names), key=key)
    # ... and both give the hand-checked answers
    assert features_by_label(got) == EXPECTED


def test_every_spine_row_once_in_the_spines_order(store):
    df = spine_frame()
    shuffled = df.iloc[[9, 2, 2, 0, 6, 4, 1, 8, 3, 7, 5, 2]].reset_index(drop=True)
    out = store.get_historical_features(shuffled, FEATURES, timestamp_column="event_ts").to_pandas()
    assert out["label_id"].tolist() == [10, 3, 3, 1, 7, 5, 2, 9, 4, 8, 6, 3]
    assert list(out.columns) == SPINE_COLUMNS + FEATURE_COLUMNS
    # original columns come back untouched
    assert out["event_ts"].tolist() == shuffled["event_ts"].tolist()
    assert out["is_fraud"].tolist() == shuffled["is_fraud"].tolist()


def test_aware_timestamps_are_converted_to_utc(store):
    df = spine_frame()
    aware = df.copy()
    aware["event_ts"] = aware["event_ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    got = store.get_historical_features(aware, FEATURES, timestamp_column="event_ts").to_arrow()
    assert features_by_label(got) == EXPECTED
    # the caller's column is returned as given: the same instants
    assert got.column("event_ts").cast(pa.timestamp("us", "UTC")).to_pylist() == \
        pa.array(aware["event_ts"]).cast(pa.timestamp("us", "UTC")).to_pylist()


def test_naive_timestamps_mean_utc_not_local_time(store):
    # The same wall-clock times in other zones are other instants, with other answers.
    df = spine_frame()
    tokyo = df.assign(event_ts=df["event_ts"].dt.tz_localize("Asia/Tokyo"))  # 9 hours earlier in UTC
    got = features_by_label(store.get_historical_features(tokyo, FEATURES, timestamp_column="event_ts").to_arrow())
    assert got[9] == (50.0, 5, 0.50, None)  # 01-07 03:00:01 UTC: back inside the 2d TTL
    new_york = df.assign(event_ts=df["event_ts"].dt.tz_localize("America/New_York"))  # 5 hours later
    got = features_by_label(store.get_historical_features(new_york, FEATURES, timestamp_column="event_ts").to_arrow())
    assert got[4] == (None, None, 0.01, None)  # 01-04 05:00 UTC: past both TTLs
    naive = features_by_label(store.get_historical_features(df, FEATURES, timestamp_column="event_ts").to_arrow())
    assert (naive[4], naive[9]) == (EXPECTED[4], EXPECTED[9])


def test_date_column_is_midnight_utc(store):
    spine = pa.table({
        "customer_id": pa.array([1, 1, 1], pa.int64()),
        "day": pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 7), dt.date(2024, 1, 8)]),
    })
    out = store.get_historical_features(spine, ["customer_features:txn_count"]).to_arrow()
    # 01-02 00:00 sees both rows at 01-02 00:00 (ts <= t); 01-07 00:00 is within 2d of
    # 01-05 12:00; 01-08 00:00 is not.
    assert out.column("txn_count").to_pylist() == [3, 5, None]
    assert out.column("day").type == pa.date32()


def test_full_feature_names_and_row_id(store):
    df = spine_frame().iloc[[3, 0]]
    out = store.get_historical_features(
        df, ["customer_features:txn_count", "merchant_features:chargeback_rate"],
        timestamp_column="event_ts", full_feature_names=True, row_id_column="row_id",
    ).to_arrow()
    assert out.column_names == SPINE_COLUMNS + [
        "customer_features__txn_count", "merchant_features__chargeback_rate", "row_id"]
    assert out.column("row_id").to_pylist() == [0, 1]
    assert out.column("customer_features__txn_count").to_pylist() == [9, 3]


def test_stream_of_batches_equals_the_table(store):
    df = spine_frame()
    batches = list(store.iter_historical_features(df, FEATURES, timestamp_column="event_ts", batch_rows=4))
    streamed = pa.Table.from_batches(batches)
    assert streamed.num_rows == 10
    assert features_by_label(streamed) == EXPECTED


# ---- spine kinds -----------------------------------------------------------------

def test_parquet_file_and_directory_spines(store, tmp_path):
    table = pa.Table.from_pandas(spine_frame(), preserve_index=False)
    one = tmp_path / "spine.parquet"
    pq.write_table(table, one)
    got = store.get_historical_features(str(one), FEATURES, timestamp_column="event_ts").to_arrow()
    assert got.column("label_id").to_pylist() == list(range(1, 11))
    assert features_by_label(got) == EXPECTED

    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 4), parts / "a.parquet")
    pq.write_table(table.slice(4), parts / "b.parquet")
    got = store.get_historical_features(parts, FEATURES, timestamp_column="event_ts").to_arrow()
    assert got.column("label_id").to_pylist() == list(range(1, 11))
    assert features_by_label(got) == EXPECTED


def test_sql_query_and_relation_spines_stay_in_the_warehouse(store):
    got = store.get_historical_features(
        "select * from spine_labels where label_id <= 6 order by label_id desc", FEATURES,
        timestamp_column="event_ts",
    ).to_arrow()
    assert got.column("label_id").to_pylist() == [6, 5, 4, 3, 2, 1]
    assert features_by_label(got) == {k: EXPECTED[k] for k in range(1, 7)}

    got = store.get_historical_features("spine_labels", FEATURES, timestamp_column="event_ts").to_arrow()
    assert sorted(got.column("label_id").to_pylist()) == list(range(1, 11))
    assert features_by_label(got) == EXPECTED


def test_empty_spine_returns_no_rows_with_all_columns(store):
    empty = spine_frame().iloc[0:0]
    out = store.get_historical_features(empty, FEATURES, timestamp_column="event_ts").to_arrow()
    assert out.num_rows == 0
    assert out.column_names == SPINE_COLUMNS + FEATURE_COLUMNS


# ---- outputs ---------------------------------------------------------------------

def test_output_to_parquet_and_to_a_table(store, tmp_path):
    path = tmp_path / "out" / "train.parquet"
    result = store.get_historical_features(spine_frame(), FEATURES, timestamp_column="event_ts", output=str(path))
    assert (result.output_kind, result.num_rows) == ("parquet", 10)
    written = pq.read_table(path)
    assert written.column("label_id").to_pylist() == list(range(1, 11))
    assert features_by_label(written) == EXPECTED
    assert not [p for p in path.parent.iterdir() if p.name != "train.parquet"]  # no temp file left

    result = store.get_historical_features(
        "select * from spine_labels order by label_id", FEATURES, timestamp_column="event_ts",
        output="main.training_from_python",
    )
    assert (result.output_kind, result.num_rows) == ("table", 10)
    assert features_by_label(fetch(store, "select * from main.training_from_python")) == EXPECTED
    with pytest.raises(ConfigError, match="not in memory"):
        result.to_arrow()


# ---- bad spines ------------------------------------------------------------------

def test_missing_key_column_names_it_and_suggests(store):
    df = spine_frame().rename(columns={"customer_id": "customer"})
    with pytest.raises(ConfigError) as err:
        store.get_historical_features(df, FEATURES, timestamp_column="event_ts")
    assert err.value.message == (
        "the spine has no column 'customer_id', the join key of entity 'customer' needed by "
        "customer_features, customer_merchant_features. did you mean 'customer'?"
    )
    assert err.value.hint == "add or rename a column to 'customer_id' (bigint)"


def test_a_bad_dataframe_spine_fails_before_any_dbt_call(store, monkeypatch):
    from featurewarehouse.offline import retrieval
    from featurewarehouse.store import FeatureStore

    fresh = FeatureStore(config=store.config)  # empty render cache
    calls = []
    monkeypatch.setattr(retrieval, "render_pit_sql", lambda *a, **k: calls.append(1) or [])
    df = spine_frame().rename(columns={"customer_id": "customer"})
    with pytest.raises(ConfigError, match="the spine has no column 'customer_id'"):
        fresh.get_historical_features(df, FEATURES, timestamp_column="event_ts")
    with pytest.raises(ConfigError, match="the spine has no column 'customer_id'"):
        list(fresh.iter_historical_features(df, FEATURES, timestamp_column="event_ts"))
    assert calls == []


def test_wrong_key_type_is_refused_with_the_fix(store):
    df = spine_frame()
    df["merchant_id"] = df["merchant_id"].astype("float64")  # what pandas does to ints with NaN
    with pytest.raises(ConfigError) as err:
        store.get_historical_features(df, FEATURES, timestamp_column="event_ts")
    assert err.value.message == (
        "the spine column 'merchant_id' is a floating-point number (double), "
        "but entity 'merchant' declares merchant_id as bigint"
    )
    assert "nullable 'Int64' dtype" in err.value.hint

    df = spine_frame()
    df["customer_id"] = df["customer_id"].astype("string")
    with pytest.raises(ConfigError, match=r"'customer_id' is a string \(\w+\), but entity 'customer'"):
        store.get_historical_features(df, FEATURES, timestamp_column="event_ts")


def test_wrong_key_type_in_a_sql_spine(store):
    with pytest.raises(ConfigError, match=r"'customer_id' is a string \(string\), but entity 'customer'"):
        store.get_historical_features(
            "select cast(customer_id as varchar) as customer_id, event_ts from spine_labels",
            ["customer_features:txn_count"], timestamp_column="event_ts",
        )


def test_timestamp_column_errors(store):
    df = spine_frame()
    with pytest.raises(ConfigError) as err:
        store.get_historical_features(df, FEATURES, timestamp_column="event_time")
    assert err.value.message == "the spine has no timestamp column 'event_time'. did you mean 'event_ts'?"

    with pytest.raises(ConfigError, match="'label_id' is an integer, not a timestamp or date"):
        store.get_historical_features(df, FEATURES, timestamp_column="label_id")

    two = df.assign(label_ts=df["event_ts"])
    with pytest.raises(ConfigError, match=r"cannot tell which spine column is the event time \(timestamp or date "
                                          r"columns: event_ts, label_ts\)"):
        store.get_historical_features(two, FEATURES)

    text = df.assign(event_ts=df["event_ts"].astype(str))
    with pytest.raises(ConfigError, match="'event_ts' is a string, not a timestamp or date"):
        store.get_historical_features(text, FEATURES, timestamp_column="event_ts")


def test_spine_column_clashing_with_a_feature(store):
    df = spine_frame().assign(txn_count=1)
    with pytest.raises(ConfigError, match="already has column.*txn_count") as err:
        store.get_historical_features(df, ["customer_features:txn_count"], timestamp_column="event_ts")
    assert "full_feature_names" in err.value.hint


def test_unknown_feature_suggests(store):
    with pytest.raises(ConfigError, match=r"has no feature 'txn_cnt'\. did you mean 'txn_count'\?"):
        store.get_historical_features(spine_frame(), ["customer_features:txn_cnt"], timestamp_column="event_ts")


def test_bad_spine_inputs(store, tmp_path):
    with pytest.raises(ConfigError, match="no Parquet file at"):
        store.get_historical_features(str(tmp_path / "missing.parquet"), FEATURES)
    with pytest.raises(ConfigError, match="unsupported spine type int"):
        store.get_historical_features(42, FEATURES)
    with pytest.raises(ConfigError, match="the spine query failed in the warehouse"):
        store.get_historical_features("select * from no_such_table", FEATURES)


# ---- the command -------------------------------------------------------------------

def test_fwctl_historical_writes_parquet(store, tmp_path, capsys):
    from featurewarehouse.cli.main import main

    src = tmp_path / "spine.parquet"
    pq.write_table(pa.Table.from_pandas(spine_frame(), preserve_index=False), src)
    out = tmp_path / "train.parquet"
    args = ["historical", "--project-dir", str(store.config.project_dir), "--spine", str(src),
            "--timestamp-column", "event_ts", "--out", str(out), "--json"]
    for f in FEATURES:
        args += ["--feature", f]
    assert main(args) == 0
    assert '"rows": 10' in capsys.readouterr().out
    assert features_by_label(pq.read_table(out)) == EXPECTED

    bad = args + ["--feature", "customer_features:nope"]
    assert main(bad) == 2
    assert "has no feature 'nope'" in capsys.readouterr().err


def test_views_split_over_several_queries_give_the_same_rows(store, monkeypatch):
    from featurewarehouse.offline import retrieval
    from featurewarehouse.store import FeatureStore

    monkeypatch.setattr(retrieval, "VIEWS_PER_QUERY", 1)
    split = FeatureStore(config=store.config)  # fresh render cache: one dbt compile, three queries
    assert len(split._rendered(FEATURES, False)) == 3
    df = spine_frame().iloc[[9, 0, 2, 2, 6]]
    got = split.get_historical_features(df, FEATURES, timestamp_column="event_ts", row_id_column="rid").to_arrow()
    assert got.column_names == SPINE_COLUMNS + FEATURE_COLUMNS + ["rid"]
    assert got.column("label_id").to_pylist() == [10, 1, 3, 3, 7]
    assert got.column("rid").to_pylist() == [0, 1, 2, 3, 4]
    assert [features_by_label(got)[k] for k in (10, 1, 3, 7)] == [EXPECTED[k] for k in (10, 1, 3, 7)]


def test_same_feature_name_from_two_views_needs_full_names(store):
    from featurewarehouse.offline.retrieval import _check_unique
    from featurewarehouse.registry.model import Feature, FeatureView, JoinKey, Registry

    def view(name):
        return FeatureView(name, name, ("customer",), (JoinKey("customer_id", "bigint"),), "ts",
                           (Feature("amount", name, "double"),))

    registry = Registry(entities=(), feature_views=(view("a"), view("b")))
    with pytest.raises(ConfigError) as err:
        _check_unique(registry, ["a:amount", "b:amount"], False)
    assert err.value.message == "feature name 'amount' clashes: both 'a' and 'b' provide it"
    _check_unique(registry, ["a:amount", "b:amount"], True)


def test_all_null_key_and_time_columns_still_return_every_row(store):
    spine = pa.table({"customer_id": pa.nulls(2), "event_ts": pa.nulls(2), "tag": ["a", "b"]})
    out = store.get_historical_features(spine, ["customer_features:txn_count"], timestamp_column="event_ts").to_arrow()
    assert out.column("tag").to_pylist() == ["a", "b"]
    assert out.column("txn_count").to_pylist() == [None, None]


def test_rows_that_cannot_match_are_counted_by_reason(store, tmp_path, capsys):
    """Issue 20: retrieval says how many spine rows found no candidate because of a NULL key or time."""
    from featurewarehouse.cli.main import main

    df = spine_frame()
    df.loc[0, "event_ts"] = None  # label 1: NULL time; label 7: NULL customer; label 8: NULL merchant
    df.loc[1, "customer_id"] = None  # label 2: NULL customer as well
    result = store.get_historical_features(df, FEATURES, timestamp_column="event_ts")
    assert result.num_rows == 10
    assert result.summary()["skipped"] == {
        "rows": 4,
        "null_timestamp": 1,
        "null_key": {
            "customer_id": {"rows": 2, "views": ["customer_features", "customer_merchant_features"]},
            "merchant_id": {"rows": 1, "views": ["merchant_features", "customer_merchant_features"]},
        },
    }

    src = tmp_path / "spine.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), src)
    args = ["historical", "--project-dir", str(store.config.project_dir), "--spine", str(src),
            "--timestamp-column", "event_ts", "--out", str(tmp_path / "train.parquet")]
    for f in FEATURES:
        args += ["--feature", f]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "4 spine rows found no candidate: 1 with a NULL event time; 2 with a NULL customer_id" in " ".join(err.split())

    clean = store.get_historical_features("select * from spine_labels where label_id in (1, 2)", FEATURES,
                                          timestamp_column="event_ts")
    assert clean.summary()["skipped"] == {"rows": 0}
