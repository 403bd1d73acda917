"""Feature services and bearer tokens in the HTTP feature server.

A request names a service declared in the project (Feast's ``feature_service``
field); the server serves its features, logs the rows under its name with its own
logging settings, and checks that the caller's token may read it.
"""
from __future__ import annotations

import hashlib
import json

import pytest
from fastapi.testclient import TestClient

from featurewarehouse.errors import ConfigError
from featurewarehouse.online.base import open_store
from featurewarehouse.registry.model import FeatureService, Registry
from featurewarehouse.serving.auth import TokenSet, is_loopback, load_token_file
from featurewarehouse.serving.client import OnlineClient
from featurewarehouse.serving.http import create_app
from featurewarehouse.serving.logging import FeatureLogSink, read_log
from featurewarehouse.serving.wire import error_message
from test_serving_http import NOW, fill

SERVICES = (
    FeatureService("fraud_model", ("customer_spend_features:txn_count_7d", "merchant_risk_features:*"),
                   logging={"enabled": True, "sample_rate": 1.0}),
    FeatureService("spend_only", ("customer_spend_features:*",), logging={"enabled": False}),
    FeatureService("sampled_out", ("merchant_risk_features:*",), logging={"enabled": True, "sample_rate": 0.0}),
)
ENTITIES = {"customer_id": [1], "merchant_id": [7]}


@pytest.fixture
def client(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'online.db'}")
    fill(store)
    c = OnlineClient(store, Registry(entities=(), feature_views=(), feature_services=SERVICES), clock=lambda: NOW)
    yield c
    c.close()


def post(http, body, **kw):
    return http.post("/get-online-features", content=json.dumps(body), **kw)


def test_a_feature_service_serves_its_features(client):
    with TestClient(create_app(client, token="")) as http:
        by_service = post(http, {"feature_service": "fraud_model", "entities": ENTITIES})
        by_refs = post(http, {"features": list(SERVICES[0].features), "entities": ENTITIES})
        assert by_service.status_code == 200, by_service.text
        assert by_service.json() == by_refs.json()
        assert by_service.json()["metadata"]["feature_names"] == ["customer_id", "merchant_id", "txn_count_7d",
                                                                   "chargeback_rate_90d"]
        unknown = post(http, {"feature_service": "fraud_modle", "entities": ENTITIES})
        assert unknown.status_code == 422
        assert "unknown feature service 'fraud_modle'" in error_message(unknown.content)
        assert "fraud_model" in error_message(unknown.content)  # did you mean
        assert json.loads(unknown.json())["class"] == "FeatureServiceNotFoundException"


def test_the_python_client_takes_a_service(client):
    got = client.get_online_features(None, [{"customer_id": 1, "merchant_id": 7}], feature_service="fraud_model")
    assert list(got.to_dict()) == ["customer_id", "merchant_id", "txn_count_7d", "chargeback_rate_90d"]
    with pytest.raises(ConfigError, match="both features and feature_service"):
        client.get_online_features(["merchant_risk_features:*"], [{"merchant_id": 7}], feature_service="fraud_model")


def test_logged_rows_record_the_service_with_its_own_settings(client, tmp_path):
    sink = FeatureLogSink(tmp_path / "logs", flush_seconds=60, converter="process")
    with TestClient(create_app(client, log_sink=sink, token="")) as http:
        assert post(http, {"feature_service": "fraud_model", "entities": ENTITIES},
                    headers={"x-request-id": "svc"}).status_code == 200
        assert post(http, {"features": ["merchant_risk_features:*"], "entities": {"merchant_id": [7]}},
                    headers={"x-request-id": "refs"}).status_code == 200
        # logging disabled for this service, and a service sampling none of its requests
        assert post(http, {"feature_service": "spend_only", "entities": {"customer_id": [1]}},
                    headers={"x-request-id": "off"}).status_code == 200
        assert post(http, {"feature_service": "sampled_out", "entities": {"merchant_id": [7]}},
                    headers={"x-request-id": "zero"}).status_code == 200
    rows = read_log(tmp_path / "logs").to_pylist()
    assert sorted((r["request_id"], r["feature_name"], r["feature_service"]) for r in rows) == [
        ("refs", "chargeback_rate_90d", None),
        ("svc", "chargeback_rate_90d", "fraud_model"),
        ("svc", "txn_count_7d", "fraud_model"),
    ]


def test_the_python_clients_logger_records_the_service(client, tmp_path):
    # the results path (not the server's payload bytes), several entity rows: rows stay aligned with their service
    client.logger = FeatureLogSink(tmp_path / "logs", flush_seconds=60)
    client.get_online_features(None, {"customer_id": [1, 2], "merchant_id": [7, 8]}, feature_service="fraud_model")
    client.get_online_features(["customer_spend_features:txn_count_7d"], {"customer_id": [3]})
    client.logger.close()
    rows = read_log(tmp_path / "logs").to_pylist()
    assert sorted((r["row_index"], r["feature_name"], r["feature_service"] or "-") for r in rows) == [
        (0, "chargeback_rate_90d", "fraud_model"), (0, "txn_count_7d", "-"), (0, "txn_count_7d", "fraud_model"),
        (1, "chargeback_rate_90d", "fraud_model"), (1, "txn_count_7d", "fraud_model"),
    ]


def test_old_log_files_without_the_service_column_load_as_null(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurewarehouse.serving.log_format import log_schema

    old = pa.schema([f for f in log_schema() if f.name != "feature_service"])
    row = {"request_id": "old", "served_at": NOW, "row_index": 0, "entity_keys": "{}", "feature_view": "v",
           "feature_name": "f", "value": "1", "status": "PRESENT", "event_ts": NOW}
    (tmp_path / "logs").mkdir()
    pq.write_table(pa.Table.from_pylist([row], schema=old), tmp_path / "logs" / "fw-log-old.parquet")
    [loaded] = read_log(tmp_path / "logs").to_pylist()
    assert loaded["request_id"] == "old" and loaded["feature_service"] is None


# ---- tokens ---------------------------------------------------------------------
SECRETS = {"fraud": "fraud-team-secret-0001", "merchant": "merchant-view-secret-02", "all": "everything-secret-0003"}


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "tokens.yml"
    path.write_text(json.dumps({"tokens": [
        {"name": "fraud", "sha256": hashlib.sha256(SECRETS["fraud"].encode()).hexdigest(),
         "services": ["fraud_model"], "scopes": ["read"]},
        {"name": "merchant", "token": SECRETS["merchant"], "views": ["merchant_risk_features"], "scopes": ["read"]},
        {"name": "all", "token": SECRETS["all"], "services": ["*"], "views": ["*"], "scopes": ["read"]},
    ]}))
    return path


def bearer(name):
    return {"authorization": f"Bearer {SECRETS[name]}"}


def test_tokens_scope_services_and_views(client, token_file):
    with TestClient(create_app(client, tokens=load_token_file(token_file))) as http:
        service = {"feature_service": "fraud_model", "entities": ENTITIES}
        merchant = {"features": ["merchant_risk_features:*"], "entities": {"merchant_id": [7]}}
        spend = {"features": ["customer_spend_features:txn_count_7d"], "entities": {"customer_id": [1]}}
        assert post(http, service).status_code == 401
        assert post(http, service, headers={"authorization": "Bearer not-a-token"}).status_code == 401
        assert post(http, service, headers={"authorization": "Basic abc"}).status_code == 401
        assert post(http, service, headers=bearer("fraud")).status_code == 200
        # the service's token reads the service, not its views by ref
        denied = post(http, merchant, headers=bearer("fraud"))
        assert denied.status_code == 403
        assert "token 'fraud' may not read feature view(s) merchant_risk_features" in error_message(denied.content)
        assert post(http, merchant, headers=bearer("merchant")).status_code == 200
        assert post(http, spend, headers=bearer("merchant")).status_code == 403
        # a service whose views are all the token's is readable by it; one with other views is not
        assert post(http, {"feature_service": "sampled_out", "entities": {"merchant_id": [7]}},
                    headers=bearer("merchant")).status_code == 200
        assert post(http, service, headers=bearer("merchant")).status_code == 403
        for body in (service, merchant, spend):
            assert post(http, body, headers=bearer("all")).status_code == 200
        assert http.get("/health").status_code == 200  # probes need no token
        # no answer, error or log line echoes a secret
        for name in SECRETS:
            r = post(http, spend, headers={"authorization": f"Bearer {SECRETS[name]}x"})
            assert r.status_code == 401 and SECRETS[name] not in r.text


@pytest.mark.parametrize("entry,problem", [
    ({"name": "a", "services": ["x"], "scopes": ["read"]}, "exactly one of `sha256`"),
    ({"name": "a", "sha256": "abc", "services": ["x"], "scopes": ["read"]}, "64 hex digits"),
    ({"name": "a", "token": "short", "services": ["x"], "scopes": ["read"]}, "at least 16 characters"),
    ({"name": "a", "token": "x" * 16, "scopes": ["read"]}, "grants nothing"),
    ({"name": "a", "token": "x" * 16, "views": ["*"], "scopes": ["read", "write"]}, "unknown scope(s) write"),
    ({"name": "a", "token": "x" * 16, "views": ["*"]}, "`scopes` must include read"),
    ({"name": "a", "token": "x" * 16, "views": ["*"], "scopes": ["read"], "role": "x"}, "unknown key(s) role"),
])
def test_a_bad_token_file_says_which_token_and_key(tmp_path, entry, problem):
    path = tmp_path / "tokens.yml"
    path.write_text(json.dumps({"tokens": [entry]}))
    with pytest.raises(ConfigError) as err:
        load_token_file(path)
    assert problem in err.value.message and "tokens[0] (a)" in err.value.message
    assert entry.get("token", "\0") not in err.value.message  # never echoes a secret


def test_a_token_file_without_tokens_or_missing_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the token file"):
        load_token_file(tmp_path / "missing.yml")
    (tmp_path / "empty.yml").write_text("tokens: []\n")
    with pytest.raises(ConfigError, match="has no `tokens` list"):
        load_token_file(tmp_path / "empty.yml")


def test_the_env_token_reads_everything():
    tokens = TokenSet.from_secret("s3cret-value")
    token = tokens.authenticate("Bearer s3cret-value")
    tokens.authorize(token, ("customer_spend_features:*",), None)
    tokens.authorize(token, ("customer_spend_features:*",), "fraud_model")


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                           ("localhost", True), ("0.0.0.0", False), ("10.1.2.3", False), ("::", False)])
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback
