"""Training/serving skew: logged served values against the warehouse's point-in-time values.

For every logged vector (entity keys, ``served_at``) the warehouse computes what
a training set would have held for the same keys at the same time, through the
PIT macro (historical retrieval: one ``dbt compile --inline``). Each logged
(vector, feature) is then one comparison:

- match: both values equal (numbers within a relative tolerance), or both missing;
- mismatch: anything else (a value the online store lacked, a stale or wrong value);
- served missing: the served status was not PRESENT;
- PIT missing: the warehouse has no value at that time.

``served_at`` is compared as the PIT time ``t``: a value the online store had
not synced yet by then, or a value served past its TTL, shows up as skew.
"""
from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError
from featurewarehouse.serving.log_format import log_schema, utc_naive

DEFAULT_LIMIT = 100_000
DEFAULT_TOLERANCE = 1e-9
_KEYS = "entity_keys"


@dataclass(frozen=True)
class FeatureSkew:
    """The comparison of one feature (``view:feature``) over the logged vectors."""

    feature: str
    compared: int
    matches: int
    served_missing: int
    pit_missing: int
    examples: tuple[dict[str, Any], ...] = ()

    @property
    def mismatches(self) -> int:
        return self.compared - self.matches

    @property
    def match_rate(self) -> float:
        return self.matches / self.compared if self.compared else 1.0

    @property
    def mismatch_rate(self) -> float:
        return 1.0 - self.match_rate

    @property
    def served_missing_rate(self) -> float:
        return self.served_missing / self.compared if self.compared else 0.0

    @property
    def pit_missing_rate(self) -> float:
        return self.pit_missing / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "compared": self.compared,
            "matches": self.matches,
            "mismatches": self.mismatches,
            "match_rate": self.match_rate,
            "served_missing_rate": self.served_missing_rate,
            "pit_missing_rate": self.pit_missing_rate,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class SkewReport:
    features: tuple[FeatureSkew, ...]
    vectors: int
    log_rows: int
    threshold: float
    since: _dt.datetime | None = None
    first_served_at: _dt.datetime | None = None
    last_served_at: _dt.datetime | None = None
    sql: str = field(default="", repr=False)

    @property
    def failing(self) -> tuple[FeatureSkew, ...]:
        """Features whose mismatch rate is above the threshold."""
        return tuple(f for f in self.features if f.mismatch_rate > self.threshold + 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vectors": self.vectors,
            "log_rows": self.log_rows,
            "threshold": self.threshold,
            "since": self.since,
            "first_served_at": self.first_served_at,
            "last_served_at": self.last_served_at,
            "failing": [f.feature for f in self.failing],
            "features": [f.to_dict() for f in self.features],
        }


def parse_since(text: str | None, *, now: _dt.datetime | None = None) -> _dt.datetime | None:
    """``--since``: an ISO time (UTC unless it says otherwise) or a duration back from now (``24h``, ``7d``).

    >>> import datetime
    >>> parse_since("2026-01-02T03:00:00")
    datetime.datetime(2026, 1, 2, 3, 0)
    >>> parse_since("2h", now=datetime.datetime(2026, 1, 2, 3, 0))
    datetime.datetime(2026, 1, 2, 1, 0)
    """
    if not text:
        return None
    from featurewarehouse.registry.model import parse_ttl

    try:
        ts = utc_naive(text.strip())
    except ValueError:
        try:
            seconds = parse_ttl(text)
        except Exception:  # noqa: BLE001 - one message for both spellings
            raise ConfigError(
                f"cannot read --since {text!r}",
                hint="give an ISO time (2026-01-02T03:00:00) or a duration back from now (90m, 24h, 7d)",
            ) from None
        now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        return now - _dt.timedelta(seconds=seconds or 0)
    return ts


def read_logged(
    path: str | Path,
    *,
    select: Sequence[str] = (),
    since: _dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> "pa.Table":  # noqa: F821
    """Logged rows (contract 4) of the selected views/features, newest ``limit`` vectors."""
    import pyarrow as pa
    import pyarrow.dataset as ds


    files = sorted(str(p) for p in Path(path).glob("*.parquet")) if Path(path).is_dir() else []
    if not files:
        return log_schema().empty_table()
    dataset = ds.dataset(files, format="parquet", schema=log_schema())
    cond = None
    if since is not None:
        cond = ds.field("served_at") >= pa.scalar(since, pa.timestamp("us"))
    views = [s for s in select if ":" not in s]
    refs = [s for s in select if ":" in s]
    if views or refs:
        sel = None
        if views:
            sel = ds.field("feature_view").isin(views)
        for ref in refs:
            view, _, name = ref.partition(":")
            one = (ds.field("feature_view") == view) & (ds.field("feature_name") == name)
            sel = one if sel is None else sel | one
        cond = sel if cond is None else cond & sel
    table = dataset.to_table(filter=cond)
    if table.num_rows == 0:
        return table
    # newest `limit` vectors: a vector is (request_id, row_index)
    vec = pa.table({"r": table["request_id"], "i": table["row_index"], "t": table["served_at"]})
    vectors = vec.group_by(["r", "i"]).aggregate([("t", "max")])
    if vectors.num_rows > limit:
        vectors = vectors.sort_by([("t_max", "descending")]).slice(0, limit)
        keep = pa.table({"request_id": vectors["r"], "row_index": vectors["i"]})
        table = table.join(keep, ["request_id", "row_index"], join_type="inner")
    return table.sort_by([("served_at", "ascending"), ("request_id", "ascending"), ("row_index", "ascending")])


def build_spine(logged: "pa.Table", key_types: dict[str, str]) -> "pa.Table":  # noqa: F821
    """One spine row per logged vector: its request id, row index, served_at and join keys."""
    import pyarrow as pa

    seen: dict[tuple[str, int], tuple[Any, str]] = {}
    for rid, idx, at, keys in zip(
        logged["request_id"].to_pylist(), logged["row_index"].to_pylist(),
        logged["served_at"].to_pylist(), logged[_KEYS].to_pylist(),
    ):
        seen.setdefault((rid, idx), (at, keys))
    parsed = [json.loads(keys) for _, keys in seen.values()]
    names: list[str] = []
    for p in parsed:
        for k in p:
            if k not in names:
                names.append(k)
    arrow_types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    cols: dict[str, Any] = {
        "fw_request_id": pa.array([k[0] for k in seen], pa.string()),
        "fw_row_index": pa.array([k[1] for k in seen], pa.int32()),
        "served_at": pa.array([v[0] for v in seen.values()], pa.timestamp("us")),
    }
    from featurewarehouse.online.keys import kind_of

    for name in names:
        kind = kind_of(key_types.get(name, "varchar"))
        cols[name] = pa.array([p.get(name) for p in parsed], arrow_types.get(kind, pa.string()))
    return pa.table(cols)


def values_match(served: Any, pit: Any, tolerance: float = DEFAULT_TOLERANCE) -> bool:
    """Equality of a served (JSON-decoded) value and a warehouse value.

    >>> values_match(0.1 + 0.2, 0.3), values_match(3, 3.0), values_match("a", "b"), values_match(None, None)
    (True, True, False, True)
    """
    if served is None or pit is None or (isinstance(pit, float) and math.isnan(pit)):
        pit_missing = pit is None or (isinstance(pit, float) and math.isnan(pit))
        return served is None and pit_missing
    numeric = (int, float, decimal.Decimal)
    if isinstance(served, numeric) and isinstance(pit, numeric) and not isinstance(served, bool) and not isinstance(pit, bool):
        return math.isclose(float(served), float(pit), rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(pit, _dt.datetime) and isinstance(served, str):
        try:
            return utc_naive(served) == utc_naive(pit)
        except ValueError:
            return False
    if isinstance(pit, _dt.date) and isinstance(served, str):
        return served[:10] == pit.isoformat()
    if isinstance(served, bool) or isinstance(pit, bool):
        return bool(served) == bool(pit) and type(served) is type(pit)
    return str(served) == str(pit)


def compare(
    logged: "pa.Table",  # noqa: F821
    pit: "pa.Table",  # noqa: F821
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    examples: int = 5,
) -> list[FeatureSkew]:
    """Per feature: compare each logged row with the PIT value of its vector (``view__feature`` columns)."""
    index = {
        (rid, idx): j
        for j, (rid, idx) in enumerate(zip(pit["fw_request_id"].to_pylist(), pit["fw_row_index"].to_pylist()))
    }
    columns: dict[str, list[Any]] = {}
    stats: dict[str, list[int]] = {}
    found: dict[str, list[dict[str, Any]]] = {}
    rows = zip(*(logged[c].to_pylist() for c in
                 ("request_id", "row_index", "served_at", _KEYS, "feature_view", "feature_name", "value", "status")))
    for rid, idx, at, keys, view, name, value, status in rows:
        ref = f"{view}:{name}"
        col = columns.get(ref)
        if col is None:
            cname = f"{view}__{name}"
            if cname not in pit.column_names:
                raise ConfigError(
                    f"the warehouse has no feature {ref!r} that the log holds",
                    hint="rebuild the registry and models (`dbt build`), or skip it with --select",
                )
            col = columns[ref] = pit[cname].to_pylist()
            stats[ref] = [0, 0, 0, 0]  # compared, matches, served missing, pit missing
            found[ref] = []
        pit_value = col[index[(rid, idx)]]
        served = json.loads(value) if value is not None else None
        s = stats[ref]
        s[0] += 1
        if status != "PRESENT":
            s[2] += 1
        if pit_value is None or (isinstance(pit_value, float) and math.isnan(pit_value)):
            s[3] += 1
        if values_match(served, pit_value, tolerance):
            s[1] += 1
        elif len(found[ref]) < examples:
            found[ref].append({
                "request_id": rid, "row_index": idx, "served_at": at, "entity_keys": keys,
                "served": served, "status": status, "pit": pit_value,
            })
    return [
        FeatureSkew(ref, s[0], s[1], s[2], s[3], tuple(found[ref]))
        for ref, s in sorted(stats.items())
    ]


def compute_skew(
    config: ProjectConfig,
    *,
    select: Sequence[str] = (),
    since: _dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    threshold: float = 0.01,
    tolerance: float = DEFAULT_TOLERANCE,
    examples: int = 5,
    log_path: str | Path | None = None,
    registry: Any = None,
) -> SkewReport:
    """The skew report for the logged vectors under ``log_path`` (default: the project's feature-log path)."""
    from featurewarehouse.offline.retrieval import get_historical_features
    from featurewarehouse.registry import load_registry

    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"the skew threshold {threshold} is not between 0 and 1", hint="e.g. --threshold 0.01 for 1%")
    path = Path(log_path) if log_path else config.feature_log_path
    logged = read_logged(path, select=select, since=since, limit=limit)
    if logged.num_rows == 0:
        return SkewReport((), 0, 0, threshold, since)
    registry = registry if registry is not None else load_registry(config)
    refs = sorted({f"{v}:{n}" for v, n in zip(logged["feature_view"].to_pylist(), logged["feature_name"].to_pylist())})
    for ref in refs:  # unknown views/features: a clear error before the warehouse work
        registry.resolve([ref])
    key_types = {k.name: k.dtype for e in registry.entities for k in e.join_keys}
    spine = build_spine(logged, key_types)
    result = get_historical_features(
        config, spine, refs, timestamp_column="served_at", full_feature_names=True, registry=registry
    )
    skews = compare(logged, result.to_arrow(), tolerance=tolerance, examples=examples)
    served = logged["served_at"].to_pylist()
    return SkewReport(
        tuple(skews), spine.num_rows, logged.num_rows, threshold, since, min(served), max(served), result.sql
    )
