"""Generated checks for keys and timestamps: not-null, a plausible time range, restatement-aware uniqueness."""
from __future__ import annotations

import datetime as dt

import pytest

from featurewarehouse.contract.meta import timestamp_range
from featurewarehouse.errors import MetadataError
from featurewarehouse.validation.runner import freshness_parameters
from featurewarehouse.validation.suites import ColumnSpec, ModelSpec, generate_expectations


def spec(**kw) -> ModelSpec:
    base = dict(name="v", schema="s", table="v", relation="s.v", kind="feature_view",
                columns=(ColumnSpec("amount", "double", feature=True),), key_columns=("customer_id",),
                timestamp="event_ts", timestamp_range=(0, 86400))
    return ModelSpec(**{**base, **kw})


def labels(s: ModelSpec) -> list[str]:
    return [e["meta"].get("fw_label") or f'{e["type"]}({e["kwargs"].get("column", "")})' for e in generate_expectations(s)]


def test_keys_and_timestamp_are_not_null_even_when_the_yaml_omits_them():
    out = labels(spec())
    assert "expect_column_values_to_not_be_null(customer_id)" in out
    assert "expect_column_values_to_not_be_null(event_ts)" in out
    assert "expect_column_to_exist(customer_id)" in out


def test_the_unique_key_includes_the_created_timestamp():
    assert "unique_key(customer_id, event_ts)" in labels(spec())
    assert "unique_key(customer_id, event_ts, loaded_at)" in labels(spec(created_timestamp="loaded_at"))


def test_timestamp_range_expectation_uses_run_time_parameters():
    [between] = [e for e in generate_expectations(spec(timestamp_range=(946684800, 7200)))
                 if e["type"] == "expect_column_values_to_be_between"]
    assert between["kwargs"]["min_value"] == {"$PARAMETER": "fw_epoch_plus_946684800s"}
    assert between["kwargs"]["max_value"] == {"$PARAMETER": "fw_now_plus_7200s"}
    now = dt.datetime(2024, 6, 1)
    assert freshness_parameters({"expectations": [between]}, now) == {
        "fw_epoch_plus_946684800s": dt.datetime(2000, 1, 1), "fw_now_plus_7200s": dt.datetime(2024, 6, 1, 2)}


def test_no_range_check_when_turned_off_or_for_other_kinds():
    assert not [x for x in labels(spec(timestamp_range=None)) if x.startswith("expect_column_values_to_be_between")]
    assert not [x for x in labels(spec(kind="training_set")) if "not_be_null(customer_id)" in x]


@pytest.mark.parametrize(("project", "model", "expected"), [
    (None, None, (0, 86400)),
    ({"min": dt.date(2000, 1, 1)}, None, (946684800, 86400)),
    ({"min": "2000-01-01", "max_ahead": "2h"}, {"max_ahead": "1w"}, (946684800, 604800)),
    ({"max_ahead": "2h"}, False, None),
    (False, None, None),
])
def test_timestamp_range_settings(project, model, expected):
    assert timestamp_range(project, model, "v.yml") == expected


@pytest.mark.parametrize("bad", [{"min": "yesterday"}, {"max_ahead": "1 day"}, {"maximum": 1}, "1d"])
def test_malformed_timestamp_range_is_an_error(bad):
    with pytest.raises(MetadataError):
        timestamp_range(None, bad, "models/v.yml: v.config.meta.fw.timestamp_range")
