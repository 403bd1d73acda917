"""dbt manifest (+ catalog) -> :class:`Registry`, validated, and written atomically.

:func:`build_from_manifest` is pure (dicts in, a registry out) so it is tested on
small fixture manifests; :func:`build_registry` adds dbt and the file system.
Validation collects every problem before raising one :class:`ProblemsError`;
nothing is written then, so the previous registry stays as it was.

sqlglot work (parse, fingerprint, columns, lineage) is the expensive part; its
results are cached per model, keyed by the model's SQL and its inputs' columns
(``target/fw_registry_cache.json``), so a rebuild re-analyses only what changed.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from featurewarehouse.dbt import loads_json, read_artifact
from featurewarehouse.errors import ConfigError, Problem, ProblemsError
from featurewarehouse.files import atomic_write
from featurewarehouse.registry.analysis import CACHE_VERSION, Graph, analyze_models, display
from featurewarehouse.registry.changes import diff_data, diff_registries
from featurewarehouse.contract.meta import KIND_KEYS, KINDS, fw_meta, where
from featurewarehouse.contract.types import SQLGLOT_ADAPTERS
from featurewarehouse.registry.model import (
    REGISTRY_SCHEMA_VERSION,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    JoinKey,
    ModelRecord,
    Registry,
)
from featurewarehouse.registry.records import (
    CatalogColumns, build_record, build_services, build_view, parse_entities, with_rolling,
)
from featurewarehouse.registry.sql import Relations

@dataclass
class BuildResult:
    """A built registry plus what the build noticed on the way."""

    registry: Registry
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    written: Path | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # analysis cache to keep for the next build
    stats: dict[str, int] = field(default_factory=dict)  # models analysed / taken from the cache
    data: dict[str, Any] = field(default_factory=dict, repr=False)  # the registry as written
    data_simple: bool | None = field(default=None, repr=False)  # _is_simple(data), found while hashing it


# ---- the build -----------------------------------------------------------------
def build_from_manifest(
    manifest: dict[str, Any],
    entities: dict[str, Any],
    *,
    catalog: dict[str, Any] | None = None,
    previous: Registry | dict[str, Any] | None = None,
    previous_manifest: Any = None,
    project_name: str | None = None,
    built_at: str | None = None,
    cache: dict[str, Any] | None = None,
    feature_services: dict[str, Any] | None = None,
) -> BuildResult:
    """Build and validate. Raises :class:`ProblemsError` listing every problem.

    ``feature_services`` is ``vars.fw.feature_services`` of the project.

    ``cache`` is the analysis cache of an earlier build (``BuildResult.cache``).
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    ents = parse_entities(entities, problems)
    dialect = (manifest.get("metadata") or {}).get("adapter_type") or "duckdb"
    if dialect not in SQLGLOT_ADAPTERS:
        dialect = "duckdb"
    nodes = manifest.get("nodes") or {}
    rel = Relations(manifest)
    graph = Graph(manifest)

    fw_nodes: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for uid in sorted(nodes):
        node = nodes[uid]
        if node.get("resource_type") != "model":
            continue
        meta = fw_meta(node)
        if meta is None:
            continue
        if "__invalid__" not in meta and meta.get("kind") is None and not (KIND_KEYS & set(meta)):
            continue  # fw metadata without a kind (owner, tags on a staging model): not a registry model
        if "__invalid__" in meta or meta.get("kind") not in KINDS:
            problems.append(Problem(
                f"model {node['name']!r} has kind {meta.get('kind')!r}", where(node, key="kind"),
                f"set config.meta.fw.kind to one of: {', '.join(KINDS)}"))
            continue
        fw_nodes.append((uid, node, meta))

    view_uids = [uid for uid, _, meta in fw_nodes if meta["kind"] == "feature_view"]
    cache_in = (cache or {}).get("models", {}) if (cache or {}).get("version") == CACHE_VERSION else {}
    cache_out: dict[str, Any] = {}
    stats = {"analysed": 0, "cached": 0}
    catalog = CatalogColumns(catalog)  # read once per model, by the analysis and the view records
    sqls = analyze_models(view_uids, manifest, catalog, rel, graph, dialect, previous_manifest,
                           cache_in, cache_out, stats)

    with gc_paused():
        return _assemble(fw_nodes, sqls, ents, manifest, catalog, dialect, rel, graph, previous, problems, warnings,
                         project_name, built_at, stats, cache_out, feature_services)


def _assemble(fw_nodes, sqls, ents, manifest, catalog, dialect, rel, graph, previous, problems, warnings,
              project_name, built_at, stats, cache_out, feature_services=None) -> BuildResult:
    """Records, lineage, validation outcome, version and change list from the analysed models."""
    view_uids = [uid for uid, _, meta in fw_nodes if meta["kind"] == "feature_view"]
    views: list[FeatureView] = []
    for uid, node, meta in fw_nodes:
        if meta["kind"] != "feature_view":
            continue
        view = build_view(uid, node, meta, ents, sqls.get(uid), catalog, dialect, problems, warnings)
        if view is not None:
            view = with_rolling(view, node, manifest, problems)
            views.append(view)
    view_by_name = {v.name: v for v in views}
    services = build_services(feature_services, view_by_name, problems)
    service_refs = {name: refs for name, (_, refs) in services.items()}

    records: list[ModelRecord] = []
    for uid, node, meta in fw_nodes:
        if meta["kind"] == "feature_view":
            continue
        records.append(build_record(uid, node, meta, ents, view_by_name, problems, service_refs))

    # model-level lineage: ancestors (models, sources); downstream training sets
    uid_of = {node["name"]: uid for uid, node, _ in fw_nodes}
    training = {r.name: r for r in records if r.kind == "training_set"}
    users: dict[str, set[str]] = {}
    for ts in training.values():
        for ref in ts.features:
            users.setdefault(ref.split(":", 1)[0], set()).add(ts.name)
    def upstream(uid: str) -> tuple[str, ...]:
        return tuple(sorted(filter(None, (display(a, manifest, rel) for a in graph.ancestors(uid)))))

    def downstream(uid: str, name: str, only_training: bool) -> tuple[str, ...]:
        names = {display(d, manifest, rel) for d in graph.descendants(uid)}
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
    used = {}
    for r in records:
        if r.feature_service:
            used.setdefault(r.feature_service, []).append(r.name)
    registry = Registry(
        feature_services=tuple(
            FeatureService(name=name, features=tuple(refs), description=spec.description, owner=spec.owner,
                           logging=spec.logging, used_by=tuple(sorted(used.get(name, ()))))
            for name, (spec, refs) in sorted(services.items())),
        entities=tuple(ents[n] for n in sorted(ents)),
        feature_views=tuple(views),
        models=tuple(records),
        project_name=project_name or (manifest.get("metadata") or {}).get("project_name") or "featurewarehouse",
        built_at=built_at or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        column_lineage=dict(sorted(column_lineage.items())),
        model_sql=dict(sorted(model_sql.items())),
        dialect=dialect,
    )
    data = plain(registry)  # converted once: hashed here, written by build_registry
    simple = _is_simple(data)
    registry = replace(registry, version=_version_of(data, simple=simple))
    if isinstance(previous, dict):  # the previous file as read (see read_previous_data): compared as JSON
        registry = replace(registry, changes=diff_data(previous, data))
    else:
        registry = replace(registry, changes=diff_registries(previous, registry))
    data["version"], data["changes"] = registry.version, registry.changes
    return BuildResult(registry=registry, warnings=warnings, stats=stats,
                       cache={"version": CACHE_VERSION, "models": cache_out}, data=data, data_simple=simple)


# Registry fields that are JSON-shaped dicts already: passed through, not walked (21k lists at 1,000 views)
_JSON_READY = frozenset({"column_lineage", "model_sql", "changes"})
# spelled out below; if Feature gains a field, the generic path takes over
_FEATURE_FAST = tuple(Feature.__dataclass_fields__) == ("name", "view", "dtype", "description", "checks", "tags")


def plain(obj: Any) -> Any:
    """``dataclasses.asdict`` without its deep copies (the registry's values are JSON already)."""
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is not None:
        if isinstance(obj, Registry):
            return {name: getattr(obj, name) if name in _JSON_READY else plain(getattr(obj, name))
                    for name in fields}
        if _FEATURE_FAST and isinstance(obj, Feature):  # 20k of them: the one shape worth spelling out
            return {"name": obj.name, "view": obj.view, "dtype": obj.dtype, "description": obj.description,
                    "checks": dict(obj.checks), "tags": list(obj.tags)}
        return {name: plain(getattr(obj, name)) for name in fields}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


def _version_of(data: dict[str, Any], *, simple: bool | None = None) -> str:
    # model_sql is left out: a formatting edit is not a definition change (the fingerprint decides)
    volatile = ("version", "built_at", "changes", "model_sql")
    blob = _dumps_compact({k: v for k, v in data.items() if k not in volatile}, sort_keys=True, simple=simple)
    return hashlib.sha256(blob).hexdigest()[:16]


# where orjson's bytes may differ from json.dumps': exponents (1e-05 / 1e-5), 1e-05..1e-04 (0.00001), DEL
_ORJSON_MAY_DIFFER = re.compile(rb"e-[0-9]|0\.0000|\x7f")
# registry parts built by this module from names and SQL text: strings, lists and dicts of them only
_STRINGS_ONLY = frozenset({"column_lineage", "model_sql", "changes"})


def _is_simple(data: dict[str, Any]) -> bool:
    """No NaN/infinite float and only string keys (so orjson and json encode it alike, sorted alike)."""
    stack: list[Any] = [v for k, v in data.items() if k not in _STRINGS_ONLY]
    while stack:
        o = stack.pop()
        t = type(o)
        if t is str:
            continue
        if t is dict:
            for k in o:
                if type(k) is not str:
                    return False
            stack.extend(o.values())
        elif t is list or t is tuple:
            stack.extend(o)
        elif t is float and not math.isfinite(o):
            return False
    return True


def _dumps_compact(data: Any, *, sort_keys: bool = False, simple: bool | None = None) -> bytes:
    """``json.dumps(data, separators=(",", ":"), default=str, sort_keys=...)`` as bytes, the same bytes.

    orjson makes them 5x faster when it is installed and the data is simple (see
    :func:`_is_simple`) and its output is ASCII with no float it spells otherwise;
    else json does it. So the registry file and its version do not depend on
    whether orjson is installed.
    """
    if simple is None:
        simple = isinstance(data, dict) and _is_simple(data)
    if simple:
        try:
            import orjson
        except ImportError:  # an optional speed-up
            orjson = None
        if orjson is not None:
            option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # to default=str, as json
            if sort_keys:
                option |= orjson.OPT_SORT_KEYS
            try:
                out = orjson.dumps(data, default=str, option=option)
            except TypeError:  # orjson.JSONEncodeError (a 65-bit int, ...)
                out = None
            if out is not None and out.isascii() and not (
                    (b"e-" in out or b"0.0000" in out or b"\x7f" in out) and _ORJSON_MAY_DIFFER.search(out)):
                return out
    return json.dumps(data, sort_keys=sort_keys, separators=(",", ":"), default=str).encode()


# ---- files and dbt -------------------------------------------------------------
def write_registry(registry: Registry | dict[str, Any], path: Path, *, simple: bool | None = None) -> Path:
    """Write the registry (or its ``plain`` dict) as compact JSON, atomically.

    ``simple``: :func:`_is_simple` of the dict when already known.
    """
    data = registry if isinstance(registry, dict) else plain(registry)
    # compact: json's C encoder only runs without indent (5x faster on a 1,000-view registry)
    return atomic_write(path, _dumps_compact(data, simple=simple) + b"\n")


def _dumps_private(data: Any) -> str:
    """Compact JSON for files only this module reads back (the analysis cache)."""
    try:
        import orjson
    except ImportError:
        return json.dumps(data, separators=(",", ":"))
    return orjson.dumps(data).decode()


def cache_path(config) -> Path:
    return config.target_path / "fw_registry_cache.json"


def read_cache(path: Path) -> dict[str, Any]:
    """The analysis cache, or {} when absent or unreadable (it is only ever a shortcut)."""
    try:
        return loads_json(path.read_bytes())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic GC while building big acyclic JSON structures.

    Loading a 15 MB manifest makes hundreds of thousands of dicts and lists; the
    GC would rescan them again and again for cycles they cannot have (a third of
    a cached rebuild's time). SQL analysis, whose parse trees are cyclic, runs
    with the GC on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _fields(cls) -> frozenset[str]:
    return frozenset(cls.__dataclass_fields__)


def read_previous_data(path: Path) -> Registry | dict[str, Any] | None:
    """The previous registry for the change list: its JSON when it has exactly today's shape, else
    a Registry built from it (or None when absent or unreadable). Skips building 20k records at 1,000 views."""
    try:
        data = loads_json(path.read_bytes()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    if data is None:
        return None
    if _exact_shape(data):
        return data
    try:
        return Registry.from_dict(data)
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError):
        return None


def _exact_shape(data: Any) -> bool:
    """Every key Registry.from_dict reads is there and no other: from_dict would succeed, fields alike."""
    try:
        if data.get("schema_version") != REGISTRY_SCHEMA_VERSION or set(data) != _fields(Registry):
            return False
        view_keys, feature_keys, key_keys = _fields(FeatureView), _fields(Feature), _fields(JoinKey)
        model_keys, entity_keys = _fields(ModelRecord), _fields(Entity)
        for e in data["entities"]:
            if set(e) != entity_keys or any(set(k) != key_keys for k in e["join_keys"]):
                return False
        for v in data["feature_views"]:
            if set(v) != view_keys or any(set(k) != key_keys for k in v["join_keys"]):
                return False
            for f in v["features"]:
                if set(f) != feature_keys:
                    return False
        return all(set(m) == model_keys for m in data["models"])
    except (AttributeError, KeyError, TypeError):
        return False


def build_registry(
    config,
    *,
    dbt_command: str | None = "parse",
    manifest_path: Path | None = None,
    catalog_path: Path | None = None,
    write: bool = True,
    use_cache: bool = True,
) -> BuildResult:
    """Run ``dbt parse`` (or ``compile``; or nothing) once, build, validate, write.

    ``dbt_command=None`` reads an existing manifest (``manifest_path`` or the
    target's). ``catalog_path`` defaults to the target's ``catalog.json`` when present.
    """
    from featurewarehouse.dbt import run_dbt

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
                old_manifest = loads_json(old_bytes) if old_bytes else None
            return old_manifest
    else:
        previous_manifest = None

    t0 = time.perf_counter()
    # dbt's parse leaves millions of objects in this process: keep the GC from rescanning them
    gc.freeze()
    try:
        return _build_files(config, manifest_file, catalog_path, previous_manifest, write, use_cache, timings, t0)
    finally:
        gc.unfreeze()


def _build_files(config, manifest_file, catalog_path, previous_manifest, write, use_cache, timings, t0) -> BuildResult:
    with gc_paused():
        manifest = read_artifact(manifest_file, what="dbt manifest",
                                 hint="run `fwctl registry build` (it runs dbt parse) or `dbt parse`")
        cat_file = Path(catalog_path) if catalog_path else config.catalog_path
        catalog, types_note = None, ""
        if cat_file.is_file():
            catalog = read_artifact(cat_file, what="dbt catalog", hint="rerun `dbt docs generate`, or delete it")
        elif catalog_path:
            raise ConfigError(f"dbt catalog not found: {cat_file}", hint="run `dbt docs generate` to write it")
        else:  # the documented flow never writes catalog.json: ask the warehouse for the views' types
            from featurewarehouse.registry.warehouse_types import warehouse_catalog

            view_uids = [uid for uid, node in (manifest.get("nodes") or {}).items()
                         if (fw_meta(node) or {}).get("kind") == "feature_view"]
            catalog, types_note = warehouse_catalog(config, manifest, view_uids)
        previous = read_previous_data(config.registry_path)
        cache = read_cache(cache_path(config)) if use_cache else None
        # the loaded JSON is acyclic: out of the GC's sight until build_registry unfreezes
        # (else re-enabling the GC scans its hundreds of thousands of objects, generation after generation)
        gc.freeze()
    result = build_from_manifest(
        manifest, config.entities, catalog=catalog, previous=previous, previous_manifest=previous_manifest,
        cache=cache, feature_services=config.fw_vars.get("feature_services"),
    )
    if catalog is None and types_note and result.registry.feature_views:
        result.warnings.append(f"column types not read from the warehouse ({types_note}): key and timestamp "
                               "types are checked against the YAML data_type only")
    if write:
        with gc_paused():
            result.written = write_registry(result.data or result.registry, config.registry_path,
                                            simple=result.data_simple if result.data else None)
            if use_cache:
                atomic_write(cache_path(config), _dumps_private(result.cache))
    timings["registry"] = time.perf_counter() - t0
    result.timings = timings
    return result
