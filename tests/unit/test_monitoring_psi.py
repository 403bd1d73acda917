"""PSI against a numpy reference, and the monitor's YAML thresholds."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurewarehouse.errors import MetadataError
from featurewarehouse.monitoring import psi as _psi
from featurewarehouse.monitoring import spec


def reference_psi(base_counts, cur_counts, eps=_psi.EPSILON):
    b = np.asarray(base_counts, float)
    c = np.asarray(cur_counts, float)
    p = np.clip(b / b.sum(), eps, None)
    q = np.clip(c / c.sum(), eps, None)
    return float(np.sum((q - p) * np.log(q / p)))


counts = st.lists(st.integers(0, 10_000), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_psi_equals_the_numpy_reference(data):
    base = data.draw(counts.filter(lambda xs: sum(xs) > 0))
    cur = data.draw(st.lists(st.integers(0, 10_000), min_size=len(base), max_size=len(base)).filter(sum))
    assert _psi.psi(base, cur) == pytest.approx(reference_psi(base, cur), rel=1e-9, abs=1e-12)
    assert _psi.psi(base, cur) >= -1e-12  # each term (q - p) * ln(q / p) is >= 0


def test_identical_distributions_have_zero_psi_and_empty_bins_use_epsilon():
    assert _psi.psi([10, 0, 30], [1, 0, 3]) == 0.0
    only_current = _psi.psi([100, 0], [50, 50])  # a bin empty in the baseline
    assert only_current == pytest.approx((0.5 - 1) * np.log(0.5 / 1) + (0.5 - 1e-4) * np.log(0.5 / 1e-4))


def test_an_empty_side_has_no_psi_and_bins_must_match():
    assert _psi.psi([0, 0], [1, 2]) is None and _psi.psi([1, 2], [0, 0]) is None
    with pytest.raises(ValueError, match="bins differ"):
        _psi.psi([1, 2], [1, 2, 3])


def _node(view_monitor=None, col_monitor=None, data_type="double"):
    fw = {"kind": "feature_view", "timestamp": "ts", "ttl": "1d", "freshness": {"max_age": "2h"}}
    if view_monitor is not None:
        fw["monitor"] = view_monitor
    cfw = {"feature": True, **({"monitor": col_monitor} if col_monitor is not None else {})}
    return {"resource_type": "model", "name": "fv", "relation_name": '"main"."fv"', "original_file_path": "models/fv.sql",
            "config": {"meta": {"fw": fw}},
            "columns": {"x": {"name": "x", "data_type": data_type, "config": {"meta": {"fw": cfw}}},
                        "label": {"name": "label", "data_type": "varchar", "config": {"meta": {"fw": {"feature": True}}}},
                        "when": {"name": "when", "data_type": "timestamp", "config": {"meta": {"fw": {"feature": True}}}}}}


def test_thresholds_default_then_view_then_feature():
    m = spec.view_monitor(_node())
    assert [(f.name, f.kind) for f in m.features] == [("x", "numeric"), ("label", "categorical")]
    assert m.features[0].thresholds == spec.Thresholds(spec.DEFAULT_PSI, spec.DEFAULT_NULL_RATE_CHANGE, False, 100)
    assert m.max_age_seconds == 7200 and m.ttl_seconds == 86400
    assert m.skipped == ("when (data_type 'timestamp' is neither numeric nor categorical)",)
    m = spec.view_monitor(_node({"psi": 0.5, "blocking": True, "max_age": "1d"}, {"psi": 0.05}))
    assert m.features[0].thresholds == spec.Thresholds(0.05, spec.DEFAULT_NULL_RATE_CHANGE, True, 100)
    assert m.features[1].thresholds.psi == 0.5 and m.max_age_seconds == 86400 and m.freshness_blocking
    assert [f.name for f in spec.view_monitor(_node(col_monitor={"enabled": False})).features] == ["label"]


@pytest.mark.parametrize("bad, match", [
    ({"psi": "high"}, "monitor.psi must be a non-negative number"),
    ({"psy": 0.1}, "unknown monitor setting"),
    ([0.1], "monitor must be a mapping"),
])
def test_bad_thresholds_name_the_model(bad, match):
    with pytest.raises(MetadataError, match=match) as err:
        spec.view_monitor(_node(bad))
    assert "models/fv.sql: fv" in str(err.value)
