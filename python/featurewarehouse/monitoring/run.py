"""``fwctl monitor``'s one library entry point: profile, compare, judge, record.

For each feature view: the baseline's bins (deciles / top categories), the
baseline's profile (one scan), the current source's daily profiles (one scan),
then per feature the PSI and the null-rate change of the current window (the
newest day, unless one is named) against the baseline, the PSI of every day
(PSI over time) and the view's freshness. Breaches of the thresholds in
``meta.fw.monitor`` are listed; blocking ones stop ``sync-online``.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ConfigError
from featurewarehouse.monitoring import profile as _profile
from featurewarehouse.monitoring import psi as _psi
from featurewarehouse.monitoring import spec as _spec
from featurewarehouse.monitoring import sql as _sql
from featurewarehouse.monitoring.profile import FeatureProfile, Source, WindowProfile, as_utc
from featurewarehouse.offline.spine import quote

BASELINE_HELP = ("previous (the day before the current window), range:START..END (dates, or -Nd: N days "
                 "before the current window), or training:<model>")
CURRENT_CHOICES = ("view", "served")


@dataclass(frozen=True)
class Breach:
    view: str
    feature: str | None
    metric: str  # "psi" | "null_rate_change" | "freshness"
    value: float
    threshold: float
    blocking: bool

    def describe(self) -> str:
        what = f"{self.feature} {self.metric}" if self.feature else self.metric
        unit = "s" if self.metric == "freshness" else ""
        return f"{what} {self.value:.4g}{unit} > {self.threshold:.4g}{unit}" + (" (blocking)" if self.blocking else "")

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "text": self.describe()}


@dataclass(frozen=True)
class FeatureResult:
    feature: str
    kind: str
    psi: float | None
    baseline: FeatureProfile | None
    current: FeatureProfile | None
    psi_by_window: dict[str, float | None] = field(default_factory=dict)
    bins: tuple = ()  # the baseline's bin edges (numeric) or categories (categorical, then "other")

    @property
    def null_rate_change(self) -> float | None:
        if not self.baseline or not self.current or self.baseline.null_rate is None or self.current.null_rate is None:
            return None
        return self.current.null_rate - self.baseline.null_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature, "kind": self.kind, "psi": self.psi, "null_rate_change": self.null_rate_change,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "current": self.current.to_dict() if self.current else None,
            "psi_by_window": self.psi_by_window, "bins": list(self.bins),
        }


@dataclass(frozen=True)
class ViewResult:
    view: str
    baseline: str
    current: str
    window: str | None
    features: tuple[FeatureResult, ...]
    freshness: dict[str, Any]
    breaches: tuple[Breach, ...]
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "view": self.view, "baseline": self.baseline, "current": self.current, "window": self.window,
            "features": [f.to_dict() for f in self.features], "freshness": self.freshness,
            "breaches": [b.to_dict() for b in self.breaches], "skipped": list(self.skipped),
        }


def _date(text: str, where: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"bad date {text!r} in {where}", hint="write dates as YYYY-MM-DD") from None


def _day(text: str, where: str, current_day: _dt.date | None) -> _dt.date:
    """A date, or ``-Nd``: N days before the current window's day."""
    text = text.strip()
    if text.startswith("-") and text.endswith("d") and text[1:-1].isdigit():
        if current_day is None:
            raise ConfigError(f"{where}: a relative date needs a current window, and the source has no rows")
        return current_day - _dt.timedelta(days=int(text[1:-1]))
    return _date(text, where)


def _day_range(timestamp: str, start: _dt.date, end: _dt.date) -> str:
    ts = quote(timestamp)
    return f"{ts} >= cast('{start.isoformat()}' as timestamp) and {ts} < cast('{end.isoformat()}' as timestamp)"


def _node_relation(manifest: dict[str, Any], model: str, hint: str) -> dict[str, Any]:
    from featurewarehouse.refs import did_you_mean

    nodes = {n["name"]: n for n in (manifest.get("nodes") or {}).values() if n.get("resource_type") == "model"}
    if model not in nodes:
        raise ConfigError(f"unknown model {model!r}." + did_you_mean(model, list(nodes)), hint=hint)
    return nodes[model]


def resolve_source(manifest: dict[str, Any], view: _spec.ViewMonitor, current: str) -> Source:
    """The current rows: the feature view itself, or what the served log recorded of it."""
    identity = {f.name: f.name for f in view.features}
    if current == "view":
        return Source(f"view {view.name}", view.relation, view.timestamp, identity)
    served = _spec.served_columns(manifest, view.name)
    if not served:
        raise ConfigError(
            f"no served log holds features of {view.name!r}",
            hint="mark a feature_log view's columns with meta.fw.served_from: view:feature, or use --current view",
        )
    log = served[0][0]
    node = _node_relation(manifest, log, "")
    columns = {feature: column for name, column, feature in served if name == log}
    from featurewarehouse.registry.records import fw_meta

    return Source(f"served log {log}", node.get("relation_name") or log, (fw_meta(node) or {}).get("timestamp"),
                  columns)


def resolve_baseline(manifest: dict[str, Any], view: _spec.ViewMonitor, text: str, current: Source,
                     current_day: _dt.date | None) -> Source:
    kind, _, arg = text.partition(":")
    where = f"--baseline {text}"
    if kind == "previous" and not arg:
        if current_day is None:
            raise ConfigError(f"{current.label} has no rows, so it has no previous window",
                              hint="build the view first, or pass --baseline range:START..END")
        day = current_day - _dt.timedelta(days=1)
        return Source(f"previous window {day.isoformat()} of {current.label}", current.relation, current.timestamp,
                      current.columns, _day_range(current.timestamp, day, current_day))
    if kind == "range" and ".." in arg:
        start, _, end = arg.partition("..")
        lo, hi = _day(start, where, current_day), _day(end, where, current_day)
        if hi <= lo:
            raise ConfigError(f"empty baseline range {arg!r}", hint="write range:START..END with START < END (END excluded)")
        return Source(f"{view.name} from {lo} to {hi} (excluded)", view.relation, view.timestamp,
                      {f.name: f.name for f in view.features}, _day_range(view.timestamp, lo, hi))
    if kind == "training" and arg:
        node = _node_relation(manifest, arg, "name a training set model, e.g. --baseline training:fraud_training_set")
        have = set((node.get("columns") or {}))
        columns = {}
        for f in view.features:  # full_feature_names=true writes view__feature
            for candidate in (f"{view.name}__{f.name}", f.name):
                if candidate in have:
                    columns[f.name] = candidate
                    break
        if not columns:
            raise ConfigError(f"training set {arg!r} holds no feature of {view.name!r}",
                              where=node.get("original_file_path"), hint="choose a training set built from this view")
        return Source(f"training set {arg}", node.get("relation_name") or arg, None, columns)
    raise ConfigError(f"bad baseline {text!r}", hint=f"use {BASELINE_HELP}")


def _newest_day(wh: Any, source: Source) -> _dt.date | None:
    row = wh.fetch_arrow(f"select max({quote(source.timestamp)}) as newest from {source.relation}").to_pylist()[0]
    newest = as_utc(row["newest"])
    return newest.date() if newest else None


def _freshness(view: _spec.ViewMonitor, newest: tuple[Any, ...], now: _dt.datetime) -> dict[str, Any]:
    event = as_utc(newest[0]) if newest else None
    load = as_utc(newest[1]) if len(newest) > 1 else None
    age = (now - event).total_seconds() if event else None
    return {
        "checked_at": now.isoformat(), "newest_event": event.isoformat() if event else None,
        "newest_load": load.isoformat() if load else None, "age_seconds": age,
        "load_age_seconds": (now - load).total_seconds() if load else None,
        "ttl_seconds": view.ttl_seconds, "max_age_seconds": view.max_age_seconds,
        "past_ttl": bool(age is not None and view.ttl_seconds and age > view.ttl_seconds),
    }


def _max(values: Iterable[Any]) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def monitor_view(wh: Any, manifest: dict[str, Any], view: _spec.ViewMonitor, *, baseline: str | None = None,
                 current: str = "view", window: _dt.date | None = None,
                 now: _dt.datetime | None = None) -> ViewResult:
    """Profile one view against its baseline and judge it."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    fl = _sql.flavor(wh)
    kinds = {f.name: f.kind for f in view.features}
    cur = resolve_source(manifest, view, current)
    day = window or _newest_day(wh, cur)
    if day is None:  # an empty view (a served log before anything was served) has nothing to compare
        return ViewResult(view.name, "-", cur.label, None, (), _freshness(view, (), now), (),
                          (f"{cur.label} has no rows: nothing to profile",))
    base = resolve_baseline(manifest, view, baseline or view.baseline or "previous", cur, day)
    bins = _profile.compute_bins(wh, fl, base, kinds)
    base_profile = _profile.profile(wh, fl, base, kinds, bins, daily=False)[0]
    fresh_cols = [view.timestamp] + ([view.load_timestamp] if view.load_timestamp else [])
    windows: list[WindowProfile] = _profile.profile(
        wh, fl, cur, kinds, bins, daily=True, freshness=fresh_cols if current == "view" else ())
    if current == "view":
        newest = tuple(_max(w.newest[k] for w in windows) for k in range(len(fresh_cols)))
    else:
        items = ", ".join(f"max({quote(c)}) as n{k}" for k, c in enumerate(fresh_cols))
        row = wh.fetch_arrow(f"select {items} from {view.relation}").to_pylist()[0]
        newest = tuple(row[f"n{k}"] for k in range(len(fresh_cols)))
    chosen = next((w for w in windows if w.window == (day.isoformat() if day else None)), None)
    features, breaches = [], []
    for f in view.features:
        b = base_profile.features.get(f.name)
        c = chosen.features.get(f.name) if chosen else None
        over_time = {w.window: _psi.psi(b.bins, w.features[f.name].bins) if b else None
                     for w in windows if f.name in w.features}
        result = FeatureResult(f.name, f.kind, _psi.psi(b.bins, c.bins) if b and c else None, b, c, over_time,
                               bins.get(f.name, ()))
        features.append(result)
        t = f.thresholds
        if not b or not c or min(b.rows, c.rows) < t.min_rows:
            continue  # too few rows to judge (still reported)
        if result.psi is not None and result.psi > t.psi:
            breaches.append(Breach(view.name, f.name, "psi", result.psi, t.psi, t.blocking))
        change = result.null_rate_change
        if change is not None and abs(change) > t.null_rate_change:
            breaches.append(Breach(view.name, f.name, "null_rate_change", abs(change), t.null_rate_change, t.blocking))
    freshness = _freshness(view, newest, now)
    age = freshness["age_seconds"]
    if view.max_age_seconds and age is not None and age > view.max_age_seconds:
        breaches.append(Breach(view.name, None, "freshness", age, float(view.max_age_seconds), view.freshness_blocking))
    return ViewResult(view.name, base.label, cur.label, day.isoformat() if day else None, tuple(features), freshness,
                      tuple(breaches), view.skipped)


@dataclass(frozen=True)
class MonitorRun:
    results: tuple[ViewResult, ...]
    checked_at: str
    history_path: Any = None
    plots: dict[str, str] = field(default_factory=dict)

    @property
    def breaches(self) -> list[Breach]:
        return [b for r in self.results for b in r.breaches]

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at, "success": not self.breaches,
            "history": str(self.history_path) if self.history_path else None, "plots": self.plots,
            "views": [r.to_dict() for r in self.results],
        }


def monitor(config: ProjectConfig, select: Iterable[str] | None = None, *, baseline: str | None = None,
            current: str = "view", window: str | None = None, plots: bool = True,
            on_view: Callable[[str], None] | None = None) -> MonitorRun:
    """Monitor the selected feature views (all by default), append the results to the history
    and draw the plots. Raises on configuration errors before anything is written."""
    from featurewarehouse.dbt import read_manifest
    from featurewarehouse.monitoring import history
    from featurewarehouse.offline.warehouse import warehouse

    if current not in CURRENT_CHOICES:
        raise ConfigError(f"bad --current {current!r}", hint=f"use one of: {', '.join(CURRENT_CHOICES)}")
    day = _date(window, "--window") if window else None
    manifest = read_manifest(config)
    views = _spec.select(_spec.view_monitors(manifest), select)
    now = _dt.datetime.now(_dt.timezone.utc)
    results = []
    with warehouse(config, read_only=True) as wh:
        for view in views:
            if on_view:
                on_view(view.name)
            results.append(monitor_view(wh, manifest, view, baseline=baseline, current=current, window=day, now=now))
    path = history.append(config, results, now)
    drawn: dict[str, str] = {}
    if plots:
        from featurewarehouse.monitoring.plots import draw_all

        drawn = {k: str(v) for k, v in draw_all(config, results).items()}
    return MonitorRun(tuple(results), now.isoformat(), path, drawn)
