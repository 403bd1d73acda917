"""Python historical retrieval equals the brute-force PIT reference, row for row and in spine order.

It shares everything with the macro's property tests (tests/dbt/test_pit_properties.py):
the fixture project (tests/dbt/project, copied with the real macros), the
hypothesis strategies and the reference (tests/pit_cases). Each example refills
the view tables and calls ``FeatureStore.get_historical_features`` with the
spine as an Arrow table; the rendered SQL is cached per feature list, so the
run costs one dbt build plus one compile per feature list.
"""
from __future__ import annotations

from datetime import timezone

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit_project import build, env, fill_statements, make_project, target_env  # noqa: I001  (tests/dbt on sys.path)
from pit_cases import reference
from pit_cases.cases import SPINE_COLUMNS, VIEW_COLUMNS, VIEWS
from pit_cases.strategies import RandomCase, random_case

ALL_VIEWS = ["v_plain", "v_ttl", "v_avail", "v_avail_nottl", "v_pair", "v_merchant"]
REQUESTS = {
    # (features, full_feature_names) -> the reference's requests
    "all": ([f"{v}:*" for v in ALL_VIEWS], True),
    "short": (["v_ttl:f_int", "v_pair:f_str"], False),
}
ZONES = (None, "UTC", "Asia/Tokyo", "America/New_York")


def spine_table(case: RandomCase, zone: str | None) -> pa.Table:
    """The case's spine as Arrow; event_ts naive UTC, or the same instants in ``zone``."""
    ts = pa.array([r["event_ts"] for r in case.spine], pa.timestamp("us"))
    if zone is not None:
        ts = ts.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us", zone))
    return pa.table({
        "row_tag": pa.array([r["row_tag"] for r in case.spine], pa.int64()),
        "customer_id": pa.array([r["customer_id"] for r in case.spine], pa.int64()),
        "merchant_id": pa.array([r["merchant_id"] for r in case.spine], pa.int64()),
        "event_ts": ts,
        "event_day": pa.array([r["event_day"] for r in case.spine], pa.date32()),
    })


def expected_rows(case: RandomCase, timestamp: str, which: str) -> tuple[list[str], list[tuple]]:
    features, full = REQUESTS[which]
    if which == "all":
        requests = [(VIEWS[v], case.rows[v], None) for v in ALL_VIEWS]
    else:
        requests = [(VIEWS["v_ttl"], case.rows["v_ttl"], ["f_int"]), (VIEWS["v_pair"], case.rows["v_pair"], ["f_str"])]
    out = reference.point_in_time_join(case.spine, timestamp, requests, full_feature_names=full)
    columns = [c for c in (out[0] if out else {}) if c not in SPINE_COLUMNS or c == "row_tag"]
    return columns, [tuple(r[c] for c in columns) for r in out]


class Harness:
    def __init__(self, project, target: str, relations: dict[str, str]):
        from featurewarehouse.config import load_config
        from featurewarehouse.store import FeatureStore

        self.store = FeatureStore(config=load_config(project, target=target))
        self.relations = relations

    def load(self, case: RandomCase) -> None:
        from featurewarehouse.offline.warehouse import connect

        wh = connect(self.store.config)
        try:
            for name in ALL_VIEWS:
                for sql in fill_statements(self.relations[name], VIEW_COLUMNS[name], case.rows.get(name, [])):
                    wh.execute(sql)
        finally:
            wh.close()

    def check(self, case: RandomCase, timestamp: str, which: str, zone: str | None) -> None:
        features, full = REQUESTS[which]
        spine = spine_table(case, zone)
        got = self.store.get_historical_features(
            spine, features, timestamp_column=timestamp, full_feature_names=full).to_arrow()
        columns, expected = expected_rows(case, timestamp, which)
        assert got.column_names[: len(SPINE_COLUMNS)] == list(SPINE_COLUMNS)
        assert got.num_rows == len(case.spine)
        rows = got.select(columns).to_pylist()
        assert [tuple(r[c] for c in columns) for r in rows] == expected, (which, timestamp, zone)
        # the caller's columns come back as given
        if zone is None:
            assert got.column("event_ts").to_pylist() == [r["event_ts"] for r in case.spine]
        else:
            back = got.column("event_ts").cast(pa.timestamp("us", "UTC")).to_pylist()
            assert back == [None if r["event_ts"] is None else r["event_ts"].replace(tzinfo=timezone.utc)
                            for r in case.spine]


def run_properties(harness: Harness, examples: int) -> None:
    @settings(max_examples=examples, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(case=random_case(), zone=st.sampled_from(ZONES), which=st.sampled_from(sorted(REQUESTS)))
    def property_(case: RandomCase, zone: str | None, which: str) -> None:
        harness.load(case)
        harness.check(case, "event_ts", which, zone)
        harness.check(case, "event_day", which, None)

    property_()


def test_python_retrieval_equals_reference_on_duckdb(tmp_path):
    project = make_project(tmp_path)
    with env(**target_env(project, "dev")):
        built = build(project, "dev")
        run_properties(Harness(project, "dev", built.relation), examples=40)


@pytest.mark.postgres
def test_python_retrieval_equals_reference_on_postgres(tmp_path, pg_schema):
    project = make_project(tmp_path)
    with env(**target_env(project, "postgres", pg_schema)):
        built = build(project, "postgres", pg_schema)
        run_properties(Harness(project, "postgres", built.relation), examples=15)
