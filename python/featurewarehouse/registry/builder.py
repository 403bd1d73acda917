"""dbt manifest (+ catalog) -> :class:`Registry`, validated, and written atomically.

:func:`build_from_manifest` is pure (dicts in, a registry out) so it is tested on
small fixture manifests; :func:`build_registry` adds dbt and the file system.
Validation collects every problem before raising one :class:`ProblemsError`;
nothing is written then, so the previous registry stays as it was.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from featurewarehouse.errors import ConfigError, MetadataError, Problem, ProblemsError
from featurewarehouse.refs import FeatureRef, did_you_mean
from featurewarehouse.registry.changes import diff_registries
from featurewarehouse.registry.dtypes import types_match
from featurewarehouse.registry.fingerprint import fingerprint_tree
from featurewarehouse.registry.model import (
    KINDS,
    REGISTRY_SCHEMA_VERSION,
    Entity,
    Feature,
    FeatureView,
    JoinKey,
    ModelRecord,
    Registry,
    parse_ttl,
)
from featurewarehouse.registry.sql import ModelSql, Relations, analyze, choose_sql, parse, quote


@dataclass
class BuildResult:
    """A built registry plus what the build noticed on the way."""

    registry: Registry
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    written: Path | None = None


# ---- metadata helpers ----------------------------------------------------------
_KIND_KEYS = {"entity", "timestamp", "features", "ttl", "online", "created_timestamp", "available_timestamp"}

def fw_meta(node: dict[str, Any]) -> dict[str, Any] | None:
    """``config.meta.fw`` of a node or column (dbt also mirrors it in ``meta``)."""
    for holder in ((node.get("config") or {}).get("meta") or {}, node.get("meta") or {}):
        fw = holder.get("fw")
        if fw is not None:
            return fw if isinstance(fw, dict) else {"__invalid__": fw}
    return None


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


# ---- the build -----------------------------------------------------------------
class _Graph:
    def __init__(self, manifest: dict[str, Any]):
        self.parents: dict[str, list[str]] = manifest.get("parent_map") or {}
        self.children: dict[str, list[str]] = manifest.get("child_map") or {}
        if not self.parents:
            for uid, node in manifest.get("nodes", {}).items():
                self.parents[uid] = list(node.get("depends_on", {}).get("nodes", []))
        if not self.children:
            for uid, ps in self.parents.items():
                for p in ps:
                    self.children.setdefault(p, []).append(uid)
        self._anc: dict[str, frozenset[str]] = {}

    def ancestors(self, uid: str) -> frozenset[str]:
        if uid in self._anc:
            return self._anc[uid]
        stack, seen = [uid], set()
        order: list[str] = []
        while stack:  # iterative: deep staging chains must not hit the recursion limit
            cur = stack.pop()
            for p in self.parents.get(cur, []):
                if p not in seen:
                    seen.add(p)
                    order.append(p)
                    stack.append(p)
        result = frozenset(seen)
        self._anc[uid] = result
        return result

    def descendants(self, uid: str) -> set[str]:
        stack, seen = [uid], set()
        while stack:
            for c in self.children.get(stack.pop(), []):
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return seen


def _display(uid: str, manifest: dict[str, Any], rel: Relations) -> str | None:
    if uid.startswith("source."):
        return rel.by_uid.get(uid)
    node = manifest.get("nodes", {}).get(uid)
    if node is None or node.get("resource_type") not in ("model", "seed", "snapshot"):
        return None
    return node["name"]


def _catalog_columns(catalog: dict[str, Any] | None, uid: str) -> dict[str, str] | None:
    if not catalog:
        return None
    entry = (catalog.get("nodes") or {}).get(uid) or (catalog.get("sources") or {}).get(uid)
    if not entry:
        return None
    return {name.lower(): str(col.get("type") or "") for name, col in (entry.get("columns") or {}).items()}


def _analyze_models(
    uids: list[str],
    manifest: dict[str, Any],
    catalog: dict[str, Any] | None,
    rel: Relations,
    graph: _Graph,
    dialect: str,
    previous_manifest: Any,
) -> dict[str, ModelSql]:
    """Parse and trace each model once, upstream before downstream."""
    nodes = manifest["nodes"]
    wanted = set(uids)
    for uid in uids:
        wanted |= {a for a in graph.ancestors(uid) if a in nodes and nodes[a].get("resource_type") == "model"}
    done: dict[str, ModelSql] = {}
    visiting: set[str] = set()

    def schema_of(uid: str) -> dict[str, str] | None:
        cols = _catalog_columns(catalog, uid)
        if cols:
            return cols
        if uid in done and done[uid].outputs is not None:
            return {c: "unknown" for c in done[uid].outputs}
        holder = nodes.get(uid) or manifest.get("sources", {}).get(uid) or {}
        declared = holder.get("columns") or {}
        return {c: (v.get("data_type") or "unknown") for c, v in declared.items()} or None

    def visit(uid: str) -> None:
        if uid in done or uid in visiting:
            return
        visiting.add(uid)
        node = nodes[uid]
        for p in node.get("depends_on", {}).get("nodes", []):
            if p in wanted:
                visit(p)
        text, origin = choose_sql(node, manifest, rel, previous_manifest)
        m = ModelSql(name=node["name"], text=text, origin=origin)
        if text:
            m.tree, m.error = parse(text, dialect)
            schema: dict[str, dict[str, str]] = {}
            for p in node.get("depends_on", {}).get("nodes", []):
                cols = schema_of(p)
                if cols and p in rel.by_uid:
                    schema[quote(rel.by_uid[p])] = cols
            if m.tree is not None:
                analyze(m, schema, dialect)
        done[uid] = m
        visiting.discard(uid)

    for uid in sorted(wanted):
        visit(uid)
    return done


def build_from_manifest(
    manifest: dict[str, Any],
    entities: dict[str, Any],
    *,
    catalog: dict[str, Any] | None = None,
    previous: Registry | None = None,
    previous_manifest: Any = None,
    project_name: str | None = None,
    built_at: str | None = None,
) -> BuildResult:
    """Build and validate. Raises :class:`ProblemsError` listing every problem."""
    problems: list[Problem] = []
    warnings: list[str] = []
    ents = parse_entities(entities, problems)
    dialect = (manifest.get("metadata") or {}).get("adapter_type") or "duckdb"
    if dialect not in ("duckdb", "postgres", "snowflake", "bigquery", "spark", "trino", "redshift", "databricks"):
        dialect = "duckdb"
    nodes = manifest.get("nodes") or {}
    rel = Relations(manifest)
    graph = _Graph(manifest)

    fw_nodes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for uid in sorted(nodes):
        node = nodes[uid]
        if node.get("resource_type") != "model":
            continue
        meta = fw_meta(node)
        if meta is None:
            continue
        if "__invalid__" not in meta and meta.get("kind") is None and not (_KIND_KEYS & set(meta)):
            continue  # fw metadata without a kind (owner, tags on a staging model): not a registry model
        if "__invalid__" in meta or meta.get("kind") not in KINDS:
            problems.append(Problem(
                f"model {node['name']!r} has kind {meta.get('kind')!r}", where(node, key="kind"),
                f"set config.meta.fw.kind to one of: {', '.join(KINDS)}"))
            continue
        fw_nodes.append((uid, node, meta))

    view_uids = [uid for uid, _, meta in fw_nodes if meta["kind"] == "feature_view"]
    sqls = _analyze_models(view_uids, manifest, catalog, rel, graph, dialect, previous_manifest)

    views: list[FeatureView] = []
    for uid, node, meta in fw_nodes:
        if meta["kind"] != "feature_view":
            continue
        view = _build_view(uid, node, meta, ents, sqls.get(uid), catalog, dialect, problems, warnings)
        if view is not None:
            views.append(view)
    view_by_name = {v.name: v for v in views}

    records: list[ModelRecord] = []
    for uid, node, meta in fw_nodes:
        if meta["kind"] == "feature_view":
            continue
        records.append(_build_record(uid, node, meta, ents, view_by_name, problems))

    # model-level lineage: ancestors (models, sources); downstream training sets
    uid_of = {node["name"]: uid for uid, node, _ in fw_nodes}
    training = {r.name: r for r in records if r.kind == "training_set"}
    users: dict[str, set[str]] = {}
    for ts in training.values():
        for ref in ts.features:
            users.setdefault(ref.split(":", 1)[0], set()).add(ts.name)
    def upstream(uid: str) -> tuple[str, ...]:
        return tuple(sorted(filter(None, (_display(a, manifest, rel) for a in graph.ancestors(uid)))))

    def downstream(uid: str, name: str, only_training: bool) -> tuple[str, ...]:
        names = {_display(d, manifest, rel) for d in graph.descendants(uid)}
        names.discard(None)
        if only_training:
            names = {n for n in names if n in training}
        return tuple(sorted(names | users.get(name, set())))

    views = [replace(v, upstream=upstream(uid_of[v.name]), downstream=downstream(uid_of[v.name], v.name, True))
             for v in sorted(views, key=lambda v: v.name)]
    records = [replace(r, upstream=upstream(uid_of[r.name]), downstream=downstream(uid_of[r.name], r.name, False))
               for r in sorted(records, key=lambda r: r.name)]

    if problems:
        raise ProblemsError(problems, summary="the registry was not written; problems found")

    column_lineage = {m.name: dict(sorted(m.lineage.items())) for m in sqls.values() if m.lineage}
    model_sql = {}
    for uid in view_uids:
        m = sqls.get(uid)
        if m is not None and m.text:
            model_sql[m.name] = {"sql": m.text, "origin": m.origin}
    registry = Registry(
        entities=tuple(ents[n] for n in sorted(ents)),
        feature_views=tuple(views),
        models=tuple(records),
        project_name=project_name or (manifest.get("metadata") or {}).get("project_name") or "featurewarehouse",
        built_at=built_at or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        column_lineage=dict(sorted(column_lineage.items())),
        model_sql=dict(sorted(model_sql.items())),
        dialect=dialect,
    )
    registry = replace(registry, version=content_version(registry))
    registry = replace(registry, changes=diff_registries(previous, registry))
    return BuildResult(registry=registry, warnings=warnings)


def _build_view(uid, node, meta, ents, msql, catalog, dialect, problems, warnings) -> FeatureView:
    name = node["name"]
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
        ttl = parse_ttl(meta.get("ttl"), where=where(node, key="ttl"))
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
        cat = _catalog_columns(catalog, uid)
        if cat:
            produced, evidence = set(cat), "the warehouse catalog"
        elif msql is None or not msql.text:
            warnings.append(f"{name}: no SQL to check (compiled code missing and raw code uses Jinja blocks); "
                            f"run `fwctl registry build --compile`")
        elif msql.error:
            warnings.append(f"{name}: SQL checks skipped: {msql.error}")
        else:
            warnings.append(f"{name}: SQL checks skipped: output columns unknown (select * of an unknown schema)")
    cat_cols = _catalog_columns(catalog, uid) or {}

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
    for col_name, col in (node.get("columns") or {}).items():
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
        fingerprint=fingerprint_tree(msql.tree, dialect) if msql is not None and msql.tree is not None else "",
    )


def _build_record(uid, node, meta, ents, views, problems) -> ModelRecord:
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


def content_version(registry: Registry) -> str:
    """Hash of every definition (not of when it was built or what changed)."""
    data = registry.to_dict()
    # model_sql is left out: a formatting edit is not a definition change (the fingerprint decides)
    for volatile in ("version", "built_at", "changes", "model_sql"):
        data.pop(volatile, None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


# ---- files and dbt -------------------------------------------------------------
def write_registry(registry: Registry, path: Path) -> Path:
    """Write atomically: a temp file in the same directory, fsync, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(registry.to_dict(), indent=1, sort_keys=False, default=str) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".fw_registry.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_previous(path: Path) -> Registry | None:
    """The registry written last time, or None when absent or unreadable."""
    try:
        return Registry.read(path) if path.is_file() else None
    except ConfigError:
        return None


def build_registry(
    config,
    *,
    dbt_command: str | None = "parse",
    manifest_path: Path | None = None,
    catalog_path: Path | None = None,
    write: bool = True,
) -> BuildResult:
    """Run ``dbt parse`` (or ``compile``; or nothing) once, build, validate, write.

    ``dbt_command=None`` reads an existing manifest (``manifest_path`` or the
    target's). ``catalog_path`` defaults to the target's ``catalog.json`` when present.
    """
    from featurewarehouse.dbt import read_artifact, run_dbt

    timings: dict[str, float] = {}
    manifest_file = Path(manifest_path) if manifest_path else config.manifest_path
    old_manifest: dict[str, Any] | None = None
    old_loaded = False

    if dbt_command:
        if dbt_command == "parse" and manifest_file.is_file():
            # dbt parse drops compiled code; keep the old manifest to reuse it for unchanged models
            old_bytes = manifest_file.read_bytes()
        else:
            old_bytes = None
        t0 = time.perf_counter()
        run_dbt(config, [dbt_command], quiet=True)
        timings["dbt"] = time.perf_counter() - t0

        def previous_manifest():
            nonlocal old_manifest, old_loaded
            if not old_loaded:
                old_loaded = True
                old_manifest = json.loads(old_bytes) if old_bytes else None
            return old_manifest
    else:
        previous_manifest = None

    t0 = time.perf_counter()
    manifest = read_artifact(manifest_file, what="dbt manifest",
                             hint="run `fwctl registry build` (it runs dbt parse) or `dbt parse`")
    cat_file = Path(catalog_path) if catalog_path else config.catalog_path
    catalog = None
    if cat_file.is_file():
        catalog = read_artifact(cat_file, what="dbt catalog", hint="rerun `dbt docs generate`, or delete it")
    elif catalog_path:
        raise ConfigError(f"dbt catalog not found: {cat_file}", hint="run `dbt docs generate` to write it")
    previous = read_previous(config.registry_path)
    result = build_from_manifest(
        manifest, config.entities, catalog=catalog, previous=previous, previous_manifest=previous_manifest,
    )
    timings["registry"] = time.perf_counter() - t0
    result.timings = timings
    if write:
        result.written = write_registry(result.registry, config.registry_path)
    return result
