"""What ``fwctl monitor`` watches, and its thresholds, from the dbt manifest.

Thresholds live in YAML, in ``config.meta.fw.monitor`` of a feature view (for all
its features) or of a feature column (for that feature; it wins)::

    config:
      meta:
        fw:
          monitor:
            psi: 0.2               # max PSI between baseline and current window
            null_rate_change: 0.1  # max absolute change of the null rate
            min_rows: 100          # fewer rows on either side: reported, not judged
            max_age: 2d            # max age of the newest event (else freshness.max_age)
            blocking: true         # a breach refuses sync-online for this view
            baseline: "range:2025-01-01..2025-04-01"   # the default --baseline

A feature column may also say ``monitor: {enabled: false}``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from featurewarehouse.errors import MetadataError
from featurewarehouse.registry.model import parse_ttl
from featurewarehouse.registry.records import fw_meta
from featurewarehouse.contract.types import type_family

# Common practice for PSI: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
DEFAULT_PSI = 0.2
DEFAULT_NULL_RATE_CHANGE = 0.1
# Below this many rows on either side PSI and null rates are noise (a day with 3 rows
# moves them arbitrarily): they are reported, not judged.
DEFAULT_MIN_ROWS = 100
NUMERIC_FAMILIES = ("integer", "float", "decimal")
CATEGORICAL_FAMILIES = ("text", "boolean")  # the contract's families (contract/types.py)
_THRESHOLD_KEYS = ("psi", "null_rate_change", "min_rows", "max_age", "blocking", "baseline", "enabled")


@dataclass(frozen=True)
class Thresholds:
    psi: float = DEFAULT_PSI
    null_rate_change: float = DEFAULT_NULL_RATE_CHANGE
    blocking: bool = False
    min_rows: int = DEFAULT_MIN_ROWS


@dataclass(frozen=True)
class FeatureMonitor:
    name: str
    kind: str  # "numeric" | "categorical"
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class ViewMonitor:
    """One feature view to monitor."""

    name: str
    relation: str
    timestamp: str
    features: tuple[FeatureMonitor, ...]
    load_timestamp: str | None = None  # created_timestamp / available_timestamp, when declared
    ttl_seconds: int | None = None
    max_age_seconds: int | None = None
    freshness_blocking: bool = False
    baseline: str | None = None
    skipped: tuple[str, ...] = ()  # features not monitored, with the reason


def _monitor_meta(meta: dict[str, Any] | None, where: str) -> dict[str, Any]:
    raw = (meta or {}).get("monitor") or {}
    if not isinstance(raw, dict):
        raise MetadataError("monitor must be a mapping", where=where, hint="write e.g. monitor: {psi: 0.2, blocking: true}")
    unknown = sorted(set(raw) - set(_THRESHOLD_KEYS))
    if unknown:
        raise MetadataError(f"unknown monitor setting(s) {', '.join(unknown)}", where=where,
                            hint=f"known settings: {', '.join(_THRESHOLD_KEYS)}")
    for key in ("psi", "null_rate_change", "min_rows"):
        if key in raw and (not isinstance(raw[key], (int, float)) or isinstance(raw[key], bool) or raw[key] < 0):
            raise MetadataError(f"monitor.{key} must be a non-negative number, not {raw[key]!r}", where=where)
    return raw


def _thresholds(view: dict[str, Any], column: dict[str, Any]) -> Thresholds:
    merged = {**view, **column}
    return Thresholds(
        psi=float(merged.get("psi", DEFAULT_PSI)),
        null_rate_change=float(merged.get("null_rate_change", DEFAULT_NULL_RATE_CHANGE)),
        blocking=bool(merged.get("blocking", False)),
        min_rows=int(merged.get("min_rows", DEFAULT_MIN_ROWS)),
    )


def view_monitor(node: dict[str, Any]) -> ViewMonitor | None:
    """The monitor of one manifest node; None when it is not a feature view with a timestamp."""
    fw = fw_meta(node) or {}
    if fw.get("kind") != "feature_view" or not fw.get("timestamp"):
        return None
    where = f"{node.get('original_file_path') or node.get('unique_id')}: {node['name']}"
    view_cfg = _monitor_meta(fw, f"{where}: meta.fw.monitor")
    features, skipped = [], []
    for col in (node.get("columns") or {}).values():
        cfw = fw_meta(col) or {}
        if not cfw.get("feature"):
            continue
        col_cfg = _monitor_meta(cfw, f"{where}.columns.{col['name']}: meta.fw.monitor")
        if col_cfg.get("enabled", True) is False:
            skipped.append(f"{col['name']} (monitor.enabled: false)")
            continue
        fam = type_family(col.get("data_type"))
        if fam in NUMERIC_FAMILIES:
            kind = "numeric"
        elif fam in CATEGORICAL_FAMILIES:
            kind = "categorical"
        else:
            skipped.append(f"{col['name']} (data_type {col.get('data_type')!r} is neither numeric nor categorical)")
            continue
        features.append(FeatureMonitor(col["name"], kind, _thresholds(view_cfg, col_cfg)))
    fresh = fw.get("freshness")
    declared_age = fresh.get("max_age") if isinstance(fresh, dict) else fresh
    max_age = view_cfg.get("max_age") or declared_age or fw.get("max_age")
    return ViewMonitor(
        name=node["name"],
        relation=node.get("relation_name") or f"{node.get('schema')}.{node.get('alias') or node['name']}",
        timestamp=fw["timestamp"],
        features=tuple(features),
        load_timestamp=fw.get("created_timestamp") or fw.get("available_timestamp"),
        ttl_seconds=parse_ttl(fw.get("ttl"), where=f"{where}: meta.fw.ttl"),
        max_age_seconds=parse_ttl(max_age, where=f"{where}: meta.fw.monitor.max_age"),
        freshness_blocking=bool(view_cfg.get("blocking", False)),
        baseline=view_cfg.get("baseline"),
        skipped=tuple(skipped),
    )


def view_monitors(manifest: dict[str, Any]) -> dict[str, ViewMonitor]:
    """Every feature view of the manifest, by name."""
    out = {}
    for node in (manifest.get("nodes") or {}).values():
        if node.get("resource_type") != "model" or (node.get("config") or {}).get("enabled") is False:
            continue
        monitor = view_monitor(node)
        if monitor is not None:
            out[monitor.name] = monitor
    return out


def served_columns(manifest: dict[str, Any], view: str) -> list[tuple[str, str, str]]:
    """``(log model, log column, feature)`` for every served-log column holding a feature of ``view``.

    A served log (e.g. the demo's ``served_fraud_features``) marks each column
    with ``meta.fw.served_from: view:feature``.
    """
    out = []
    for node in (manifest.get("nodes") or {}).values():
        if node.get("resource_type") != "model":
            continue
        fw = fw_meta(node) or {}
        for col in (node.get("columns") or {}).values():
            ref = (fw_meta(col) or {}).get("served_from")
            if isinstance(ref, str) and ref.partition(":")[0] == view:
                out.append((node["name"], col["name"], ref.partition(":")[2]))
    return out


def select(monitors: dict[str, ViewMonitor], names: Iterable[str] | None) -> list[ViewMonitor]:
    """The named views (all by default); an unknown name is an error with a suggestion."""
    from featurewarehouse.errors import ConfigError
    from featurewarehouse.refs import did_you_mean

    names = [n for n in (names or []) if n]
    if not names:
        return [monitors[n] for n in sorted(monitors)]
    for n in names:
        if n not in monitors:
            raise ConfigError(f"{n!r} is not a feature view." + did_you_mean(n, list(monitors)),
                              hint="monitor feature views (meta.fw.kind: feature_view) by their model name")
    return [monitors[n] for n in dict.fromkeys(names)]
