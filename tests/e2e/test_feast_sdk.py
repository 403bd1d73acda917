"""Feast's own Python SDK reads from `fwctl serve` unchanged (issue 16).

Feast runs in a virtualenv of its own, since it pins its own versions of packages we
share (pyarrow, pandas, pydantic, fastapi): bench/feast_venv.py builds it once under
~/.cache/featurewarehouse (FW_FEAST_VENV overrides) and reuses it. A Feast repo
with `online_store: type: remote` points at one `fwctl serve` process for the module;
tests/e2e/feast_driver.py runs every case through `FeatureStore.get_online_features`.
In CI a failed install fails; elsewhere it skips with the command that would fix it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import IN_CI
from serving_support import start_serve

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("feast_driver.py")
sys.path.insert(0, str(REPO / "bench"))
from feast_venv import FeastVenvError, feast_python  # noqa: E402  (the one home of Feast's venv)


def _feast_python() -> Path:
    """Feast's interpreter (built on first use); in CI a failed install fails, elsewhere it skips."""
    try:
        return feast_python()
    except FeastVenvError as e:
        if IN_CI:
            pytest.fail(str(e), pytrace=False)
        pytest.skip(str(e))


def _fill(url: str) -> None:
    """Two views with event times just before now: values are PRESENT for Feast's client, whatever the date."""
    import pyarrow as pa

    from featurewarehouse.online.base import ViewLayout, ViewState, open_store
    from featurewarehouse.online.keys import micros

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ts = micros(now - dt.timedelta(hours=1))
    customer = ViewLayout("customer_spend_features", ("customer_id",), ("int",), ("txn_count_7d", "home_country"),
                          ("int", "str"), ttl_seconds=30 * 86400)
    merchant = ViewLayout("merchant_risk_features", ("merchant_id",), ("int",), ("chargeback_rate_90d",), ("float",))
    store = open_store(url)
    for layout, data, schema in (
        (customer, {"customer_id": [1, 2], "__ts": [ts, ts], "__cts": [0, 0], "txn_count_7d": [3, 9],
                    "home_country": ["FR", None]},
         [("customer_id", pa.int64()), ("__ts", pa.int64()), ("__cts", pa.int64()), ("txn_count_7d", pa.int64()),
          ("home_country", pa.string())]),
        (merchant, {"merchant_id": [7], "__ts": [ts], "__cts": [0], "chargeback_rate_90d": [0.25]},
         [("merchant_id", pa.int64()), ("__ts", pa.int64()), ("__cts", pa.int64()), ("chargeback_rate_90d", pa.float64())]),
    ):
        store.begin_view(layout, full_refresh=True)
        store.write_batch(layout, pa.record_batch(data, schema=pa.schema(schema)))
        store.commit_view(ViewState(layout, "regv1", None, now.isoformat()))
    store.close()


SERVICES = (("fraud_model", ("customer_spend_features:txn_count_7d", "merchant_risk_features:*")),)
SECRET = "feast-sdk-test-token-0001"


def _project(tmp: Path) -> Path:
    """A project whose registry declares the feature services (what `fwctl registry build` writes)."""
    from featurewarehouse.registry.model import FeatureService, Registry

    project = tmp / "project"
    (project / "target").mkdir(parents=True)
    (project / "dbt_project.yml").write_text((REPO / "dbt_project.yml").read_text())
    registry = Registry(entities=(), feature_views=(), feature_services=tuple(FeatureService(n, f) for n, f in SERVICES))
    (project / "target" / "fw_registry.json").write_text(json.dumps(registry.to_dict()))
    return project


def _serve(tmp: Path, extra: list[str], auth: str = ""):
    """(fwctl serve process, feast repo dir) for the filled store and _project; ``auth``: feature_store.yaml's auth section."""
    store = f"sqlite:///{tmp / 'online.db'}"
    _fill(store)
    project = _project(tmp)
    proc, port = start_serve(["--project-dir", str(project), "--store", store, *extra])
    repo = tmp / "feature_repo"
    repo.mkdir()
    # what docs/feast.md tells a Feast user to write
    (repo / "feature_store.yaml").write_text(
        "project: fraud\n"
        "provider: local\n"
        f"registry: {repo / 'registry.db'}\n"
        "online_store:\n"
        "  type: remote\n"
        f"  path: http://127.0.0.1:{port}\n"
        "entity_key_serialization_version: 3\n" + auth
    )
    return proc, repo


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


@pytest.fixture(scope="module")
def feast(tmp_path_factory):
    """(feast python, feast repo dir) with `fwctl serve` running behind the repo's remote online store."""
    python = _feast_python()
    proc, repo = _serve(tmp_path_factory.mktemp("feast"), [])
    yield python, repo
    _stop(proc)


@pytest.fixture(scope="module")
def feast_with_token(tmp_path_factory):
    """The same, behind a token file: the token reads the fraud_model service only; Feast sends it as a bearer token."""
    python = _feast_python()
    tmp = tmp_path_factory.mktemp("feast-token")
    tokens = tmp / "tokens.yml"
    tokens.write_text(json.dumps({"tokens": [{"name": "fraud", "token": SECRET, "services": ["fraud_model"],
                                              "scopes": ["read"]}]}))
    # Feast's client sends `Authorization: Bearer <token>` from its oidc auth config's token_env_var
    proc, repo = _serve(tmp, ["--token-file", str(tokens)], "auth:\n  type: oidc\n  token_env_var: FW_TEST_FEAST_TOKEN\n")
    yield python, repo
    _stop(proc)


def run_cases(feast, cases: list[dict], env: dict | None = None) -> list[dict]:
    python, repo = feast
    path = repo / "cases.json"
    path.write_text(json.dumps(cases))
    result = subprocess.run([str(python), str(DRIVER), str(repo), str(path)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


SINGLE = {"features": ["merchant_risk_features:chargeback_rate_90d"], "entity_rows": [{"merchant_id": 7}, {"merchant_id": 8}]}
SEVERAL = {
    "features": ["customer_spend_features:txn_count_7d", "customer_spend_features:home_country",
                 "merchant_risk_features:chargeback_rate_90d"],
    "entity_rows": [{"customer_id": 1, "merchant_id": 7}, {"customer_id": 2, "merchant_id": 8},
                    {"customer_id": 3, "merchant_id": 7}],
}
WILDCARD_FULL_NAMES = {"features": ["customer_spend_features:*"], "entity_rows": [{"customer_id": 1}], "full_feature_names": True}
UNKNOWN = {"features": ["customer_spend_features:txn_cnt_7d"], "entity_rows": [{"customer_id": 1}]}
SERVICE = {"feature_service": "fraud_model", "entity_rows": [{"customer_id": 1, "merchant_id": 7}]}
SERVICE_VALUES = {"customer_id": [1], "merchant_id": [7], "txn_count_7d": [3], "chargeback_rate_90d": [0.25]}


@pytest.fixture(scope="module")
def results(feast):
    """Every case in one SDK process (Feast's import costs seconds)."""
    return dict(zip(["single", "several", "full_names", "unknown", "service"],
                    run_cases(feast, [SINGLE, SEVERAL, WILDCARD_FULL_NAMES, UNKNOWN, SERVICE])))


def test_single_view(results):
    r = results["single"]
    assert r.get("dict") == {"merchant_id": [7, 8], "chargeback_rate_90d": [0.25, None]}, r
    assert r["df_columns"] == ["merchant_id", "chargeback_rate_90d"]


def test_several_views_and_two_entities(results):
    assert results["several"].get("dict") == {
        "customer_id": [1, 2, 3],
        "merchant_id": [7, 8, 7],
        "txn_count_7d": [3, 9, None],
        "home_country": ["FR", None, None],
        "chargeback_rate_90d": [0.25, None, 0.25],
    }, results["several"]


def test_full_feature_names_and_wildcards(results):
    assert results["full_names"].get("dict") == {
        "customer_id": [1],
        "customer_spend_features__txn_count_7d": [3],
        "customer_spend_features__home_country": ["FR"],
    }, results["full_names"]


def test_an_unknown_feature_raises_feasts_error_with_our_message(results):
    r = results["unknown"]
    # Feast's SDK decoded our error body and raised feast.errors.FeastError with the message
    assert (r.get("error_module"), r.get("error_class")) == ("feast.errors", "FeastError"), r
    assert "did you mean 'txn_count_7d'" in r["message"], r


def test_feature_service(results):
    assert results["service"].get("dict") == SERVICE_VALUES, results["service"]


def test_with_a_token_feasts_sdk_reads_its_service_and_nothing_else(feast_with_token):
    with_token, outside_scope, wrong = (
        run_cases(feast_with_token, [SERVICE, SINGLE], env={"FW_TEST_FEAST_TOKEN": SECRET})
        + run_cases(feast_with_token, [SERVICE], env={"FW_TEST_FEAST_TOKEN": "not-the-token"}))
    assert with_token.get("dict") == SERVICE_VALUES, with_token
    assert "token 'fraud' may not read feature view(s) merchant_risk_features" in outside_scope.get("message", ""), outside_scope
    assert "wrong bearer token" in wrong.get("message", ""), wrong
    assert SECRET not in json.dumps([outside_scope, wrong])
