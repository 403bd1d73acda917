"""The schema of ``config.meta.fw``: what each key means, and the checks that need no warehouse.

Model level (``models: - name: x  config: {meta: {fw: {...}}}``):

=====================  ============================================================
``kind``               feature_view | label | feature_log | training_set
``entity``             one entity name or a list (declared in ``vars.fw.entities``)
``timestamp``          the column holding when the row's values became true
``created_timestamp``  optional tie-break (restatements: the later created wins)
``available_timestamp`` optional: when the row became knowable
``ttl``                optional, see :mod:`featurewarehouse.contract.ttl`
``online``             a YAML boolean: sync the view to the online store
``allow_empty``        a YAML boolean: no row-count expectation
``freshness``          ``{max_age: 1d}``: the newest timestamp is at most this old
``timestamp_range``    ``{min: 2000-01-01, max_ahead: 1d}``: plausible timestamps
``feature_service``    a training set: the feature service its SQL joins
=====================  ============================================================

Column level: ``feature`` (boolean), ``checks`` (mapping), ``served_from``.

Owners and tags are dbt's own fields (``config.tags``, ``config.meta.owner``
or a dbt ``group``), so ``dbt ls -s tag:x`` and dbt docs see them;
``meta.fw.owner`` / ``meta.fw.tags`` are errors that say where to move them.
"""
from __future__ import annotations

from typing import Any

from featurewarehouse.errors import Problem

KINDS = ("feature_view", "label", "feature_log", "training_set")
TIMESTAMP_KEYS = ("timestamp", "created_timestamp", "available_timestamp")
BOOLEAN_MODEL_KEYS = ("online", "allow_empty")
BOOLEAN_COLUMN_KEYS = ("feature",)
# keys that make a meta.fw block a registry model even without `kind` (then: a missing kind is an error)
KIND_KEYS = frozenset({"entity", "timestamp", "features", "ttl", "online", "created_timestamp", "available_timestamp"})
# Plausible event times: a timestamp before `min` or more than `max_ahead` after the
# validation run is a unit or clock bug (rows stamped 2999 are invisible online and
# in training). vars.fw.timestamp_range sets it for the project, meta.fw.timestamp_range
# per model; `timestamp_range: false` turns the check off.
DEFAULT_TIMESTAMP_RANGE = {"min": "1970-01-01", "max_ahead": "1d"}
MOVED_TO_DBT = {
    "owner": "config.meta.owner (dbt's own meta key; or put the model in a dbt group)",
    "tags": "config.tags (dbt's own tags, so `dbt ls -s tag:<tag>` finds the model)",
}


def fw_meta(node: dict[str, Any]) -> dict[str, Any] | None:
    """``config.meta.fw`` of a node or column (dbt also mirrors it in ``meta``)."""
    for holder in ((node.get("config") or {}).get("meta") or {}, node.get("meta") or {}):
        fw = holder.get("fw")
        if fw is not None:
            return fw if isinstance(fw, dict) else {"__invalid__": fw}
    return None


def generated(node: dict[str, Any]) -> dict[str, Any]:
    """What a macro generated at parse time (``config.meta.fw_generated``, e.g. rolling_features)."""
    for holder in ((node.get("config") or {}).get("meta") or {}, node.get("meta") or {}):
        if isinstance(holder.get("fw_generated"), dict):
            return holder["fw_generated"]
    return {}


def node_columns(node: dict[str, Any]) -> dict[str, Any]:
    """The node's columns: the YAML's own (keys, timestamp...), then the generated ones in their
    order, where a column the YAML also lists takes the YAML's entry.

    The PIT macros apply the same rule (``fw_pit_columns`` in macros/pit_metadata.sql).
    """
    yaml_cols = node.get("columns") or {}
    made = generated(node).get("columns") or {}
    return {**{n: c for n, c in yaml_cols.items() if n not in made}, **{n: yaml_cols.get(n, c) for n, c in made.items()}}


def view_ttl(node: dict[str, Any], meta: dict[str, Any]) -> Any:
    """``config.meta.fw.ttl`` when the YAML has the key (even null), else the generated TTL."""
    return meta["ttl"] if "ttl" in meta else generated(node).get("ttl")


def dbt_meta(node: dict[str, Any]) -> dict[str, Any]:
    """``config.meta`` of a node (or the older top-level ``meta``)."""
    return (node.get("config") or {}).get("meta") or node.get("meta") or {}


def owner_of(node: dict[str, Any]) -> str | None:
    """dbt's own owner: ``config.meta.owner``, else the model's dbt ``group``."""
    owner = dbt_meta(node).get("owner")
    if owner:
        return str(owner)
    group = node.get("group") or (node.get("config") or {}).get("group")
    return str(group) if group else None


def tags_of(node: dict[str, Any]) -> tuple[str, ...]:
    """dbt's own tags of a node or column, sorted."""
    tags = node.get("tags") or (node.get("config") or {}).get("tags") or ()
    return tuple(sorted({str(t) for t in ([tags] if isinstance(tags, str) else tags)}))


def yaml_file(node: dict[str, Any]) -> str:
    patch = node.get("patch_path") or ""
    if "://" in patch:
        patch = patch.split("://", 1)[1]
    return patch or node.get("original_file_path") or node.get("name", "")


def where(node: dict[str, Any], column: str | None = None, key: str | None = None) -> str:
    """``models/features/x.yml: x.columns.y`` (file, model, column)."""
    path = f"{node['name']}.columns.{column}" if column else node["name"]
    if key:
        path += f".config.meta.fw.{key}" if not column else f".{key}"
    return f"{yaml_file(node)}: {path}"


def _bool_problem(value: Any, key: str, at: str) -> Problem | None:
    if value is None or isinstance(value, bool):
        return None
    # `online: "false"` is truthy in Python and would sync the view: never guess
    spelled = str(value).strip().lower()
    fix = "true" if spelled in ("yes", "y", "on", "1", "true") else "false" if spelled in (
        "no", "n", "off", "0", "false") else "true or false"
    return Problem(f"{key} must be a YAML boolean (true or false), got {value!r}", at,
                   f"write {key}: {fix} (no quotes)")


def model_meta_problems(node: dict[str, Any], meta: dict[str, Any]) -> list[Problem]:
    """Problems of one model's ``meta.fw`` that need no other model and no warehouse."""
    problems = []
    for key in BOOLEAN_MODEL_KEYS:
        p = _bool_problem(meta.get(key), f"config.meta.fw.{key}", where(node, key=key))
        if p:
            problems.append(p)
    for key, home in MOVED_TO_DBT.items():
        if key in meta:
            problems.append(Problem(f"config.meta.fw.{key} is no longer read: {key} is dbt's own field",
                                    where(node, key=key), f"move it to {home}"))
    for col_name, col in (node.get("columns") or {}).items():
        cmeta = fw_meta(col) or {}
        for key in BOOLEAN_COLUMN_KEYS:
            p = _bool_problem(cmeta.get(key), f"config.meta.fw.{key}", where(node, column=col_name, key=f"config.meta.fw.{key}"))
            if p:
                problems.append(p)
        for key, home in MOVED_TO_DBT.items():
            if key in cmeta:
                problems.append(Problem(f"config.meta.fw.{key} of a column is no longer read",
                                        where(node, column=col_name, key=f"config.meta.fw.{key}"),
                                        f"move it to the column's {home.split(' (')[0]}"))
    return problems


def reserved_feature_problems(node: dict[str, Any], meta: dict[str, Any], key_names: list[str]) -> list[Problem]:
    """A feature column named like a join key or one of the view's timestamps."""
    reserved = {k.lower(): f"the join key {k!r}" for k in key_names}
    for ts_key in TIMESTAMP_KEYS:
        if meta.get(ts_key):
            reserved.setdefault(str(meta[ts_key]).lower(), f"the view's {ts_key.replace('_', ' ')}")
    problems = []
    for col_name, col in node_columns(node).items():
        if (fw_meta(col) or {}).get("feature") is True and col_name.lower() in reserved:
            problems.append(Problem(
                f"feature column {col_name!r} of {node['name']!r} is {reserved[col_name.lower()]}: "
                "keys and timestamps are served beside the features, not as features",
                where(node, column=col_name, key="config.meta.fw.feature"),
                "remove config.meta.fw.feature from this column, or select the value under another name"))
    return problems


def timestamp_range(project: Any, model: Any, at: str) -> tuple[int, int] | None:
    """``(min as epoch seconds, max_ahead seconds)`` of the plausible-timestamp check, or None when off.

    ``model`` (``meta.fw.timestamp_range``) overrides ``project`` (``vars.fw.timestamp_range``) key by key.

    >>> timestamp_range(None, {"min": "2000-01-01"}, "x")
    (946684800, 86400)
    >>> timestamp_range({"max_ahead": "2h"}, False, "x") is None
    True
    """
    import datetime as _dt

    from featurewarehouse.contract.ttl import parse_ttl
    from featurewarehouse.errors import MetadataError

    merged = dict(DEFAULT_TIMESTAMP_RANGE)
    for layer, where_ in ((project, "dbt_project.yml: vars.fw.timestamp_range"), (model, at)):
        if layer is None:
            continue
        if layer is False:
            return None
        if not isinstance(layer, dict) or set(layer) - {"min", "max_ahead"}:
            raise MetadataError(f"timestamp_range must be a mapping with min and/or max_ahead, got {layer!r}",
                                where=where_, hint="write timestamp_range: {min: 2000-01-01, max_ahead: 1d}, or false")
        merged.update(layer)
    low = merged["min"]
    try:
        if isinstance(low, _dt.datetime):
            when = low
        elif isinstance(low, _dt.date):  # YAML reads 2000-01-01 as a date
            when = _dt.datetime(low.year, low.month, low.day)
        else:
            when = _dt.datetime.fromisoformat(str(low))
    except ValueError:
        raise MetadataError(f"timestamp_range.min {low!r} is not a date", where=at,
                            hint="write an ISO date such as 2000-01-01") from None
    if when.tzinfo is not None:
        when = when.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    epoch = int((when - _dt.datetime(1970, 1, 1)).total_seconds())
    ahead = parse_ttl(merged["max_ahead"], where=f"{at}.max_ahead")
    return epoch, ahead or 0
