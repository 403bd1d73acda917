"""The change list between two registries: added, removed and changed views and features."""
from __future__ import annotations

from operator import getitem
from typing import Any, Callable

from featurewarehouse.registry.model import Registry

# fields of a view whose change counts as a definition change (lineage follows from them)
_VIEW_FIELDS = (
    "relation", "entities", "join_keys", "timestamp", "created_timestamp", "available_timestamp",
    "ttl_seconds", "online", "owner", "tags", "description", "fingerprint", "rolling",
)
_FEATURE_FIELDS = ("dtype", "description", "checks", "tags")


def _changed_fields(old: Any, new: Any, fields: tuple[str, ...],
                    get: Callable[[Any, str], Any] = getattr) -> list[str]:
    # frozen dataclasses compare field by field: no asdict (it deep-copies, and is slow at 20k features);
    # their JSON forms compare the same way (lists for tuples, dicts for JoinKeys)
    return [f for f in fields if get(old, f) != get(new, f)]


def diff_registries(previous: Registry | None, current: Registry) -> dict[str, Any]:
    """What changed since ``previous`` (None: everything is new).

    Shape: ``{"previous_version", "views": {"added", "removed", "changed": [{"name", "fields"}]},
    "features": {"added", "removed", "changed": [{"ref", "fields"}]}, "models": {...}}``.
    """
    if previous is None:
        return _diff((), current.feature_views, (), current.models, None, getattr)
    return _diff(previous.feature_views, current.feature_views, previous.models, current.models,
                 previous.version, getattr)


def diff_data(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """:func:`diff_registries` of two registries in their JSON form (``plain``), the same result.

    Reading the previous file as dicts skips building 20k records at 1,000 views.
    """
    if previous is None:
        return _diff((), current["feature_views"], (), current["models"], None, getitem)
    return _diff(previous["feature_views"], current["feature_views"], previous.get("models", []),
                 current["models"], previous.get("version", ""), getitem)


def _diff(old_view_list, new_view_list, old_model_list, new_model_list, previous_version,
          get: Callable[[Any, str], Any]) -> dict[str, Any]:
    old_views = {get(v, "name"): v for v in old_view_list}
    new_views = {get(v, "name"): v for v in new_view_list}
    views = {
        "added": sorted(set(new_views) - set(old_views)),
        "removed": sorted(set(old_views) - set(new_views)),
        "changed": [],
    }
    feats: dict[str, list[Any]] = {"added": [], "removed": [], "changed": []}
    for name in sorted(set(old_views) | set(new_views)):
        old, new = old_views.get(name), new_views.get(name)
        old_f = {get(f, "name"): f for f in get(old, "features")} if old is not None else {}
        new_f = {get(f, "name"): f for f in get(new, "features")} if new is not None else {}
        feats["added"] += [f"{name}:{f}" for f in new_f if f not in old_f]
        feats["removed"] += [f"{name}:{f}" for f in old_f if f not in new_f]
        for f in new_f:
            if f in old_f:
                fields = _changed_fields(old_f[f], new_f[f], _FEATURE_FIELDS, get)
                if fields:
                    feats["changed"].append({"ref": f"{name}:{f}", "fields": fields})
        if old is not None and new is not None:
            fields = _changed_fields(old, new, _VIEW_FIELDS, get)
            if [get(f, "name") for f in get(old, "features")] != [get(f, "name") for f in get(new, "features")]:
                fields.append("features")
            if fields:
                views["changed"].append({"name": name, "fields": fields})
    old_models = {get(m, "name"): m for m in old_model_list}
    new_models = {get(m, "name"): m for m in new_model_list}
    models = {
        "added": sorted(set(new_models) - set(old_models)),
        "removed": sorted(set(old_models) - set(new_models)),
        "changed": sorted(
            n for n in set(old_models) & set(new_models)
            if _changed_fields(old_models[n], new_models[n], ("kind", "relation", "entities", "timestamp",
                                                               "features", "owner", "tags", "description", "meta"),
                               get)
        ),
    }
    return {
        "previous_version": previous_version,
        "views": views,
        "features": feats,
        "models": models,
    }
