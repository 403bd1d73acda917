"""The serving gate, both ways: validated views pass; failed, rebuilt, changed or unvalidated views are refused."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from featurewarehouse.config import load_config
from featurewarehouse.errors import ChecksFailed
from featurewarehouse.validation import gate, report, suites
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


def _manifest(cfg, sums, amount_max=1):
    def node(name, checksum):
        checks = {"not_null": True, "min": 0, "max": amount_max}
        return {"resource_type": "model", "name": name, "checksum": {"checksum": checksum},
                "columns": {"amount": {"name": "amount", "data_type": "double",
                                       "config": {"meta": {"fw": {"feature": True, "checks": checks}}}}}}

    nodes = {f"model.p.{n}": node(n, s) for n, s in sums.items()}
    (cfg.target_path / "manifest.json").write_text(json.dumps({"nodes": nodes}))
    for name in sums:  # the suite as `fwctl expectations generate` would write it from that YAML
        spec = _specs(cfg)[name]
        path = suites.suite_path(cfg.project_dir, name)
        path.parent.mkdir(exist_ok=True)
        path.write_text(suites.dumps_suite(suites.merge_suite(None, name, suites.generate_expectations(spec))))


def _specs(cfg):
    manifest = json.loads((cfg.target_path / "manifest.json").read_text())
    return {s.name: s for s in suites.specs_from_manifest(manifest, {})}


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
    report.save_run(cfg, results, checksums={"good_view": "s1", "bad_view": "s2"}, validated_at=at,
                    fingerprints={n: gate.fingerprint(cfg, s) for n, s in _specs(cfg).items()})


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
    with pytest.raises(ChecksFailed, match=r"its definition \(SQL\) changed"):
        gate.check_views(config, ["good_view"])


def test_never_validated_is_refused(config):
    with pytest.raises(ChecksFailed, match="never been validated"):
        gate.check_views(config, ["good_view"])


def test_a_later_select_run_updates_only_its_model(config):
    _validate(config)
    fixed = ModelValidation("bad_view", "bad_view", "expectations/bad_view.json",
                            (ExpectationOutcome("expect_column_values_to_not_be_null", {"column": "x"}, True),))
    report.save_run(config, [fixed], checksums={"bad_view": "s2"}, validated_at=T0 + dt.timedelta(minutes=5),
                    fingerprints={"bad_view": gate.fingerprint(config, _specs(config)["bad_view"])})
    latest = report.load_latest(config)["models"]
    assert set(latest) == {"good_view", "bad_view"} and latest["bad_view"]["success"]
    gate.check_views(config, ["good_view", "bad_view"])


def test_a_model_that_could_not_run_is_refused(config):
    broken = ModelValidation("good_view", "good_view", "x.json", error="relation x cannot be read")
    report.save_run(config, [broken], checksums={"good_view": "s1"}, validated_at=T0)
    with pytest.raises(ChecksFailed, match="did not run: relation x cannot be read"):
        gate.check_views(config, ["good_view"])


# ---------------------------------------------------------------- changed checks (issue 17)


def test_an_edited_suite_is_refused_and_named(config):
    _validate(config, bad_fails=False)
    path = suites.suite_path(config.project_dir, "good_view")
    suite = json.loads(path.read_text())
    suite["expectations"].append({"type": "expect_column_values_to_be_between",
                                  "kwargs": {"column": "amount", "max_value": 0.5}, "meta": {}})
    path.write_text(json.dumps(suite))
    with pytest.raises(ChecksFailed, match=r"its suite expectations/good_view.json changed") as err:
        gate.check_views(config, ["good_view"])
    assert "YAML" not in str(err.value)  # only what changed is named
    gate.check_views(config, ["bad_view"])


def test_a_tightened_yaml_check_then_generate_is_refused(config):
    """The issue's reproduction: max 1 -> 0.1, `fwctl expectations generate`, sync: refused."""
    _validate(config, bad_fails=False)
    _manifest(config, {"good_view": "s1", "bad_view": "s2"}, amount_max=0.1)  # parse + generate
    with pytest.raises(ChecksFailed) as err:
        gate.check_views(config, ["good_view"])
    text = str(err.value)
    assert "its suite expectations/good_view.json changed" in text
    assert "the checks its YAML declares changed" in text and "not regenerated" not in text


def test_a_tightened_yaml_check_without_generate_is_refused_with_the_fix(config):
    _validate(config, bad_fails=False)
    suite_before = suites.suite_path(config.project_dir, "good_view").read_text()
    _manifest(config, {"good_view": "s1", "bad_view": "s2"}, amount_max=0.1)  # dbt parse only
    suites.suite_path(config.project_dir, "good_view").write_text(suite_before)
    with pytest.raises(ChecksFailed, match=r"YAML declares changed \(and expectations/good_view.json was not "
                                           r"regenerated: run `fwctl expectations generate --select good_view`\)"):
        gate.check_views(config, ["good_view"])


def test_a_removed_suite_is_refused(config):
    _validate(config, bad_fails=False)
    suites.suite_path(config.project_dir, "good_view").unlink()
    with pytest.raises(ChecksFailed, match="its suite expectations/good_view.json was removed"):
        gate.check_views(config, ["good_view"])


def test_every_change_is_named_at_once(config):
    _validate(config, bad_fails=False)
    _run_results(config, {"good_view": "2024-06-01T12:30:00.000000Z"})
    _manifest(config, {"good_view": "s1-edited", "bad_view": "s2"}, amount_max=0.1)
    with pytest.raises(ChecksFailed) as err:
        gate.check_views(config, ["good_view"])
    text = str(err.value)
    for part in ("dbt rebuilt it", "definition (SQL) changed", "suite expectations/good_view.json changed",
                 "YAML declares changed"):
        assert part in text


def test_a_record_without_fingerprints_is_refused(config):
    ok = ModelValidation("good_view", "good_view", "expectations/good_view.json")
    report.save_run(config, [ok], checksums={"good_view": "s1"}, validated_at=T0)
    with pytest.raises(ChecksFailed, match="predates suite and check fingerprints"):
        gate.check_views(config, ["good_view"])


def test_a_view_missing_from_the_manifest_is_refused(config):
    _validate(config, bad_fails=False)
    _manifest(config, {"bad_view": "s2"})
    with pytest.raises(ChecksFailed, match="not in the dbt manifest"):
        gate.check_views(config, ["good_view"])


# ---------------------------------------------------------------- blocking monitors (one gate)


def _monitored(cfg, breaches):
    from featurewarehouse.monitoring import history
    from featurewarehouse.monitoring.run import Breach, ViewResult

    result = ViewResult("good_view", "previous window", "view good_view", "2024-06-01", (), {}, tuple(breaches))
    history.append(cfg, [result], T0 + dt.timedelta(hours=1))


def test_a_blocking_monitor_breach_refuses_the_view(config):
    from featurewarehouse.monitoring.run import Breach

    _validate(config, bad_fails=False)
    _monitored(config, [Breach("good_view", "amount", "psi", 0.7, 0.2, blocking=True)])
    with pytest.raises(ChecksFailed) as err:
        gate.check_views(config, ["good_view", "bad_view"])
    text = str(err.value)
    assert "refused 1 feature view(s): good_view" in text
    assert "a blocking monitor breached" in text and "amount psi 0.7 > 0.2 (blocking)" in text
    assert "fw_monitor/latest.json" in text and "fwctl monitor --select good_view" in text


def test_a_non_blocking_breach_or_a_later_clean_run_lets_it_through(config):
    from featurewarehouse.monitoring.run import Breach

    _validate(config, bad_fails=False)
    _monitored(config, [Breach("good_view", "amount", "psi", 0.7, 0.2, blocking=False)])
    gate.check_views(config, ["good_view"])
    _monitored(config, [Breach("good_view", "amount", "psi", 0.7, 0.2, blocking=True)])
    _monitored(config, [])  # monitored again after the fix: history keeps both runs
    gate.check_views(config, ["good_view"])
    from featurewarehouse.monitoring import history

    assert len(history.runs(config)) == 3


def test_every_validation_run_is_kept_with_the_registry_version(config):
    (config.registry_path).parent.mkdir(parents=True, exist_ok=True)
    config.registry_path.write_text(json.dumps({"version": "v-abc"}))
    _validate(config)
    _validate(config, bad_fails=False, at=T0 + dt.timedelta(minutes=1))
    runs = sorted(report.report_dir(config).glob("run-*.json"))
    assert len(runs) == 2
    first, second = (json.loads(p.read_text()) for p in runs)
    assert first["registry_version"] == second["registry_version"] == "v-abc"
    assert first["success"] is False and second["success"] is True  # the failed run is not overwritten
