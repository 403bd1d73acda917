"""Online reads: ``OnlineClient.get_online_features`` -> :class:`OnlineFeatures` (contract 5).

The client needs only the online store: each synced view's definition is
stored there with its data. When a project registry is given as well, a view
whose definition changed since its last sync is refused with a hint to re-sync.
A rolling view's window features are computed at the request time (the client's
clock) from the window state stored with each key (:mod:`featurewarehouse.online.windows`).
"""
from __future__ import annotations

import datetime as _dt
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from featurewarehouse.errors import ConfigError, redact_url
from featurewarehouse.online.base import OnlineStore, Reader, StaleLayout, ViewLayout, ViewState, open_store
from featurewarehouse.online.keys import coerce_key_part, from_micros, micros
from featurewarehouse.online.windows import WindowPlan
from featurewarehouse.refs import FeatureRef, did_you_mean

PRESENT = "PRESENT"
NULL_VALUE = "NULL_VALUE"
NOT_FOUND = "NOT_FOUND"
OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"
_FEAST_ZERO_TS = "1970-01-01T00:00:00Z"
# request shapes (feature lists) whose resolved plan is kept; real clients use a handful
MAX_CACHED_PLANS = 1024


@dataclass(slots=True)
class OnlineFeatures:
    """Column-major result: column ``i`` is ``feature_names[i]`` (join keys first), row ``j`` the j-th entity.

    Treat it as read-only (its columns are tuples). Not frozen: a frozen dataclass sets each field
    through ``object.__setattr__``, which made building it a tenth of a one-entity read's overhead.
    """

    feature_names: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    statuses: tuple[tuple[str, ...], ...]
    event_timestamps: tuple[tuple[_dt.datetime | None, ...], ...]
    # ``view:feature`` of each feature column (the columns after the join keys), in order
    feature_refs: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[Any]]:
        """``{name: [value per entity row]}``.

        >>> OnlineFeatures(("customer_id", "x"), ((1,), (2.5,)), (("PRESENT",), ("PRESENT",)), ((None,), (None,))).to_dict()
        {'customer_id': [1], 'x': [2.5]}
        """
        return {name: list(col) for name, col in zip(self.feature_names, self.values)}

    def to_df(self) -> "pandas.DataFrame":  # noqa: F821
        """One row per entity row, one column per name (as Feast's ``OnlineResponse.to_df``)."""
        import pandas as pd

        return pd.DataFrame(self.to_dict(), columns=list(self.feature_names))

    def to_feast_response(self) -> dict[str, Any]:
        """Feast's feature-server JSON (``/get-online-features``)."""

        def ts(value: _dt.datetime | None) -> str:
            if value is None:
                return _FEAST_ZERO_TS
            return value.replace(tzinfo=None).isoformat() + "Z"

        def val(value: Any) -> Any:
            if isinstance(value, _dt.datetime):
                return value.isoformat()
            if isinstance(value, _dt.date):
                return value.isoformat()
            return value

        return {
            "metadata": {"feature_names": list(self.feature_names)},
            "results": [
                {
                    "values": [val(v) for v in vals],
                    "statuses": list(stats),
                    "event_timestamps": [ts(t) for t in tss],
                }
                for vals, stats, tss in zip(self.values, self.statuses, self.event_timestamps)
            ],
        }

    @property
    def num_rows(self) -> int:
        return len(self.values[0]) if self.values else 0


@dataclass(frozen=True)
class _ViewPlan:
    state: ViewState  # the stored definition and the generation read
    feature_idx: tuple[int, ...]
    out_names: tuple[str, ...]
    reader: Reader  # the store's prepared reads of these features (and a rolling view's window state)
    windows: WindowPlan | None = None  # a rolling view's window features, computed at request time


@dataclass(frozen=True)
class _Plan:
    """What a request shape (features, full_feature_names) resolves to; cached per shape."""

    views: tuple[_ViewPlan, ...]
    key_names: frozenset[str]  # the join keys the views take
    refs: tuple[str, ...]  # ``view:feature`` of each feature column, in order (for the logger)
    out_names: tuple[str, ...]  # the output name of each feature column, in order


class OnlineClient:
    """Reads feature values for entity rows from an online store.

    >>> # client = OnlineClient.from_config(load_config())
    >>> # client.get_online_features(["customer_spend_features:txn_count_7d"], [{"customer_id": 42}])
    """

    def __init__(self, store: OnlineStore, registry: Any = None, *, clock: Any = None, logger: Any = None):
        self.store = store
        self.registry = registry
        # optional served-vector log sink (serving/logging.FeatureLogSink): every result is handed to it
        self.logger = logger
        # now as UTC epoch micros; an injected clock returns datetimes
        self._now_micros = (lambda: micros(clock())) if clock is not None else (lambda: time.time_ns() // 1000)
        self._lock = threading.Lock()
        self._states: dict[str, ViewState] = {}
        self._epoch = -1
        self._plans: dict[tuple[tuple[Any, ...], bool], _Plan] = {}

    @classmethod
    def from_config(cls, config: Any, store_url: str | None = None, *, clock: Any = None) -> "OnlineClient":
        """A client on the configured store; the project's registry is used when it has been built.
        ``clock``: the request time (a function returning a datetime; default now)."""
        store = open_store(store_url or config.online_store)
        registry = None
        try:
            from featurewarehouse.registry.model import Registry

            if config.registry_path.is_file():
                registry = Registry.read(config.registry_path)
        except ConfigError:
            registry = None
        return cls(store, registry, clock=clock)

    def close(self) -> None:
        self.store.close()

    # ---- metadata ---------------------------------------------------------
    def _refresh(self) -> None:
        """Reload the stored view states (after a full refresh, or for a view not seen yet)."""
        with self._lock:
            epoch = self.store.epoch()  # read first: a commit in between only causes one more reload
            self._states = self.store.view_states()
            self._epoch = epoch
            self._plans = {}

    def _layout(self, view: str) -> ViewLayout:
        state = self._states.get(view)
        if state is None:
            if self.registry is not None:
                fv = self.registry.view(view)  # unknown view: did-you-mean from the project
                if not fv.online:
                    raise ConfigError(
                        f"feature view {view!r} is not served online",
                        where=fv.original_file_path or None,
                        hint=f"set `online: true` in its config.meta.fw, then run `fwctl sync-online --select {view}`",
                    )
            known = sorted(self._states)
            raise ConfigError(
                f"feature view {view!r} is not in the online store {redact_url(self.store.url)}." + did_you_mean(view, known),
                hint=f"run `fwctl sync-online --select {view}`" + (f" (synced views: {', '.join(known)})" if known else ""),
            )
        if self.registry is not None:
            try:
                fv = self.registry.view(view)
            except ConfigError:
                fv = None
            if fv is not None and ViewLayout.from_view(fv).signature != state.layout.signature:
                raise ConfigError(
                    f"feature view {view!r} changed since it was synced to the online store "
                    f"(store has registry version {state.registry_version or '?'}, project has {self.registry.version or '?'})",
                    hint=f"run `fwctl sync-online --select {view} --full-refresh`",
                )
        return state.layout

    def _plan(self, features: Sequence[Any], full_feature_names: bool) -> _Plan:
        """The cached plan of a request shape; a miss (re)loads the stored states when needed."""
        cache_key = (tuple(features), full_feature_names)
        plan = self._plans.get(cache_key)
        if plan is not None:
            return plan
        if self._epoch < 0:
            self._refresh()
        try:
            plan = self._make_plan(features, full_feature_names)
        except ConfigError:
            # the loaded copy may predate a sync that added the view or feature
            if self.store.epoch() == self._epoch:
                raise
            self._refresh()
            plan = self._make_plan(features, full_feature_names)
        if len(self._plans) >= MAX_CACHED_PLANS:
            # every distinct feature list makes a plan: a client sending new ones must not grow the server
            self._plans = {}
        self._plans[cache_key] = plan
        return plan

    def _make_plan(self, features: Sequence[Any], full_feature_names: bool) -> _Plan:
        if not features:
            raise ConfigError("no features requested", hint="pass features as feature_view:feature")
        by_view: dict[str, list[int]] = {}
        for raw in features:
            ref = raw if isinstance(raw, FeatureRef) else FeatureRef.parse(str(raw))
            layout = self._layout(ref.view)
            idx = range(len(layout.feature_names)) if ref.is_wildcard else [layout.feature_index(ref.feature)]
            chosen = by_view.setdefault(ref.view, [])
            for i in idx:
                if i in chosen:
                    if not ref.is_wildcard:
                        raise ConfigError(f"feature {ref.view}:{layout.feature_names[i]} is requested twice")
                    continue
                chosen.append(i)
        views = []
        seen: dict[str, str] = {}
        for view, idx in by_view.items():
            state = self._states[view]
            names = []
            for i in idx:
                fname = state.layout.feature_names[i]
                out = f"{view}__{fname}" if full_feature_names else fname
                if out in seen:
                    raise ConfigError(
                        f"feature name {fname!r} is in both {seen[out]!r} and {view!r}",
                        hint="pass full_feature_names=True to name columns view__feature",
                    )
                seen[out] = view
                names.append(out)
            windows = WindowPlan(state.layout, idx) if state.layout.rolling is not None else None
            if windows is not None and not windows.computed:
                windows = None  # no window feature asked for (or lifetime ones only): the stored values
            read_idx = (*idx, len(state.layout.feature_names)) if windows is not None else tuple(idx)
            views.append(_ViewPlan(state, tuple(idx), tuple(names), self.store.reader(state, read_idx), windows))
        keys = frozenset(k for vp in views for k in vp.state.layout.key_names)
        refs = tuple(f"{vp.state.layout.name}:{vp.state.layout.feature_names[i]}" for vp in views for i in vp.feature_idx)
        return _Plan(tuple(views), keys, refs, tuple(name for vp in views for name in vp.out_names))

    # ---- reads ------------------------------------------------------------
    def service(self, name: str) -> Any:
        """The project's feature service ``name`` (``vars.fw.feature_services``), from the registry."""
        if self.registry is None:
            raise ConfigError(
                f"feature service {name!r} cannot be resolved: the project's registry has not been built",
                hint="run `fwctl registry build` in the project, then restart the server",
            )
        return self.registry.service(name)

    def features_of(self, features: Sequence[Any] | None, feature_service: str | None) -> tuple[Any, Any]:
        """(the refs to read, the FeatureService or None): ``features`` or a service's, never both."""
        if feature_service is None:
            return features, None
        if features:
            raise ConfigError(f"both features and feature_service {feature_service!r} are given",
                              hint="name the features or the feature service, not both")
        service = self.service(feature_service)
        return service.features, service

    def get_online_features(
        self,
        features: Sequence[str] | None,
        entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        full_feature_names: bool = False,
        *,
        feature_service: str | None = None,
    ) -> OnlineFeatures:
        """Values, statuses and event timestamps of ``features`` (or of ``feature_service``'s) for each entity row."""
        features, service = self.features_of(features, feature_service)
        columns = _entity_columns(entity_rows)
        for _ in range(3):
            plan = self._plan(features, full_feature_names)
            try:
                result = self._read(plan, columns)
            except StaleLayout as exc:  # a full refresh moved a view to a new generation
                stale = exc
                self._refresh()
                continue
            if self.logger is not None:
                if service is None:
                    self.logger.log(result, result.feature_refs)
                elif service.logging.get("enabled", True):
                    self.logger.log(result, result.feature_refs, feature_service=service.name,
                                    sample_rate=service.logging.get("sample_rate"))
            return result
        raise ConfigError(
            f"the data in the online store {redact_url(self.store.url)} does not match its stored definitions ({stale})",
            hint="if a sync is running, retry when it has finished; otherwise rebuild with `fwctl sync-online --full-refresh`",
        )

    def _read(self, plan: _Plan, columns: dict[str, list[Any]]) -> OnlineFeatures:
        if columns.keys() != plan.key_names:
            _check_join_keys(plan, columns)
        n = len(next(iter(columns.values())))
        now = self._now_micros()
        if n == 1:
            return self._read_one(plan, columns, now)
        out_names: list[str] = list(columns)
        values: list[tuple[Any, ...]] = [tuple(col) for col in columns.values()]
        all_present = (PRESENT,) * n
        statuses: list[tuple[str, ...]] = [all_present] * len(columns)
        stamps: list[tuple[Any, ...]] = [(None,) * n] * len(columns)
        keys_per_view = [
            list(zip(*(_coerce_column(columns[name], kind, name) for name, kind in zip(lay.key_names, lay.key_kinds))))
            for lay in (vp.state.layout for vp in plan.views)
        ]
        rows_per_view = self.store.read_views([(vp.reader, keys) for vp, keys in zip(plan.views, keys_per_view)])
        for vp, rows in zip(plan.views, rows_per_view):
            lay = vp.state.layout
            cutoff = None if lay.ttl_seconds is None else now - lay.ttl_seconds * 1_000_000
            m = len(vp.feature_idx)
            windows = vp.windows
            # row-major store rows -> column-major output, transposed with zip (C speed)
            none_row = (None,) * m
            row_ts: list[Any] = [None] * n
            row_state = [0] * n  # 0 found, 1 not found, 2 past the TTL
            value_rows = []
            clean = True  # every row found, in time, and without NULLs: all statuses PRESENT
            for j, row in enumerate(rows):
                if row is None:
                    row_state[j] = 1
                    value_rows.append(none_row)
                    clean = False
                    continue
                ts_micros, vals = row
                row_ts[j] = from_micros(ts_micros)
                if cutoff is not None and ts_micros < cutoff:
                    row_state[j] = 2
                    value_rows.append(none_row)
                    clean = False
                else:
                    if windows is not None:
                        vals = windows.at(vals, ts_micros, now)
                    value_rows.append(vals)
                    if clean and None in vals:
                        clean = False
            cols_v = list(zip(*value_rows)) if n else [() for _ in range(m)]
            if clean:
                statuses.extend([all_present] * m)
            else:
                statuses.extend(
                    tuple(
                        (PRESENT if v is not None else NULL_VALUE) if st == 0 else (NOT_FOUND if st == 1 else OUTSIDE_MAX_AGE)
                        for v, st in zip(col, row_state)
                    )
                    for col in cols_v
                )
            out_names.extend(vp.out_names)
            values.extend(cols_v)
            stamps.extend([tuple(row_ts)] * m)
        return OnlineFeatures(tuple(out_names), tuple(values), tuple(statuses), tuple(stamps), plan.refs)

    def _read_one(self, plan: _Plan, columns: dict[str, list[Any]], now: int) -> OnlineFeatures:
        """:meth:`_read` for one entity row (the common online request): no per-row lists, no transposition."""
        values: list[tuple[Any, ...]] = list(map(tuple, columns.values()))
        statuses: list[tuple[str, ...]] = [_PRESENT_1] * len(columns)
        stamps: list[tuple[Any, ...]] = [_NONE_1] * len(columns)
        keys = []
        for vp in plan.views:
            key = []
            for name, kind in zip(vp.state.layout.key_names, vp.state.layout.key_kinds):
                v = columns[name][0]
                key.append(v if type(v) is _EXACT_TYPES.get(kind) else coerce_key_part(v, kind, name))
            keys.append(tuple(key))
        if len(plan.views) == 1:
            rows = [plan.views[0].reader.one(keys[0])]
        else:
            rows = [r[0] for r in self.store.read_views([(vp.reader, [key]) for vp, key in zip(plan.views, keys)])]
        for vp, row in zip(plan.views, rows):
            lay = vp.state.layout
            m = len(vp.feature_idx)
            if row is None:
                values.extend([_NONE_1] * m)
                statuses.extend([(NOT_FOUND,)] * m)
                stamps.extend([_NONE_1] * m)
                continue
            ts_micros, vals = row
            stamps.extend([(from_micros(ts_micros),)] * m)
            if lay.ttl_seconds is not None and ts_micros < now - lay.ttl_seconds * 1_000_000:
                values.extend([_NONE_1] * m)
                statuses.extend([(OUTSIDE_MAX_AGE,)] * m)
                continue
            if vp.windows is not None:
                vals = vp.windows.at(vals, ts_micros, now)
            values.extend(zip(vals))  # 1-tuples
            if None in vals:
                statuses.extend([(NULL_VALUE,) if v is None else _PRESENT_1 for v in vals])
            else:
                statuses.extend([_PRESENT_1] * m)
        return OnlineFeatures((*columns, *plan.out_names), tuple(values), tuple(statuses), tuple(stamps), plan.refs)


def _check_join_keys(plan: _Plan, columns: Mapping[str, Any]) -> None:
    """Raise the error for entity columns that are not exactly the join keys the plan's views take."""
    needed: list[str] = []
    for vp in plan.views:
        lay = vp.state.layout
        for k in lay.key_names:
            if k not in columns:
                raise ConfigError(
                    f"entity rows lack join key {k!r} needed by feature view {lay.name!r}." + did_you_mean(k, columns),
                    hint=f"give every entity row {', '.join(lay.key_names)}",
                )
            if k not in needed:
                needed.append(k)
    extra = [c for c in columns if c not in needed]
    if extra:
        raise ConfigError(
            f"unknown join key {extra[0]!r} for the requested features." + did_you_mean(extra[0], needed),
            hint=f"the requested feature views take: {', '.join(needed)}",
        )


_EXACT_TYPES = {"int": int, "str": str}
_PRESENT_1 = (PRESENT,)
_NONE_1 = (None,)


def _coerce_column(values: list[Any], kind: str, name: str) -> list[Any]:
    """Check a join-key column's values; a column already of the exact type passes as is."""
    exact = _EXACT_TYPES.get(kind)
    if exact is not None and set(map(type, values)) == {exact}:
        return values
    return [coerce_key_part(v, kind, name) for v in values]


def _entity_columns(entity_rows: Any) -> dict[str, list[Any]]:
    """Normalise row-major ``[{k: v}]`` or column-major ``{k: [v]}`` entity rows to columns."""
    if type(entity_rows) is dict and entity_rows:  # the common shape, without comprehensions
        cols = {}
        n = -1
        for k, v in entity_rows.items():
            if type(v) is not list:
                break
            if n != len(v):
                if n != -1:
                    raise ConfigError("entity columns have different lengths", hint="give each join key one value per row")
                n = len(v)
            cols[k if type(k) is str else str(k)] = v
        else:
            if n == 0:
                raise ConfigError("no entity rows given", hint='pass e.g. {"customer_id": [42]}')
            return cols
    if isinstance(entity_rows, Mapping):
        cols = {
            str(k): v if type(v) is list else list(v) if isinstance(v, (list, tuple)) else [v]
            for k, v in entity_rows.items()
        }
    else:
        rows = list(entity_rows)
        if not rows:
            raise ConfigError("no entity rows given", hint='pass e.g. [{"customer_id": 42}]')
        names = list(rows[0])
        for r in rows:
            if list(r) != names and set(r) != set(names):
                raise ConfigError(
                    f"entity rows have different keys: {sorted(names)} and {sorted(r)}",
                    hint="give every entity row the same join keys",
                )
        cols = {k: [r[k] for r in rows] for k in names}
    if not cols:
        raise ConfigError("entity rows have no join keys", hint='pass e.g. [{"customer_id": 42}]')
    lengths = {len(v) for v in cols.values()}
    if len(lengths) != 1:
        raise ConfigError("entity columns have different lengths", hint="give each join key one value per row")
    if lengths == {0}:
        raise ConfigError("no entity rows given", hint='pass e.g. {"customer_id": [42]}')
    return cols
