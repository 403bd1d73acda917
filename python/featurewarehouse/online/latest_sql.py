"""The latest value per entity key of a feature view at ``now``, as SQL (see decision 0008).

The one Python rendering of the latest-value rules of the macro
``featurewarehouse.latest_feature_values``; the online sync's only SQL besides the
one-pass scan of :func:`view_scan_sql` (watermark, change and skipped-row counts). ``tests/contract/test_online_consistency.py`` proves parity.
"""
from __future__ import annotations

import datetime as _dt
from typing import Any

from featurewarehouse.online.base import CREATED_COL, TS_COL
from featurewarehouse.online.keys import kind_of


def change_column(view: Any) -> str:
    """The column incremental syncs watch: available, else created, else event timestamp."""
    return view.available_timestamp or view.created_timestamp or view.timestamp


def _lit(ts: _dt.datetime) -> str:
    return f"cast('{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}' as timestamp)"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def latest_values_sql(
    view: Any,
    now: _dt.datetime,
    *,
    dialect: str = "duckdb",
    changed_after: _dt.datetime | None = None,
    visible_after: _dt.datetime | None = None,
    order_by_keys: bool = False,
) -> str:
    """The latest row per entity key of ``view`` at ``now``, with an ``__expired`` flag.

    The ONE Python rendering of the latest-value rules of the macro
    ``featurewarehouse.latest_feature_values`` (candidates ``ts <= now`` and
    ``available <= now``; greatest ts, then created ts NULL lowest, then the
    feature values per decision 0001). It differs only in what the sync needs
    and the macro cannot express: keys whose latest row is past the TTL come
    out flagged ``__expired`` (to count them) instead of absent, and an
    incremental sync restricts the keys *before* ranking to those with a row
    whose change column is after ``changed_after`` (loaded since the last sync)
    or that became visible after ``visible_after`` (the last sync's time), see
    :func:`changed_rows`. ``tests/contract/test_online_consistency.py`` proves parity with the macro.
    """
    keys = [k.name for k in view.join_keys]
    ts = f"cast(s.{_q(view.timestamp)} as timestamp)"
    created = f"cast(s.{_q(view.created_timestamp)} as timestamp)" if view.created_timestamp else "cast(null as timestamp)"
    feats = [f.name for f in view.features]
    where = [f"s.{_q(k)} is not null" for k in keys] + [f"{ts} <= {_lit(now)}"]
    if view.available_timestamp:
        where.append(f"cast(s.{_q(view.available_timestamp)} as timestamp) <= {_lit(now)}")
    changed_cte = ""
    source = f"{view.relation} as s"
    if changed_after is not None or visible_after is not None:
        # the changed keys first, then a join: a correlated EXISTS was planned with the whole
        # table on the build side (DuckDB: 40% of a full sync's query time for 1% changed keys)
        cond = [f"{_q(k)} is not null" for k in keys] + [changed_rows(view, now, changed_after, visible_after)]
        changed_cte = (
            f"changed_keys as (\n    select distinct {', '.join(_q(k) for k in keys)}\n"
            f"    from {view.relation}\n    where {' and '.join(cond)}\n),\n\n"
        )
        source += " join changed_keys as c on " + " and ".join(f"c.{_q(k)} = s.{_q(k)}" for k in keys)

    from featurewarehouse.offline.warehouse import engine_named

    collate = engine_named(dialect).TEXT_ORDER_COLLATE  # text ties by code point, as the macro's

    def tie(f: Any) -> str:
        return _q(f.name) + (collate if kind_of(f.dtype) == "str" else "") + " desc nulls last"

    cutoff = f"{_lit(now - _dt.timedelta(seconds=view.ttl_seconds))}" if view.ttl_seconds else None
    expired = f"({TS_COL} < {cutoff})" if cutoff else "false"
    key_list = ", ".join(_q(k) for k in keys)
    cols = f"{key_list}, {TS_COL}, {CREATED_COL}, {', '.join(_q(f) for f in feats)}"

    def same_keys(a: str, b: str) -> str:
        return " and ".join(f"{a}.{_q(k)} = {b}.{_q(k)}" for k in keys)

    # Staged instead of one row_number() ordered by (ts, created, every feature): sorting every
    # row by ~17 columns cost 5x the rest of the query (DuckDB, 100k keys). Rows are ranked by
    # (ts, created) only; lead() spots the keys whose best two rows tie on both, and only those
    # keys' tied rows are ranked by their feature values (decision 0001). Same answer as the
    # macro, proven by the parity test (tests/contract/test_online_consistency.py).
    part = f"partition by {key_list} order by {TS_COL} desc, {CREATED_COL} desc nulls last"
    return f"""
with {changed_cte}candidates as (
    select
        {", ".join(f"s.{_q(k)}" for k in keys)},
        {ts} as {TS_COL},
        {created} as {CREATED_COL},
        {", ".join(f"s.{_q(f)}" for f in feats)}
    from {source}
    where {" and ".join(where)}
),

ranked as (
    select
        candidates.*,
        row_number() over ({part}) as fw_rank,
        lead({TS_COL}) over ({part}) as fw_next_ts,
        lead({CREATED_COL}) over ({part}) as fw_next_cts
    from candidates
),

-- the best row of each key, and whether the next one ties with it on (ts, created)
tops as (
    select
        ranked.*,
        -- no next row: lead() is NULL, and the key is not tied
        coalesce(fw_next_ts = {TS_COL}, false) and fw_next_cts is not distinct from {CREATED_COL} as fw_tied
    from ranked
    where fw_rank = 1
),

tied_rows as (
    select r.*
    from ranked as r
    join tops as t
        on {same_keys("r", "t")} and t.fw_tied
        and r.{TS_COL} = t.{TS_COL} and r.{CREATED_COL} is not distinct from t.{CREATED_COL}
),

tie_broken as (
    select {cols}, row_number() over (partition by {key_list} order by {", ".join(tie(f) for f in view.features)}) as fw_pick
    from tied_rows
),

final as (
    select {cols}, {expired} as __expired from tops where not fw_tied
    union all
    select {cols}, {expired} as __expired from tie_broken where fw_pick = 1
)

select * from final{f" order by {key_list}" if order_by_keys else ""}
"""


def _visible(view: Any, t: _dt.datetime) -> str:
    """The PIT visibility of a row at ``t``: event time, and availability when declared, at or before it."""
    cond = f"cast({_q(view.timestamp)} as timestamp) <= {_lit(t)}"
    if view.available_timestamp:
        cond += f" and cast({_q(view.available_timestamp)} as timestamp) <= {_lit(t)}"
    return cond


def changed_rows(view: Any, now: _dt.datetime, changed_after: _dt.datetime | None,
                 visible_after: _dt.datetime | None) -> str:
    """The rows an incremental sync must look at: loaded since the last sync (change column after
    its watermark), or loaded before it but visible only since (event time,
    or availability, after the last sync's time and at or before ``now``). Without the second
    part a row loaded with a future event time was never picked up (issue 20)."""
    ch = f"cast({_q(change_column(view))} as timestamp)"
    parts = []
    if changed_after is not None:
        parts.append(f"{ch} > {_lit(changed_after)}")
    if visible_after is not None:
        parts.append(f"({_visible(view, now)}) and not ({_visible(view, visible_after)})")
    return "(" + " or ".join(f"({p})" for p in parts) + ")" if parts else "true"


# the rows a sync never serves, by reason: (name, condition over the table's columns)
def skipped_conditions(view: Any, now: _dt.datetime) -> list[tuple[str, str]]:
    keys = " or ".join(f"{_q(k.name)} is null" for k in view.join_keys)
    ts = f"cast({_q(view.timestamp)} as timestamp)"
    out = [("null_key", keys), ("null_timestamp", f"{ts} is null"), ("future_event_time", f"{ts} > {_lit(now)}")]
    if view.available_timestamp:
        out.append(("null_available_timestamp", f"{_q(view.available_timestamp)} is null"))
    return out


def view_scan_sql(
    view: Any, now: _dt.datetime, *, changed_after: _dt.datetime | None = None,
    visible_after: _dt.datetime | None = None,
) -> str:
    """ONE pass over the view's table, before its rows are ranked. Columns:

    - ``w``: the high-water mark of the change column at ``now`` (the next sync's ``changed_after``);
    - ``upto``: the rows at or before ``w``, or with a NULL change column;
    - ``behind``: the same count at the last sync's watermark ``changed_after``: when it differs
      from the last sync's ``upto``, rows were loaded (or removed) behind that watermark and an
      incremental window cannot find them;
    - ``changed``: the rows :func:`changed_rows` selects (0: nothing to do);
    - one count per :func:`skipped_conditions` reason (bad or not yet visible rows).
    """
    ch = f"cast({_q(change_column(view))} as timestamp)"
    cols = [f"max({ch}) filter (where {ch} <= {_lit(now)}) as w",
            f"count(*) filter (where {ch} <= {_lit(now)} or {ch} is null) as upto"]
    if changed_after is not None:
        cols.append(f"count(*) filter (where {ch} <= {_lit(changed_after)} or {ch} is null) as behind")
        cols.append(f"count(*) filter (where {changed_rows(view, now, changed_after, visible_after)}) as changed")
    cols += [f"count(*) filter (where {cond}) as {name}" for name, cond in skipped_conditions(view, now)]
    return f"select {', '.join(cols)} from {view.relation}"
