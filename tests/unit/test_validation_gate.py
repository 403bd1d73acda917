"""The serving gate, both ways: validated views pass; failed, rebuilt, changed or unvalidated views are refused."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from featurewarehouse.config import load_config
from featurewarehouse.errors import ChecksFailed
from featurewarehouse.validation import gate, report
from featurewarehouse.validation.results import ExpectationOutcome, ModelValidation

T0 = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    cfg = load_config(tmp_path)
    cfg.target_path.mkdir(parents=True)
    _manifest(cfg, {"good_view": "s1", "bad_view": "s2"})
    return cfg


def _manifest(cfg, sums):
    nodes = {f"model.p.{n}": {"resource_type": "model", "name": n, "checksum": {"checksum": s}} for n, s in sums.items()}
    (cfg.target_path / "manifest.json").write_text(json.dumps({"nodes": nodes}))


def _run_results(cfg, built):
    results = [
        {"unique_id": f"model.p.{name}", "status": "success",
         "timing": [{"name": "compile", "completed_at": when}, {"name": "execute", "completed_at": when}]}
        for name, when in built.items()
    ]
    (cfg.target_path / "run_results.json").write_text(json.dumps({"results": results}))


def _validate(cfg, *, bad_fails=True, at=T0):
    ok = ExpectationOutcome("expect_column_values_to_not_be_null", {"column": "x"}, True, True, "x", 0)
    fail = ExpectationOutcome("expect_column_values_to_be_between", {"column": "amount", "min_value": 0}, False, True,
                              "amount", 3, 30.0, 10, (-1.0, -2.0, -5.0))
    results = [
        ModelValidation("good_view", "good_view", "expectations/good_view.json", (ok,)),
        ModelValidation("bad_view", "bad_view", "expectations/bad_view.json", (ok, fail) if bad_fails else (ok,)),
    ]
    report.save_run(cfg, results, checksums={"good_view": "s1", "bad_view": "s2"}, validated_at=at)


def test_a_failed_record_write_keeps_latest_and_leaves_no_temp_file(config, monkeypatch):
    _validate(config)
    folder = report.report_dir(config)
    before = {p.name: p.read_text() for p in folder.iterdir()}

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _validate(config, bad_fails=False, at=T0 + dt.timedelta(hours=1))
    assert {p.name: p.read_text() for p in folder.iterdir()} == before


def test_validated_view_is_allowed(config):
    _run_results(config, {"good_view": "2024-06-01T11:00:00.000000Z"})  # built before validation
    _validate(config)
    gate.check_views(config, ["good_view"])
    assert gate.make_gate(config)([type("V", (), {"name": "good_view"})()]) is None


def test_failed_validation_refuses_and_names_the_expectation(config):
    _validate(config)
    with pytest.raises(ChecksFailed) as err:
        gate.make_gate(config)(["good_view", "bad_view"])
    text = str(err.value)
    assert err.value.exit_code == 1
    assert "refused 1 feature view(s): bad_view" in text
    assert "expect_column_values_to_be_between(amount) (3 unexpected, e.g. -1.0, -2.0, -5.0)" in text
    assert "--skip-validation" in text


def test_rebuilt_since_validation_is_refused(config):
    _validate(config, bad_fails=False)
    _run_results(config, {"good_view": "2024-06-01T12:30:00.000000Z"})  # dbt rebuilt it later
    with pytest.raises(ChecksFailed, match="dbt rebuilt it at 2024-06-01T12:30:00"):
        gate.check_views(config, ["good_view"])
    gate.check_views(config, ["bad_view"])  # untouched by that dbt run


def test_changed_definition_is_refused(config):
    _validate(config, bad_fails=False)
    _manifest(config, {"good_view": "s1-edited", "bad_view": "s2"})
    with pytest.raises(ChecksFailed, match="definition changed"):
        gate.check_views(config, ["good_view"])


def test_never_validated_is_refused(config):
    with pytest.raises(ChecksFailed, match="never been validated"):
        gate.check_views(config, ["good_view"])


def test_a_later_select_run_updates_only_its_model(config):
    _validate(config)
    fixed = ModelValidation("bad_view", "bad_view", "expectations/bad_view.json",
                            (ExpectationOutcome("expect_column_values_to_not_be_null", {"column": "x"}, True),))
    report.save_run(config, [fixed], checksums={"bad_view": "s2"}, validated_at=T0 + dt.timedelta(minutes=5))
    latest = report.load_latest(config)["models"]
    assert set(latest) == {"good_view", "bad_view"} and latest["bad_view"]["success"]
    gate.check_views(config, ["good_view", "bad_view"])


def test_a_model_that_could_not_run_is_refused(config):
    broken = ModelValidation("good_view", "good_view", "x.json", error="relation x cannot be read")
    report.save_run(config, [broken], checksums={"good_view": "s1"}, validated_at=T0)
    with pytest.raises(ChecksFailed, match="did not run: relation x cannot be read"):
        gate.check_views(config, ["good_view"])
