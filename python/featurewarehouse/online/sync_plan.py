"""What one view's sync must do, decided from ONE scan of its table (see ``view_scan_sql``).

An incremental sync recomputes the keys with a row that is new or newly visible since the
last sync (:func:`~featurewarehouse.online.latest_sql.changed_rows`):

- *loaded since*: its change column (available, else created, else event timestamp) is after
  the last sync's watermark ``W`` (the column's greatest value at or before that sync's time);
- *visible since*: it was loaded before, but its event time (or availability) passed only
  after the last sync's time. A row loaded with a future event time is served once it is due.

A row loaded *behind* ``W`` (a late row with an old change value, or with none) cannot be
found by any window. The scan counts the rows at or behind ``W``; when that count grew
since the last sync stored it, such rows arrived, and the view is rebuilt in full, with a
warning that says why and how to avoid it. A count that shrank is the usual upsert (rows
rewritten with a later change value, which the window finds). So after every sync that
only adds or upserts rows, the store holds what a full refresh at the same time would hold;
the blind spots are rows deleted or rewritten in place behind ``W`` (their keys keep their
value, and as many late rows arriving in the same interval go unseen), documented in
docs/operations-sync.md.

The same scan counts the rows no sync serves (NULL key or timestamp, event time after the
sync's time, NULL availability): they are reported, never dropped silently.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any

from featurewarehouse.online.base import ViewLayout, ViewState
from featurewarehouse.online.latest_sql import change_column, view_scan_sql

# what each skipped-row reason means and how to fix it (the sync's warnings)
SKIP_REASONS = {
    "null_key": ("a NULL join key", "fill or filter the key in the model"),
    "null_timestamp": ("a NULL event timestamp", "fill or filter the timestamp in the model"),
    "future_event_time": (
        "an event time after the sync time (not visible yet: served once it is due; "
        "a far-future time is likely a data error)",
        "check the timestamp column if these are not expected",
    ),
    "null_available_timestamp": ("a NULL available_timestamp (never visible)", "fill it in the model"),
}


@dataclass(frozen=True)
class Watermark:
    """What a sync stores for the next one (JSON in the view's state)."""

    column: str
    value: _dt.datetime | None  # the change column's high-water mark at the sync's time
    rows: int | None  # the rows at or behind ``value`` (or with a NULL change column) then

    def to_json(self) -> str:
        return json.dumps({"column": self.column, "value": self.value.isoformat() if self.value else None,
                           "rows": self.rows})

    @classmethod
    def of(cls, state: ViewState | None, view: Any) -> "Watermark | None":
        """The last sync's watermark, or None when an incremental sync cannot build on it
        (none yet, another change column, or written before row counts were stored)."""
        if state is None or not state.watermark:
            return None
        try:
            wm = json.loads(state.watermark)
            value = _dt.datetime.fromisoformat(wm["value"]) if wm.get("value") else None
        except (ValueError, TypeError, KeyError):
            return None
        if wm.get("column") != change_column(view) or value is None or not isinstance(wm.get("rows"), int):
            return None
        return cls(wm["column"], value, wm["rows"])


@dataclass(frozen=True)
class ViewPlan:
    mode: str  # "full" | "incremental" | "nothing" (incremental, no row changed)
    previous: Watermark | None
    next: Watermark
    changed_after: _dt.datetime | None = None
    visible_after: _dt.datetime | None = None
    skipped_rows: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def _as_naive_utc(value: Any) -> _dt.datetime | None:
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day)
    return None


def _synced_at(state: ViewState | None) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(state.synced_at) if state and state.synced_at else None
    except ValueError:
        return None


def plan_view(warehouse: Any, view: Any, prior: ViewState | None, now: _dt.datetime, *, full_refresh: bool) -> ViewPlan:
    """Scan ``view``'s table once and decide: full refresh, incremental window, or nothing to do."""
    previous = Watermark.of(prior, view)
    visible_after = _synced_at(prior)
    full = (full_refresh or prior is None or previous is None or visible_after is None
            or prior.layout.signature != ViewLayout.from_view(view).signature)
    changed_after = None if full else previous.value
    sql = view_scan_sql(view, now, changed_after=changed_after, visible_after=None if full else visible_after)
    row = warehouse.fetch_arrow(sql).to_pylist()[0]
    skipped = {name: int(row[name] or 0) for name in SKIP_REASONS if name in row}
    warnings = [
        f"feature view {view.name!r}: {n:,} rows skipped: {SKIP_REASONS[name][0]}; {SKIP_REASONS[name][1]}"
        for name, n in skipped.items() if n
    ]
    nxt = Watermark(change_column(view), _as_naive_utc(row["w"]), int(row["upto"] or 0))
    # fewer rows there than last time is the common upsert (dbt `merge`): rows rewritten with a
    # later change value, which the window finds; only more rows there means rows arrived behind W
    late = int(row["behind"] or 0) - previous.rows if not full else 0
    if late > 0:
        full = True
        what = f"{late:,} rows were loaded"
        col = change_column(view)
        if view.available_timestamp or view.created_timestamp:
            fix = (f"rows loaded late should carry a later {col!r} than the rows synced before them; "
                   "until then each such sync rebuilds the view")
        else:
            fix = ("declare created_timestamp (the load time) or available_timestamp in the view's "
                   "config.meta.fw so incremental syncs find late rows without rebuilding the view")
        warnings.append(
            f"feature view {view.name!r}: {what} at or behind the last sync's watermark "
            f"({col} <= {previous.value.isoformat()}, or NULL), which an incremental sync cannot find: "
            f"rebuilt in full instead; {fix}"
        )
    if full:
        return ViewPlan("full", previous, nxt, skipped_rows=skipped, warnings=tuple(warnings))
    mode = "incremental" if int(row["changed"] or 0) else "nothing"
    return ViewPlan(mode, previous, nxt, changed_after, visible_after, skipped, tuple(warnings))
