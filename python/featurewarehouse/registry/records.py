"""Manifest nodes -> registry records, with every metadata problem collected.

Each function appends :class:`Problem` s (file, model, column) instead of
raising, so a build reports all of them at once.
"""
from __future__ import annotations

from typing import Any

from featurewarehouse.contract.meta import (
    TIMESTAMP_KEYS,
    fw_meta,
    model_meta_problems,
    node_columns,
    owner_of,
    reserved_feature_problems,
    tags_of,
    view_ttl,
    where,
)
from featurewarehouse.contract.ttl import parse_ttl
from featurewarehouse.contract.types import is_time_family, type_family, types_match
from featurewarehouse.errors import MetadataError, Problem
from featurewarehouse.refs import RefError, did_you_mean, expand_refs
from featurewarehouse.registry.model import Entity, Feature, FeatureView, JoinKey, ModelRecord

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
    problems.extend(model_meta_problems(node, meta))
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

    # a column's type: the warehouse's (catalog) when known, else the YAML data_type (dbt's model contract)
    yaml_types = {str(c.get("name") or n).lower(): str(c.get("data_type") or "")
                  for n, c in node_columns(node).items()}

    def column_type(col: str) -> tuple[str, str]:
        actual = cat_cols.get(col.lower())
        if actual:
            return actual, "in the warehouse"
        declared = yaml_types.get(col.lower()) or ""
        return declared, "its declared data_type" if declared else ""

    for ts_key in TIMESTAMP_KEYS:
        if meta.get(ts_key):
            ts_col = str(meta[ts_key])
            check_column(ts_col, f"{ts_key.replace('_', ' ')} column",
                         f"select a column named {ts_col!r} or fix config.meta.fw.{ts_key}")
            ts_type, source = column_type(ts_col)
            fam = type_family(ts_type, dialect)
            if ts_type and fam is not None and not is_time_family(fam):
                problems.append(Problem(
                    f"{ts_key.replace('_', ' ')} column {ts_col!r} of {name!r} is {ts_type} ({source}), "
                    "not a timestamp or date", where(node, column=ts_col),
                    f"cast it in the model: cast({ts_col} as timestamp) (and declare data_type: timestamp)"))

    join_keys: list[JoinKey] = []
    for e in entity_names:
        for k in ents[e].join_keys if e in ents else ():
            if k.name in {j.name for j in join_keys}:
                continue
            join_keys.append(k)
            check_column(k.name, f"join key of entity {e!r}", f"select the column {k.name!r} (the entity's key)")
            actual, source = column_type(k.name)
            if actual and k.dtype and not types_match(k.dtype, actual, dialect):
                problems.append(Problem(
                    f"join key {k.name!r} of {name!r} is {actual} ({source}) but entity {e!r} declares {k.dtype}",
                    where(node, column=k.name),
                    f"cast it in the model: cast({k.name} as {k.dtype}), and declare data_type: {k.dtype}"))
            elif not actual and k.dtype:
                warnings.append(f"{name}: the type of join key {k.name!r} is unknown (no data_type in the YAML, "
                                f"no catalog): declare data_type: {k.dtype} on the column to have it checked")
    problems.extend(reserved_feature_problems(node, meta, [k.name for k in join_keys]))

    features: list[Feature] = []
    for col_name, col in node_columns(node).items():
        cmeta = fw_meta(col) or {}
        if cmeta.get("feature") is not True:  # a non-boolean is reported by model_meta_problems
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
            tags=tags_of(col),
        ))
    if not features:
        warnings.append(f"{name}: feature view declares no feature columns (config.meta.fw.feature: true)")
    # built even when it has problems (nothing is written then): training sets using it are still checked
    return FeatureView(
        name=name, relation=node.get("relation_name") or name, entities=tuple(entity_names),
        join_keys=tuple(join_keys), timestamp=str(timestamp or ""), features=tuple(features),
        created_timestamp=meta.get("created_timestamp"), available_timestamp=meta.get("available_timestamp"),
        ttl_seconds=ttl, online=meta.get("online") is True, owner=owner_of(node), tags=tags_of(node),
        description=str(node.get("description") or ""), unique_id=uid,
        original_file_path=node.get("original_file_path", ""),
        fingerprint=msql.fingerprint if msql is not None else "",
    )


def with_rolling(view: FeatureView, node: dict[str, Any], manifest: dict[str, Any],
                 problems: list[Problem]) -> FeatureView:
    """``view`` with the rolling spec its macro recorded (source relation resolved in ``manifest``)."""
    from dataclasses import replace

    from featurewarehouse.contract.rolling import rolling_spec

    spec = rolling_spec(node, manifest, where(node), problems)
    if spec is None:
        return view
    if spec.timestamp.lower() != view.timestamp.lower() or tuple(k.lower() for k in spec.keys) != tuple(
            k.lower() for k in view.key_names):
        problems.append(Problem(
            f"rolling view {view.name!r} declares timestamp {view.timestamp!r} and keys {list(view.key_names)} "
            f"but its rolling_features call uses {spec.timestamp!r} and {list(spec.keys)}",
            where(node, key="timestamp"), "declare the macro's timestamp and entity in config.meta.fw"))
        return view
    if view.available_timestamp:
        # its windows are computed from the source's event times, in training sets and online:
        # a row's availability would have to bound every source row in every window, which the
        # macro does not model; declared anyway, training sets would see rows before they arrive
        problems.append(Problem(
            f"rolling view {view.name!r} declares available_timestamp {view.available_timestamp!r}, which "
            "rolling_features views do not support: their windows hold the source rows by event time",
            where(node, key="available_timestamp"),
            "remove available_timestamp; for late-arriving events, give the macro a source (a staging model) "
            "whose timestamp is when each event became known"))
        return view
    return replace(view, rolling=spec)


def build_record(uid, node, meta, ents, views, problems, services=None) -> ModelRecord:
    """``services``: feature service name -> its checked refs (:func:`build_services`)."""
    name, kind = node["name"], meta["kind"]
    services = services or {}
    entity_names = _as_list(meta.get("entity"))
    for e in entity_names:
        if e not in ents:
            problems.append(Problem(f"{kind} model {name!r} names unknown entity {e!r}." + did_you_mean(e, ents),
                                    where(node, key="entity"), "declare it under vars.fw.entities, or fix the name"))
    refs: list[str] = []
    service = meta.get("feature_service")
    if kind == "training_set":
        how = (f"declare the list once as a feature service (dbt_project.yml: vars.fw.feature_services.<name>."
               f"features), set config.meta.fw.feature_service: <name> in {name}'s YAML and call "
               "point_in_time_join(..., feature_service='<name>') in its SQL")
        if "features" in meta:
            problems.append(Problem(
                f"training set {name!r} lists its features in its YAML (config.meta.fw.features): a second copy "
                "of the list in its SQL that can drift", where(node, key="features"), how))
        if service is None:
            problems.append(Problem(f"training set {name!r} names no feature service, so the registry cannot "
                                    "know its features", where(node, key="feature_service"), how))
        elif service not in services:
            problems.append(Problem(
                f"training set {name!r} names unknown feature service {service!r}." + did_you_mean(str(service), services),
                where(node, key="feature_service"),
                "declare it in dbt_project.yml under vars.fw.feature_services, or fix the name"))
        else:
            refs = list(services[service])
    elif service is not None:
        problems.append(Problem(f"{kind} model {name!r} names a feature service; only training sets use one",
                                where(node, key="feature_service"), "remove config.meta.fw.feature_service"))
    return ModelRecord(
        name=name, kind=kind, relation=node.get("relation_name") or name, entities=tuple(entity_names),
        timestamp=meta.get("timestamp"), features=tuple(refs), owner=owner_of(node), tags=tags_of(node),
        feature_service=service if kind == "training_set" else None,
        description=str(node.get("description") or ""), unique_id=uid,
        original_file_path=node.get("original_file_path", ""),
        meta={k: v for k, v in sorted(meta.items()) if k not in ("kind", "features", "feature_service")},
    )


def check_refs(raw: list[Any], features_of: dict[str, list[str]], who: str, at: str,
               problems: list[Problem]) -> list[str]:
    """The refs of ``raw`` that expand by the ref rules (``refs.expand_refs``); one problem per bad ref."""
    good: list[str] = []
    for text in raw:
        try:
            expand_refs(good + [text], features_of)
        except RefError as exc:
            problems.append(Problem(f"{who}: {exc.message}", at, exc.hint))
            continue
        good.append(str(text).strip())
    return good


def build_services(raw: Any, views: dict[str, FeatureView], problems: list[Problem]) -> dict[str, tuple]:
    """``vars.fw.feature_services`` checked against the views: name -> (spec, refs that expand)."""
    from featurewarehouse.contract.services import parse_services

    features_of = {v.name: [f.name for f in v.features] for v in views.values()}
    out = {}
    for name, spec in parse_services(raw, problems).items():
        refs = check_refs([str(r) if isinstance(r, str) else r for r in spec.features], features_of,
                          f"feature service {name!r}", f"dbt_project.yml: vars.fw.feature_services.{name}.features",
                          problems)
        out[name] = (spec, refs)
    return out
