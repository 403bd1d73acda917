"""The change list between two registries: added, removed and changed views and features."""
from __future__ import annotations

from typing import Any

from featurewarehouse.registry.model import Registry

# fields of a view whose change counts as a definition change (lineage follows from them)
_VIEW_FIELDS = (
    "relation", "entities", "join_keys", "timestamp", "created_timestamp", "available_timestamp",
    "ttl_seconds", "online", "owner", "tags", "description", "fingerprint",
)
_FEATURE_FIELDS = ("dtype", "description", "checks", "tags")


def _changed_fields(old: Any, new: Any, fields: tuple[str, ...]) -> list[str]:
    # frozen dataclasses compare field by field: no asdict (it deep-copies, and is slow at 20k features)
    return [f for f in fields if getattr(old, f) != getattr(new, f)]


def diff_registries(previous: Registry | None, current: Registry) -> dict[str, Any]:
    """What changed since ``previous`` (None: everything is new).

    Shape: ``{"previous_version", "views": {"added", "removed", "changed": [{"name", "fields"}]},
    "features": {"added", "removed", "changed": [{"ref", "fields"}]}, "models": {...}}``.
    """
    old_views = {v.name: v for v in previous.feature_views} if previous else {}
    new_views = {v.name: v for v in current.feature_views}
    views = {
        "added": sorted(set(new_views) - set(old_views)),
        "removed": sorted(set(old_views) - set(new_views)),
        "changed": [],
    }
    feats: dict[str, list[Any]] = {"added": [], "removed": [], "changed": []}
    for name in sorted(set(old_views) | set(new_views)):
        old, new = old_views.get(name), new_views.get(name)
        old_f = {f.name: f for f in old.features} if old else {}
        new_f = {f.name: f for f in new.features} if new else {}
        feats["added"] += [f"{name}:{f}" for f in new_f if f not in old_f]
        feats["removed"] += [f"{name}:{f}" for f in old_f if f not in new_f]
        for f in new_f:
            if f in old_f:
                fields = _changed_fields(old_f[f], new_f[f], _FEATURE_FIELDS)
                if fields:
                    feats["changed"].append({"ref": f"{name}:{f}", "fields": fields})
        if old and new:
            fields = _changed_fields(old, new, _VIEW_FIELDS)
            if [f.name for f in old.features] != [f.name for f in new.features]:
                fields.append("features")
            if fields:
                views["changed"].append({"name": name, "fields": fields})
    old_models = {m.name: m for m in previous.models} if previous else {}
    new_models = {m.name: m for m in current.models}
    models = {
        "added": sorted(set(new_models) - set(old_models)),
        "removed": sorted(set(old_models) - set(new_models)),
        "changed": sorted(
            n for n in set(old_models) & set(new_models)
            if _changed_fields(old_models[n], new_models[n], ("kind", "relation", "entities", "timestamp",
                                                               "features", "owner", "tags", "description", "meta"))
        ),
    }
    return {
        "previous_version": previous.version if previous else None,
        "views": views,
        "features": feats,
        "models": models,
    }


def is_empty(changes: dict[str, Any]) -> bool:
    return not any(changes.get(k, {}).get(part) for k in ("views", "features", "models")
                   for part in ("added", "removed", "changed"))
