"""A brute-force reference of the point-in-time rules (DESIGN.md), in plain Python.

It is deliberately naive (every spine row scans every feature row) so that it is
obviously right; the macro, Python historical retrieval and the online path are
each compared with it on the same cases.

Rules, for a spine row with keys ``k`` and time ``t`` and a view ``V``:

1. candidates: rows of ``V`` whose join keys all equal ``k`` (no key NULL on
   either side), ``ts`` not NULL and ``ts <= t``, ``ts >= t - ttl`` when ``V``
   has a TTL (both inclusive), and ``available_timestamp <= t`` when ``V``
   declares one (a NULL available time is never available);
2. the chosen candidate is the greatest by :func:`preference_key`: ``ts``, then
   ``created_timestamp`` (NULL lowest), then the view's feature values compared
   column by column in declared order (NULL lowest, text by code point)
   -- docs/decisions/0001-pit-tie-break.md;
3. no candidate (or a NULL key or time on the spine row): features are NULL;
4. one output row per spine row, in spine order, duplicates kept;
5. a DATE spine time is midnight of that day; all times are naive UTC.

>>> from datetime import datetime
>>> v = ViewSpec("spend", keys=("customer_id",), features=("amount",), ttl=timedelta(hours=1))
>>> rows = [{"customer_id": 1, "ts": datetime(2024, 1, 1, 10), "amount": 5},
...         {"customer_id": 1, "ts": datetime(2024, 1, 1, 11), "amount": 7}]
>>> spine = [{"customer_id": 1, "t": datetime(2024, 1, 1, 12)},
...          {"customer_id": 1, "t": datetime(2024, 1, 1, 12, 1)}]
>>> [r["amount"] for r in point_in_time_join(spine, "t", [(v, rows, None)])]
[7, None]
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

Row = Mapping[str, Any]


@dataclass(frozen=True)
class ViewSpec:
    """The metadata of a feature view that the rules use."""

    name: str
    keys: tuple[str, ...]
    features: tuple[str, ...]  # every feature of the view, in declared column order
    timestamp: str = "ts"
    created: str | None = None
    available: str | None = None
    ttl: timedelta | None = None


def as_timestamp(value: Any) -> datetime | None:
    """Naive UTC datetime; a date is midnight; an aware datetime is converted to UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            from datetime import timezone

            return value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(f"not a timestamp: {value!r}")


def _null_lowest(value: Any) -> tuple:
    return (0,) if value is None else (1, value)


def preference_key(view: ViewSpec, row: Row) -> tuple:
    """Sort key of a candidate: the greatest is chosen (decision 0001)."""
    return (
        as_timestamp(row[view.timestamp]),
        _null_lowest(row.get(view.created)) if view.created else (0,),
        tuple(_null_lowest(row.get(f)) for f in view.features),
    )


def candidates(view: ViewSpec, rows: Iterable[Row], keys: Sequence[Any], t: datetime | None) -> list[Row]:
    """The rows of ``view`` that may be joined to keys ``keys`` at time ``t``."""
    if t is None or any(k is None for k in keys):
        return []
    out = []
    for row in rows:
        if any(row.get(name) is None or row.get(name) != k for name, k in zip(view.keys, keys)):
            continue
        ts = as_timestamp(row.get(view.timestamp))
        if ts is None or ts > t:
            continue
        if view.ttl is not None and ts < t - view.ttl:
            continue
        if view.available:
            available = as_timestamp(row.get(view.available))
            if available is None or available > t:
                continue
        out.append(row)
    return out


def choose(view: ViewSpec, rows: Iterable[Row], keys: Sequence[Any], t: datetime | None) -> Row | None:
    """The row whose values a spine row with ``keys`` at ``t`` gets, or None."""
    found = candidates(view, rows, keys, t)
    return max(found, key=lambda r: preference_key(view, r)) if found else None


def point_in_time_join(
    spine: Sequence[Row],
    spine_timestamp: str,
    requests: Sequence[tuple[ViewSpec, Sequence[Row], Sequence[str] | None]],
    *,
    full_feature_names: bool = False,
) -> list[dict[str, Any]]:
    """Every spine row (in order, duplicates kept) plus the requested features.

    ``requests`` holds ``(view, view_rows, features)``; ``features=None`` means
    all of the view's features (``view:*``). Output feature columns are named
    ``feature`` or ``view__feature``.
    """
    out = []
    for spine_row in spine:
        t = as_timestamp(spine_row.get(spine_timestamp))
        result = dict(spine_row)
        for view, rows, features in requests:
            chosen = choose(view, rows, [spine_row.get(k) for k in view.keys], t)
            for f in features if features is not None else view.features:
                name = f"{view.name}__{f}" if full_feature_names else f
                if name in result:
                    raise ValueError(f"output column {name!r} clashes; use full_feature_names")
                result[name] = None if chosen is None else chosen.get(f)
        out.append(result)
    return out


def latest_feature_values(view: ViewSpec, rows: Sequence[Row], as_of: datetime) -> list[dict[str, Any]]:
    """The point-in-time row of every key of ``view`` at ``as_of`` (keys with no candidate are absent).

    Columns: join keys, timestamp, created timestamp (if declared), features.
    """
    columns = [*view.keys, view.timestamp, *([view.created] if view.created else []), *view.features]
    seen: set[tuple] = set()
    out = []
    for row in rows:
        keys = tuple(row.get(k) for k in view.keys)
        if keys in seen or any(k is None for k in keys):
            continue
        seen.add(keys)
        chosen = choose(view, rows, keys, as_timestamp(as_of))
        if chosen is not None:
            out.append({c: chosen.get(c) for c in dict.fromkeys(columns)})
    return out


def canonical(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[tuple]:
    """Rows as tuples over ``columns``, sorted NULL-safely: compare results as multisets."""
    def sort_key(row: tuple) -> tuple:
        return tuple((0, "") if v is None else (1, type(v).__name__, v) for v in row)

    return sorted((tuple(r.get(c) for c in columns) for r in rows), key=sort_key)
