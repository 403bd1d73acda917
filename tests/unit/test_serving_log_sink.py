"""The served-vector log sink: format, batching, rotation, flush on shutdown, sampling."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from featurewarehouse.serving.log_format import canonical_keys, log_schema
from featurewarehouse.serving.logging import FeatureLogSink, read_log

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


@dataclass(frozen=True)
class Result:
    """The column-major shape of OnlineFeatures (contract 5)."""

    feature_names: list
    values: list
    statuses: list
    event_timestamps: list


def two_rows() -> Result:
    return Result(
        feature_names=["customer_id", "merchant_id", "txn_count_7d", "chargeback_rate_90d"],
        values=[[42, 43], [7, 8], [3, None], [0.25, 0.5]],
        statuses=[["PRESENT"] * 2, ["PRESENT"] * 2, ["PRESENT", "NOT_FOUND"], ["PRESENT", "OUTSIDE_MAX_AGE"]],
        event_timestamps=[[None, None], [None, None], [T0, None], [T0, T0]],
    )


FEATURES = ["customer_spend_features:txn_count_7d", "merchant_risk_features:chargeback_rate_90d"]


def files(path: Path, pattern: str = "*.parquet") -> list[Path]:
    return sorted(path.glob(pattern))


def test_rows_follow_the_contract_schema(tmp_path):
    with FeatureLogSink(tmp_path) as sink:
        assert sink.log(two_rows(), FEATURES, request_id="r1", served_at=T0)
    table = read_log(tmp_path)
    assert table.schema.equals(log_schema())
    rows = table.to_pylist()
    assert len(rows) == 4  # 2 entity rows x 2 features, join keys are not logged as features
    first = rows[0]
    assert first == {
        "request_id": "r1",
        "served_at": T0.replace(tzinfo=None),
        "row_index": 0,
        "entity_keys": '{"customer_id":42,"merchant_id":7}',
        "feature_view": "customer_spend_features",
        "feature_name": "txn_count_7d",
        "value": "3",
        "status": "PRESENT",
        "event_ts": T0.replace(tzinfo=None),
        "feature_service": None,  # named by refs, not by a service
    }
    missing = rows[1]
    assert (missing["row_index"], missing["value"], missing["status"], missing["event_ts"]) == (1, None, "NOT_FOUND", None)
    assert [r["value"] for r in rows if r["feature_name"] == "chargeback_rate_90d"] == ["0.25", "0.5"]
    assert json.loads(rows[3]["entity_keys"]) == {"customer_id": 43, "merchant_id": 8}


def test_canonical_keys_are_sorted_without_spaces():
    assert canonical_keys({"merchant_id": 7, "customer_id": 42}) == '{"customer_id":42,"merchant_id":7}'


def test_batches_into_row_groups_off_the_request_path(tmp_path):
    sink = FeatureLogSink(tmp_path, flush_seconds=60, batch_rows=40)
    for i in range(50):  # 50 requests x 4 rows = 200 rows -> row groups of >= 40 rows
        sink.log(two_rows(), FEATURES, request_id=f"r{i}")
    sink.close()
    (only,) = files(tmp_path)
    meta = pq.ParquetFile(only).metadata
    assert meta.num_rows == 200
    assert 1 < meta.num_row_groups <= 5
    assert sink.stats().rows_written == 200


def test_rotates_by_size(tmp_path):
    sink = FeatureLogSink(tmp_path, max_file_bytes=1, batch_rows=4, flush_seconds=60)
    for i in range(3):
        sink.log(two_rows(), FEATURES, request_id=f"r{i}")
    sink.close()
    published = files(tmp_path)
    assert len(published) == 3  # every row group exceeds 1 byte: one file each
    assert [pq.read_metadata(f).num_rows for f in published] == [4, 4, 4]
    assert not files(tmp_path, "*.inprogress")


def test_rotates_by_time_and_readers_never_see_open_files(tmp_path):
    sink = FeatureLogSink(tmp_path, max_file_seconds=0.2, flush_seconds=0.05)
    sink.log(two_rows(), FEATURES, request_id="a")
    deadline = time.monotonic() + 5
    while not files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(files(tmp_path)) == 1, "a file older than max_file_seconds is published without close()"
    sink.log(two_rows(), FEATURES, request_id="b")
    sink.close()
    assert len(files(tmp_path)) == 2
    assert read_log(tmp_path).num_rows == 8


def test_flush_publishes_everything_accepted(tmp_path):
    sink = FeatureLogSink(tmp_path, flush_seconds=60, max_file_seconds=3600)
    sink.log(two_rows(), FEATURES)
    assert read_log(tmp_path).num_rows == 0  # still buffered
    sink.flush()
    assert read_log(tmp_path).num_rows == 4
    sink.close()


def test_acknowledged_entries_survive_interpreter_exit(tmp_path):
    """A process that logs and exits without close() still leaves every accepted row on disk."""
    script = f"""
import datetime as dt
from featurewarehouse.serving.logging import FeatureLogSink
class R:
    feature_names = ["customer_id", "f"]
    values = [[1, 2, 3], [0.5, 1.5, None]]
    statuses = [["PRESENT"] * 3, ["PRESENT", "PRESENT", "NOT_FOUND"]]
    event_timestamps = [[None] * 3, [None] * 3]
sink = FeatureLogSink({str(tmp_path)!r}, flush_seconds=3600, max_file_seconds=3600)
n = sum(sink.log(R(), ["v:f"]) for _ in range(1000))
print(n)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    accepted = int(out.stdout.strip())
    assert accepted == 1000
    assert read_log(tmp_path).num_rows == 3 * accepted


def test_sample_rate_logs_about_that_share(tmp_path):
    sink = FeatureLogSink(tmp_path, sample_rate=0.25, seed=7)
    accepted = sum(sink.log(two_rows(), FEATURES) for _ in range(2000))
    sink.close()
    stats = sink.stats()
    assert accepted == stats.accepted
    assert stats.accepted + stats.sampled_out == 2000
    assert 420 <= accepted <= 580  # 500 expected; binomial sd ~19
    assert read_log(tmp_path).num_rows == 4 * accepted


def test_sample_rate_zero_logs_nothing_and_bad_rates_are_refused(tmp_path):
    sink = FeatureLogSink(tmp_path, sample_rate=0.0)
    assert not sink.log(two_rows(), FEATURES)
    sink.close()
    assert files(tmp_path) == []
    from featurewarehouse.errors import ConfigError

    with pytest.raises(ConfigError, match="between 0 and 1"):
        FeatureLogSink(tmp_path, sample_rate=1.5)


def test_full_queue_drops_instead_of_blocking(tmp_path):
    # the writer only wakes every 60 s here, so nothing drains the 3 waiting responses
    sink = FeatureLogSink(tmp_path, queue_size=3, flush_seconds=60)
    assert [sink.log(two_rows(), FEATURES) for _ in range(3)] == [True, True, True]
    start = time.perf_counter()
    assert not sink.log(two_rows(), FEATURES)
    assert time.perf_counter() - start < 0.01
    sink.close()
    assert (sink.stats().accepted, sink.stats().dropped) == (3, 1)
    assert read_log(tmp_path).num_rows == 3 * 4


def test_a_bad_entry_does_not_stop_the_writer(tmp_path):
    sink = FeatureLogSink(tmp_path)
    sink.log(object(), FEATURES)  # not a result at all
    sink.log(two_rows(), FEATURES)
    sink.close()
    assert sink.stats().errors == 1
    assert read_log(tmp_path).num_rows == 4


def test_served_at_defaults_to_now_in_utc(tmp_path):
    before = dt.datetime.now(UTC).replace(tzinfo=None)
    with FeatureLogSink(tmp_path) as sink:
        sink.log(two_rows(), FEATURES)
    after = dt.datetime.now(UTC).replace(tzinfo=None)
    stamps = set(read_log(tmp_path).column("served_at").to_pylist())
    assert len(stamps) == 1
    assert before - dt.timedelta(milliseconds=1) <= stamps.pop() <= after


def rich_rows() -> Result:
    return Result(
        feature_names=["customer_id", "home_country", "first_seen", "score"],
        values=[[42, 43], ["DE", None], [dt.date(2025, 3, 1), None], [1e-07, float("nan")]],
        statuses=[["PRESENT"] * 2, ["PRESENT", "NOT_FOUND"], ["PRESENT", "NOT_FOUND"], ["PRESENT", "PRESENT"]],
        event_timestamps=[[None, None], [T0, None], [T0, None], [T0, T0]],
    )


RICH = ["customers:home_country", "customers:first_seen", "scores:score"]


@pytest.mark.parametrize("converter", ["thread", "process"])
def test_the_servers_payload_logs_the_same_rows_as_the_result(tmp_path, converter):
    """log(payload=feast_json(result)) (the server's path) writes exactly the rows log(result) writes."""
    from featurewarehouse.serving.wire import feast_json

    with FeatureLogSink(tmp_path, converter=converter) as sink:
        for result, refs in ((two_rows(), FEATURES), (rich_rows(), RICH)):
            assert sink.log(result, refs, request_id="obj", served_at=T0)
            assert sink.log(None, refs, request_id="bytes", served_at=T0, payload=feast_json(result))
    rows = read_log(tmp_path).to_pylist()
    by_object = [dict(r, request_id=None) for r in rows if r["request_id"] == "obj"]
    by_payload = [dict(r, request_id=None) for r in rows if r["request_id"] == "bytes"]
    assert len(by_object) == 4 + 6
    assert by_payload == by_object
    rich = {(r["feature_name"], r["row_index"]): (r["value"], r["event_ts"]) for r in by_payload}
    t0 = T0.replace(tzinfo=None)
    assert rich[("home_country", 0)] == ('"DE"', t0)
    assert rich[("first_seen", 0)] == ('"2025-03-01"', t0)
    assert rich[("first_seen", 1)] == (None, None)  # Feast's zero time is "no event time"
    assert rich[("score", 1)] == (None, t0)  # NaN is logged as missing


def test_writer_process_batches_rotates_and_counts(tmp_path):
    sink = FeatureLogSink(tmp_path, converter="process", max_file_bytes=1, batch_rows=4, flush_seconds=60)
    for i in range(3):
        sink.log(two_rows(), FEATURES, request_id=f"r{i}")
    sink.log(object(), FEATURES)  # not a result: counted in the server, the others still written
    sink.flush()
    assert [pq.read_metadata(f).num_rows for f in files(tmp_path)] == [4, 4, 4]
    sink.close()
    stats = sink.stats()
    assert (stats.accepted, stats.rows_written, stats.files_written, stats.errors) == (4, 12, 3, 1)
    assert sink._child.returncode == 0  # the writer process ended with the sink
    assert not files(tmp_path, "*.inprogress")


def test_writer_process_publishes_when_the_server_dies(tmp_path):
    """Entries already forwarded reach disk even when the server exits without closing the sink."""
    script = f"""
import os
from featurewarehouse.serving.logging import FeatureLogSink
class R:
    feature_names = ["customer_id", "f"]
    values = [[1, 2, 3], [0.5, 1.5, None]]
    statuses = [["PRESENT"] * 3, ["PRESENT", "PRESENT", "NOT_FOUND"]]
    event_timestamps = [[None] * 3, [None] * 3]
sink = FeatureLogSink({str(tmp_path)!r}, converter="process", flush_seconds=3600, max_file_seconds=3600)
n = sum(sink.log(R(), ["v:f"]) for _ in range(500))
sink._wake.set()
while sink._items:
    pass
import time; time.sleep(0.2)
print(n, sink._child.pid, flush=True)
os._exit(0)  # no atexit, no close(): only the pipe closing tells the writer
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    accepted, pid = map(int, out.stdout.split())
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read_log(tmp_path).num_rows == 3 * accepted == 1500


def test_acknowledged_entries_survive_interpreter_exit_with_the_writer_process(tmp_path):
    script = f"""
from featurewarehouse.serving.logging import FeatureLogSink
class R:
    feature_names = ["customer_id", "f"]
    values = [[1, 2, 3], [0.5, 1.5, None]]
    statuses = [["PRESENT"] * 3, ["PRESENT", "PRESENT", "NOT_FOUND"]]
    event_timestamps = [[None] * 3, [None] * 3]
sink = FeatureLogSink({str(tmp_path)!r}, converter="process", flush_seconds=3600, max_file_seconds=3600)
print(sum(sink.log(R(), ["v:f"]) for _ in range(1000)))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == 1000
    assert read_log(tmp_path).num_rows == 3000


def test_a_dead_writer_process_falls_back_to_writing_in_process(tmp_path):
    sink = FeatureLogSink(tmp_path, converter="process", flush_seconds=60, max_file_seconds=3600)
    sink.log(two_rows(), FEATURES, request_id="before")
    sink.flush()  # written and published by the writer process
    sink._child.kill()
    sink._child.wait(10)
    for i in range(3):
        assert sink.log(two_rows(), FEATURES, request_id=f"after{i}")
    sink.close()
    assert read_log(tmp_path).num_rows == 4 + 3 * 4
    assert sink.stats().errors == 1
    assert "writer process ended" in sink.stats().last_error


def test_unknown_converter_is_refused(tmp_path):
    from featurewarehouse.errors import ConfigError

    with pytest.raises(ConfigError, match="converter"):
        FeatureLogSink(tmp_path, converter="fork")
