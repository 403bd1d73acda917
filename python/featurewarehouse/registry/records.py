"""Manifest nodes -> registry records, with every metadata problem collected.

Each function appends :class:`Problem` s (file, model, column) instead of
raising, so a build reports all of them at once.
"""
from __future__ import annotations

import difflib
from typing import Any

from featurewarehouse.errors import ConfigError, MetadataError, Problem
from featurewarehouse.refs import FeatureRef, did_you_mean
from featurewarehouse.registry.dtypes import types_match
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, ModelRecord, parse_ttl

_KIND_KEYS = {"entity", "timestamp", "features", "ttl", "online", "created_timestamp", "available_timestamp"}

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
    yaml = node.get("columns") or {}
    made = generated(node).get("columns") or {}
    return {**{n: c for n, c in yaml.items() if n not in made}, **{n: yaml.get(n, c) for n, c in made.items()}}


def view_ttl(node: dict[str, Any], meta: dict[str, Any]) -> Any:
    """``config.meta.fw.ttl`` when the YAML has the key (even null), else the generated TTL."""
    return meta["ttl"] if "ttl" in meta else generated(node).get("ttl")


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


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def parse_entities(raw: dict[str, Any], problems: list[Problem]) -> dict[str, Entity]:
    out: dict[str, Entity] = {}
    for name, spec in sorted((raw or {}).items()):
        at = f"dbt_project.yml: vars.fw.entities.{name}"
        keys = (spec or {}).get("join_keys") if isinstance(spec, dict) else None
        if not keys or not isinstance(keys, list):
            problems.append(Problem(f"entity {name!r} declares no join keys", at,
                                    "write join_keys: [{name: customer_id, dtype: bigint}]"))
            continue
        jks = []
        for k in keys:
            if isinstance(k, str):
                k = {"name": k, "dtype": ""}
            if not isinstance(k, dict) or not k.get("name"):
                problems.append(Problem(f"entity {name!r} has a malformed join key {k!r}", at,
                                        "each join key is {name: ..., dtype: ...}"))
                continue
            jks.append(JoinKey(name=str(k["name"]), dtype=str(k.get("dtype") or "")))
        out[name] = Entity(name=name, join_keys=tuple(jks), description=str(spec.get("description") or ""))
    return out


class CatalogColumns:
    """The columns (lowercased name -> type) of each node or source in dbt's catalog, read once per uid.

    One per build: the analysis pass (inputs' schemas) and the view records
    (produced columns, key and feature types) share it. Callers must not mutate
    the dicts it returns.
    """

    def __init__(self, catalog: dict[str, Any] | None):
        self._nodes = (catalog or {}).get("nodes") or {}
        self._sources = (catalog or {}).get("sources") or {}
        self._read: dict[str, dict[str, str] | None] = {}

    @classmethod
    def of(cls, catalog: "CatalogColumns | dict[str, Any] | None") -> "CatalogColumns":
        return catalog if isinstance(catalog, CatalogColumns) else cls(catalog)

    def __call__(self, uid: str) -> dict[str, str] | None:
        """None when the catalog has no entry for ``uid``."""
        if uid in self._read:
            return self._read[uid]
        entry = self._nodes.get(uid) or self._sources.get(uid)
        cols = None
        if entry:
            cols = {name.lower(): str(col.get("type") or "") for name, col in (entry.get("columns") or {}).items()}
        self._read[uid] = cols
        return cols


def build_view(uid, node, meta, ents, msql, catalog, dialect, problems, warnings) -> FeatureView:
    """``catalog``: a :class:`CatalogColumns` (or the catalog dict, or None)."""
    name = node["name"]
    cat_cols = CatalogColumns.of(catalog)(uid)
    entity_names = _as_list(meta.get("entity"))
    if not entity_names:
        problems.append(Problem(f"feature view {name!r} names no entity", where(node, key="entity"),
                                f"set config.meta.fw.entity to one of: {', '.join(sorted(ents)) or '(none declared)'}"))
    for e in entity_names:
        if e not in ents:
            problems.append(Problem(f"feature view {name!r} names unknown entity {e!r}." + did_you_mean(e, ents),
                                    where(node, key="entity"),
                                    "declare it in dbt_project.yml under vars.fw.entities, or fix the name"))
    timestamp = meta.get("timestamp")
    if not timestamp:
        problems.append(Problem(f"feature view {name!r} declares no timestamp column", where(node, key="timestamp"),
                                "set config.meta.fw.timestamp to the column holding when each row became true"))
    try:
        ttl = parse_ttl(view_ttl(node, meta), where=where(node, key="ttl"))
    except MetadataError as exc:
        problems.append(Problem(exc.message, exc.where, exc.hint))
        ttl = None

    # what the model produces: its SELECT (sqlglot), else the catalog
    produced: set[str] | None = None
    if msql is not None and msql.origin == "approximate":
        warnings.append(f"{name}: SQL approximated (Jinja expressions kept as literals; no compiled code): "
                        f"run `fwctl registry build --compile` for exact lineage and fingerprint")
    if msql is not None and msql.outputs is not None:
        produced = {c.lower() for c in msql.outputs}
        evidence = "the model's SELECT"
    else:
        if cat_cols:
            produced, evidence = set(cat_cols), "the warehouse catalog"
        elif msql is None or not msql.text:
            warnings.append(f"{name}: no SQL to check (compiled code missing and raw code uses Jinja blocks); "
                            f"run `fwctl registry build --compile`")
        elif msql.error:
            warnings.append(f"{name}: SQL checks skipped: {msql.error}")
        else:
            warnings.append(f"{name}: SQL checks skipped: output columns unknown (select * of an unknown schema)")
    cat_cols = cat_cols or {}

    def check_column(col: str, what: str, hint: str, column: str | None = None) -> None:
        if produced is not None and col.lower() not in produced:
            problems.append(Problem(
                f"{what} {col!r} is not produced by {evidence} of {name!r}." + did_you_mean(col, sorted(produced)),
                where(node, column=column), hint))

    for ts_key in ("timestamp", "created_timestamp", "available_timestamp"):
        if meta.get(ts_key):
            check_column(str(meta[ts_key]), f"{ts_key.replace('_', ' ')} column",
                         f"select a column named {meta[ts_key]!r} or fix config.meta.fw.{ts_key}")

    join_keys: list[JoinKey] = []
    for e in entity_names:
        for k in ents[e].join_keys if e in ents else ():
            if k.name in {j.name for j in join_keys}:
                continue
            join_keys.append(k)
            check_column(k.name, f"join key of entity {e!r}", f"select the column {k.name!r} (the entity's key)")
            actual = cat_cols.get(k.name.lower())
            if actual and k.dtype and not types_match(k.dtype, actual, dialect):
                problems.append(Problem(
                    f"join key {k.name!r} is {actual} in the warehouse but entity {e!r} declares {k.dtype}",
                    where(node, column=k.name), f"cast it in the model: cast({k.name} as {k.dtype})"))

    features: list[Feature] = []
    for col_name, col in node_columns(node).items():
        cmeta = fw_meta(col) or {}
        if not cmeta.get("feature"):
            continue
        check_column(col_name, "declared feature", "select it in the model's SQL, or fix the column name in the YAML",
                     column=col_name)
        declared = str(col.get("data_type") or "")
        actual = cat_cols.get(col_name.lower())
        if declared and actual and not types_match(declared, actual, dialect):
            problems.append(Problem(
                f"feature {name}:{col_name} is declared {declared} but the warehouse has {actual}",
                where(node, column=col_name, key="data_type"),
                f"cast it in the model (cast(... as {declared})) or declare data_type: {actual.lower()}"))
        if not declared and not actual:
            warnings.append(f"{name}:{col_name} has no data_type (declare one in the YAML)")
        checks = cmeta.get("checks") or {}
        if not isinstance(checks, dict):
            problems.append(Problem(f"checks of feature {name}:{col_name} must be a mapping",
                                    where(node, column=col_name, key="config.meta.fw.checks"),
                                    "write checks: {not_null: true, min: 0}"))
            checks = {}
        features.append(Feature(
            name=col_name, view=name, dtype=(declared or actual or "").lower(),
            description=str(col.get("description") or ""), checks=dict(sorted(checks.items())),
            tags=tuple(sorted(set(_as_list(col.get("tags")) + _as_list(cmeta.get("tags"))))),
        ))
    if not features:
        warnings.append(f"{name}: feature view declares no feature columns (config.meta.fw.feature: true)")
    # built even when it has problems (nothing is written then): training sets using it are still checked
    return FeatureView(
        name=name, relation=node.get("relation_name") or name, entities=tuple(entity_names),
        join_keys=tuple(join_keys), timestamp=str(timestamp or ""), features=tuple(features),
        created_timestamp=meta.get("created_timestamp"), available_timestamp=meta.get("available_timestamp"),
        ttl_seconds=ttl, online=bool(meta.get("online", False)), owner=meta.get("owner"),
        tags=tuple(sorted(set(_as_list(meta.get("tags")) + _as_list(node.get("tags"))))),
        description=str(node.get("description") or ""), unique_id=uid,
        original_file_path=node.get("original_file_path", ""),
        fingerprint=msql.fingerprint if msql is not None else "",
    )


def build_record(uid, node, meta, ents, views, problems) -> ModelRecord:
    name, kind = node["name"], meta["kind"]
    entity_names = _as_list(meta.get("entity"))
    for e in entity_names:
        if e not in ents:
            problems.append(Problem(f"{kind} model {name!r} names unknown entity {e!r}." + did_you_mean(e, ents),
                                    where(node, key="entity"), "declare it under vars.fw.entities, or fix the name"))
    refs: list[str] = []
    if kind == "training_set":
        seen: dict[str, str] = {}
        all_refs = [f.ref for v in views.values() for f in v.features]
        for raw in _as_list(meta.get("features")):
            try:
                ref = FeatureRef.parse(raw)
            except ConfigError as exc:
                problems.append(Problem(exc.message, where(node, key="features"), exc.hint))
                continue
            view = views.get(ref.view)
            if view is None:
                problems.append(Problem(
                    f"training set {name!r} uses unknown feature view {ref.view!r}." + did_you_mean(ref.view, views),
                    where(node, key="features"), "run `fwctl features list` to see the feature views"))
                continue
            expanded = [f.ref for f in view.features] if ref.is_wildcard else [str(ref)]
            if not ref.is_wildcard and ref.feature not in {f.name for f in view.features}:
                close = difflib.get_close_matches(ref.feature, [f.name for f in view.features], n=3, cutoff=0.6)
                suggest = did_you_mean(str(ref), [f"{view.name}:{c}" for c in close] or all_refs)
                problems.append(Problem(
                    f"training set {name!r} uses unknown feature {str(ref)!r}." + suggest,
                    where(node, key="features"), f"run `fwctl features show {ref.view}` to list its features"))
                continue
            for r in expanded:
                if r in seen:
                    problems.append(Problem(
                        f"training set {name!r} lists feature {r!r} twice ({seen[r]!r} and {raw!r})",
                        where(node, key="features"), "list each feature once"))
                seen.setdefault(r, raw)
            refs.append(str(ref))
    return ModelRecord(
        name=name, kind=kind, relation=node.get("relation_name") or name, entities=tuple(entity_names),
        timestamp=meta.get("timestamp"), features=tuple(refs), owner=meta.get("owner"),
        tags=tuple(sorted(set(_as_list(meta.get("tags")) + _as_list(node.get("tags"))))),
        description=str(node.get("description") or ""), unique_id=uid,
        original_file_path=node.get("original_file_path", ""),
        meta={k: v for k, v in sorted(meta.items()) if k not in ("kind", "features")},
    )
