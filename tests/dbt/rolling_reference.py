"""Brute-force reference for featurewarehouse.rolling_features: every window of every instant by a scan.

The edge rule it states (docs/rolling-windows.md): the window ``d`` of an entity's
instant ``t`` holds its rows with ``t - d <= ts <= t`` (``ts < t`` when exclusive),
lifetime every row with ``ts <= t`` (``< t``). Empty: count 0, others None.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Agg:
    """One aggregation of the macro call, with its filter as a Python predicate."""

    agg: str
    column: str | None = None
    name: str | None = None
    keep: Callable[[Row], bool] | None = None  # the SQL filter; a NULL comparison is False
    windows: tuple[str, ...] | None = None

    def prefix(self) -> str:
        return self.name or (f"{self.agg}_{self.column}" if self.column else self.agg)


@dataclass(frozen=True)
class Spec:
    """A model's macro call: keys, timestamp, aggregations, windows."""

    keys: tuple[str, ...]
    timestamp: str
    aggs: tuple[Agg, ...]
    windows: tuple[str, ...]
    exclusive: bool = False
    passthrough: tuple[str, ...] = field(default=())

    def columns(self) -> list[str]:
        out = [*self.keys, self.timestamp, *self.passthrough]
        for a in self.aggs:
            out += [f"{a.prefix()}_{w}" for w in (a.windows or self.windows)]
        return out


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window_seconds(text: str) -> int | None:
    return None if text == "lifetime" else int(text[:-1]) * _UNITS[text[-1]]


def _aggregate(agg: str, values: list[Any], times: list[datetime]) -> Any:
    present = [(t, v) for t, v in zip(times, values) if v is not None]
    vals = [v for _, v in present]
    if agg == "count":
        return len(vals)
    if agg == "count_distinct":
        return len(set(vals))
    if not vals:
        return None
    if agg == "sum":
        return math.fsum(vals)
    if agg == "avg":
        return math.fsum(vals) / len(vals)
    if agg == "min":
        return min(vals)
    if agg == "max":
        return max(vals)
    if agg == "stddev":
        return statistics.stdev(vals) if len(vals) > 1 else None
    if agg == "last":  # the latest instant; several values there: the greatest (decision 0001)
        latest = max(t for t, _ in present)
        return max(v for t, v in present if t == latest)
    raise ValueError(agg)


def _usable(spec: Spec, rows: Sequence[Row]) -> dict[tuple, list[Row]]:
    """The rows by entity key, without those with a NULL key or timestamp."""
    by_key: dict[tuple, list[Row]] = {}
    for r in rows:
        key = tuple(r[k] for k in spec.keys)
        if any(k is None for k in key) or r[spec.timestamp] is None:
            continue
        by_key.setdefault(key, []).append(r)
    return by_key


def windows_at(spec: Spec, group: Sequence[Row], t: datetime) -> dict[str, Any]:
    """Every feature of one entity (its rows ``group``) at any instant ``t``, by the edge rule."""
    out: dict[str, Any] = {}
    for a in spec.aggs:
        for w in a.windows or spec.windows:
            seconds = window_seconds(w)
            start = None if seconds is None else t - timedelta(seconds=seconds)
            inside = [r for r in group
                      if (r[spec.timestamp] < t if spec.exclusive else r[spec.timestamp] <= t)
                      and (start is None or r[spec.timestamp] >= start)]
            counted = [r for r in inside if a.keep is None or a.keep(r)]
            values = [(r[a.column] if a.column else 1) for r in counted]
            out[f"{a.prefix()}_{w}"] = _aggregate(a.agg, values, [r[spec.timestamp] for r in counted])
    return out


def rolling(spec: Spec, rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The macro's output rows (any order): one per entity and instant."""
    out = []
    for key, group in _usable(spec, rows).items():
        for t in sorted({r[spec.timestamp] for r in group}):
            row: dict[str, Any] = dict(zip(spec.keys, key))
            row[spec.timestamp] = t
            for c in spec.passthrough:
                vals = [r[c] for r in group if r[spec.timestamp] == t and r[c] is not None]
                row[c] = max(vals) if vals else None
            row.update(windows_at(spec, group, t))
            out.append(row)
    return out


def at_time(spec: Spec, rows: Sequence[Row], key: tuple, t: datetime | None,
            ttl: timedelta | None = None) -> dict[str, Any] | None:
    """The windows of entity ``key`` at time ``t``, as the PIT join and the online store serve them:
    None when the key or time is NULL or the entity has no row in [t - ttl, t] (any row at or before
    ``t`` without a ttl)."""
    group = _usable(spec, rows).get(key, []) if t is not None and None not in key else []
    if not any(r[spec.timestamp] <= t and (ttl is None or r[spec.timestamp] >= t - ttl) for r in group):
        return None
    return windows_at(spec, group, t)


def rolling_at(spec: Spec, rows: Sequence[Row], key: tuple, t: datetime | None,
               ttl_seconds: int | None) -> dict[str, Any]:
    """A PIT join's window features for a spine row (keys ``key``, time ``t``): :func:`at_time`, with
    every feature NULL where it is None."""
    names = spec.columns()[len(spec.keys) + 1 + len(spec.passthrough):]
    got = at_time(spec, rows, key, t, None if ttl_seconds is None else timedelta(seconds=ttl_seconds))
    return dict.fromkeys(names) if got is None else got


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def diff(spec: Spec, got: Sequence[Row], expected: Sequence[Row]) -> list[str]:
    """Human-readable differences between two outputs, matched by (keys, timestamp)."""
    def index(rows: Sequence[Row]) -> dict[tuple, Row]:
        out: dict[tuple, Row] = {}
        for r in rows:
            k = tuple(_plain(r[c]) for c in (*spec.keys, spec.timestamp))
            assert k not in out, f"two rows for {k}"
            out[k] = r
        return out

    g, e = index(got), index(expected)
    problems = [f"missing row {k}" for k in e.keys() - g.keys()] + [f"extra row {k}" for k in g.keys() - e.keys()]
    for k in sorted(e.keys() & g.keys(), key=repr):
        for c in spec.columns():
            if not same(_plain(g[k][c]), e[k][c]):
                problems.append(f"{k} {c}: got {g[k][c]!r}, expected {e[k][c]!r}")
    return problems


def _plain(value: Any) -> Any:
    """Driver values as Python ones (Decimal from PostgreSQL, numpy/pandas from DuckDB)."""
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if type(value).__name__ == "Decimal":
        return float(value)
    return value
