"""Expectation suites from model metadata: generate, merge with hand-written ones, read.

``expectations/<model>.json`` is a Great Expectations 1.x suite (plain JSON:
``name``, ``expectations`` [{``type``, ``kwargs``, ``meta``}], ``meta``,
``notes``). Expectations this module writes carry ``meta.fw_generated: true``;
regeneration replaces exactly those and keeps every other (hand-written)
expectation, in its order, after the generated ones. Output is deterministic:
running the generator twice changes nothing.

No Great Expectations import here: the suite format is data.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from featurewarehouse import DBT_PACKAGE
from featurewarehouse.errors import ConfigError, MetadataError
from featurewarehouse.files import atomic_write
from featurewarehouse.contract.meta import fw_meta, node_columns, timestamp_range
from featurewarehouse.contract.ttl import parse_ttl
from featurewarehouse.contract.types import type_family

GENERATED = "fw_generated"
SUITES_DIR = "expectations"

# The physical type names GX sees for each contract family (contract/types.py):
# a declared data_type accepts any type of its family. On DuckDB GX compares
# SQLAlchemy classes by these names; on PostgreSQL the catalog's type strings.
_GX_TYPE_NAMES: dict[str, tuple[str, ...]] = {
    "integer": ("SMALLINT", "INTEGER", "BIGINT", "HUGEINT"),
    "float": ("DOUBLE_PRECISION", "DOUBLE PRECISION", "DOUBLE", "REAL", "FLOAT"),
    "decimal": ("NUMERIC", "DECIMAL"),
    "text": ("VARCHAR", "TEXT", "CHAR", "CHARACTER VARYING", "STRING"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"),
    "timestamptz": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
    "date": ("DATE",),
    "boolean": ("BOOLEAN",),
}
# Models whose rows are looked up by (keys, timestamp): a NULL key or timestamp drops a row
# from sync and point-in-time joins without a word, so their suites check for them.
_KEYED_KINDS = ("feature_view", "label")
KNOWN_CHECKS = ("not_null", "min", "max", "accepted_values", "regex", "unique", "mean", "quantiles")


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    data_type: str | None = None
    checks: dict[str, Any] = field(default_factory=dict, hash=False)
    feature: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """What validation needs to know about one dbt model."""

    name: str
    schema: str
    table: str
    relation: str
    kind: str | None = None  # None for staging and other plain models
    columns: tuple[ColumnSpec, ...] = ()
    key_columns: tuple[str, ...] = ()
    timestamp: str | None = None
    created_timestamp: str | None = None
    timestamp_range: tuple[int, int] | None = None  # (min epoch seconds, seconds ahead of the run)
    max_age_seconds: int | None = None
    allow_empty: bool = False
    original_file_path: str = ""
    unique_id: str = ""
    checksum: str = ""
    dialect: str = "duckdb"  # the project's adapter: how its data_type names are read


def family(data_type: str | None, dialect: str | None = "duckdb") -> str | None:
    """The contract's type family of a declared ``data_type`` when GX can check it, else None.

    >>> family("BIGINT"), family("int64", "bigquery"), family("numeric(18,2)"), family("geometry")
    ('integer', 'integer', 'decimal', None)
    """
    fam = type_family(data_type, dialect)
    return fam if fam in _GX_TYPE_NAMES else None


# ---------------------------------------------------------------- metadata


def _built_from_feature_logs(manifest: dict[str, Any]) -> set[str]:
    """Models of kind feature_log and every model downstream of one.

    They hold what serving logged, so they are legitimately empty until
    something has been served: no row-count expectation is generated for them
    (``meta.fw.allow_empty`` overrides either way).
    """
    nodes = manifest.get("nodes") or {}
    out = {uid for uid, n in nodes.items() if (fw_meta(n) or {}).get("kind") == "feature_log"}
    changed = True
    while changed:
        changed = False
        for uid, node in nodes.items():
            if uid not in out and set((node.get("depends_on") or {}).get("nodes") or ()) & out:
                out.add(uid)
                changed = True
    return out


def specs_from_manifest(manifest: dict[str, Any], entities: dict[str, Any],
                        fw_vars: dict[str, Any] | None = None) -> list[ModelSpec]:
    """Every materialized model of the root project and of this package (its feature log
    models, once the project turns them on), with its validation metadata.

    ``fw_vars``: the project's ``vars.fw`` (its ``timestamp_range``).
    """
    project = (manifest.get("metadata") or {}).get("project_name")
    from_logs = _built_from_feature_logs(manifest)
    specs: list[ModelSpec] = []
    for uid, node in sorted((manifest.get("nodes") or {}).items()):
        if node.get("resource_type") != "model":
            continue
        if project and node.get("package_name") not in (project, DBT_PACKAGE):
            continue
        cfg = node.get("config") or {}
        if cfg.get("materialized") == "ephemeral" or cfg.get("enabled") is False:
            continue
        where = f"{node.get('original_file_path') or node.get('patch_path') or uid}: {node['name']}"
        fw = fw_meta(node) or {}
        columns = []
        for col in node_columns(node).values():
            cfw = fw_meta(col) or {}
            checks = cfw.get("checks") or {}
            if not isinstance(checks, dict):
                raise MetadataError(
                    "checks must be a mapping", where=f"{where}.columns.{col['name']}",
                    hint="write e.g. checks: {not_null: true, min: 0}",
                )
            unknown = sorted(set(checks) - set(KNOWN_CHECKS))
            if unknown:
                raise MetadataError(
                    f"unknown check(s) {', '.join(unknown)}", where=f"{where}.columns.{col['name']}",
                    hint=f"known checks: {', '.join(KNOWN_CHECKS)}",
                )
            columns.append(
                ColumnSpec(col["name"], col.get("data_type") or None, dict(checks), bool(cfw.get("feature")))
            )
        keys: list[str] = []
        ents = fw.get("entity") or fw.get("entities") or []
        for ent in [ents] if isinstance(ents, str) else list(ents):
            decl = entities.get(ent)
            if decl is None:
                raise MetadataError(
                    f"unknown entity {ent!r}", where=where,
                    hint="declare it in dbt_project.yml under vars.fw.entities",
                )
            keys.extend(k["name"] if isinstance(k, dict) else str(k) for k in decl.get("join_keys") or [])
        fresh = fw.get("freshness")
        max_age = fresh.get("max_age") if isinstance(fresh, dict) else fresh
        max_age = max_age or fw.get("max_age")
        table = node.get("alias") or node["name"]
        kind = fw.get("kind")
        ts_range = None
        if kind in _KEYED_KINDS and fw.get("timestamp"):
            ts_range = timestamp_range((fw_vars or {}).get("timestamp_range"), fw.get("timestamp_range"),
                                       f"{where}.config.meta.fw.timestamp_range")
        specs.append(
            ModelSpec(
                name=node["name"],
                schema=node.get("schema") or "",
                table=table,
                relation=node.get("relation_name") or f"{node.get('schema')}.{table}",
                kind=fw.get("kind"),
                columns=tuple(columns),
                key_columns=tuple(keys),
                timestamp=fw.get("timestamp"),
                created_timestamp=fw.get("created_timestamp") or None,
                timestamp_range=ts_range,
                max_age_seconds=parse_ttl(max_age, where=f"{where}: meta.fw.freshness.max_age"),
                allow_empty=bool(fw.get("allow_empty", uid in from_logs)),
                original_file_path=node.get("original_file_path") or "",
                unique_id=uid,
                checksum=(node.get("checksum") or {}).get("checksum", ""),
                dialect=(manifest.get("metadata") or {}).get("adapter_type") or "duckdb",
            )
        )
    return specs


def load_model_specs(config: Any, *, parse: bool = False) -> list[ModelSpec]:
    """Model metadata for validation: the one place that decides where it comes from.

    The registry (``fwctl registry build``) holds feature views, labels, logs and
    training sets but neither staging models nor non-feature columns, and every
    model needs a suite; so this reads the dbt manifest, the registry's own
    source. ``parse=True`` runs ``dbt parse`` first so fresh YAML edits count.
    """
    from featurewarehouse.dbt import read_manifest, run_dbt

    if parse:
        run_dbt(config, ["parse"], quiet=True)
    return specs_from_manifest(read_manifest(config), config.entities, config.fw_vars)


def select_specs(specs: list[ModelSpec], select: Iterable[str] | None) -> list[ModelSpec]:
    """Only the named models (all when ``select`` is empty); unknown names are an error."""
    from featurewarehouse.refs import did_you_mean

    names = [s for s in (select or []) if s]
    if not names:
        return list(specs)
    by_name = {s.name: s for s in specs}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            f"unknown model {unknown[0]!r}." + did_you_mean(unknown[0], list(by_name)),
            hint="pass model names as dbt knows them (see `dbt ls --resource-type model`)",
        )
    return [by_name[n] for n in dict.fromkeys(names)]


# ---------------------------------------------------------------- generation


def _exp(type_: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": type_, "kwargs": kwargs, "meta": {GENERATED: True}}


def _quantile_ranges(spec: Any, where: str) -> dict[str, list]:
    """``{0.5: [lo, hi]}`` or ``[{quantile: 0.5, min: lo, max: hi}]`` to GX's quantile_ranges."""
    items: list[tuple[float, Any, Any]] = []
    if isinstance(spec, dict):
        for q, bounds in spec.items():
            lo, hi = (bounds.get("min"), bounds.get("max")) if isinstance(bounds, dict) else tuple(bounds)
            items.append((float(q), lo, hi))
    elif isinstance(spec, list):
        for item in spec:
            items.append((float(item["quantile"]), item.get("min"), item.get("max")))
    else:
        raise MetadataError(
            "quantiles must be a mapping", where=where, hint="write e.g. quantiles: {0.5: [10, 50], 0.99: [null, 500]}"
        )
    items.sort()
    if not items or any(not 0 <= q <= 1 for q, _, _ in items):
        raise MetadataError("quantiles must lie between 0 and 1", where=where)
    return {"quantiles": [q for q, _, _ in items], "value_ranges": [[lo, hi] for _, lo, hi in items]}


def unique_key_expectation(columns: list[str]) -> dict[str, Any]:
    """(entity keys, timestamp) unique: every row sharing its key with another is unexpected.

    Same verdict and count as GX's ``expect_compound_columns_to_be_unique``
    (rows with a NULL key part never collide), but as one hash aggregate whose
    join side holds only the duplicated keys: GX's own query joins every row
    back to every group, 2-3x slower on DuckDB at 1M+ rows (bench/validate.py).
    """
    cols = ", ".join(f'"{c}"' for c in columns)
    on = " and ".join(f't."{c}" = d."{c}"' for c in columns)
    query = (
        f"select {', '.join(f't.{chr(34)}{c}{chr(34)}' for c in columns)} from {{batch}} as t "
        f"join (select {cols} from {{batch}} as b group by {cols} having count(*) > 1) as d on {on}"
    )
    return {
        "type": "unexpected_rows_expectation",
        "kwargs": {"unexpected_rows_query": query},
        "description": f"The key ({', '.join(columns)}) is unique: no two rows share entity keys and timestamp.",
        "meta": {GENERATED: True, "fw_label": f"unique_key({', '.join(columns)})"},
    }


def generate_expectations(spec: ModelSpec) -> list[dict[str, Any]]:
    """The generated expectations of one model, in a fixed order."""
    out: list[dict[str, Any]] = []
    if not spec.allow_empty:
        out.append(_exp("expect_table_row_count_to_be_between", min_value=1, max_value=None))
    keyed = spec.kind in _KEYED_KINDS
    required = [*spec.key_columns, *([spec.timestamp] if spec.timestamp else [])] if keyed else []
    declared = {c.name for c in spec.columns}
    for name in required:  # keys and timestamps the YAML does not list still get their checks
        if name not in declared:
            out.append(_exp("expect_column_to_exist", column=name))
            out.append(_exp("expect_column_values_to_not_be_null", column=name))
    for col in spec.columns:
        where = f"{spec.original_file_path}: {spec.name}.columns.{col.name}.config.meta.fw.checks"
        out.append(_exp("expect_column_to_exist", column=col.name))
        fam = family(col.data_type, spec.dialect)
        if fam:
            out.append(_exp("expect_column_values_to_be_in_type_list", column=col.name, type_list=list(_GX_TYPE_NAMES[fam])))
        c = col.checks
        if c.get("not_null") or col.name in required:
            out.append(_exp("expect_column_values_to_not_be_null", column=col.name))
        if c.get("min") is not None or c.get("max") is not None:
            out.append(_exp("expect_column_values_to_be_between", column=col.name,
                            min_value=c.get("min"), max_value=c.get("max")))
        if c.get("accepted_values") is not None:
            values = c["accepted_values"]
            if not isinstance(values, list) or not values:
                raise MetadataError("accepted_values must be a non-empty list", where=where)
            out.append(_exp("expect_column_values_to_be_in_set", column=col.name, value_set=values))
        if c.get("regex"):
            out.append(_exp("expect_column_values_to_match_regex", column=col.name, regex=str(c["regex"])))
        if c.get("unique"):
            out.append(_exp("expect_column_values_to_be_unique", column=col.name))
        if c.get("mean") is not None:
            mean = c["mean"]
            if not isinstance(mean, dict) or not ({"min", "max"} & set(mean)):
                raise MetadataError("mean must be a mapping with min and/or max", where=where,
                                    hint="write e.g. mean: {min: 10, max: 50}")
            out.append(_exp("expect_column_mean_to_be_between", column=col.name,
                            min_value=mean.get("min"), max_value=mean.get("max")))
        if c.get("quantiles") is not None:
            out.append(_exp("expect_column_quantile_values_to_be_between", column=col.name,
                            quantile_ranges=_quantile_ranges(c["quantiles"], where)))
    if keyed and spec.timestamp and spec.timestamp_range:
        low, ahead = spec.timestamp_range
        out.append({**_exp("expect_column_values_to_be_between", column=spec.timestamp,
                           min_value={"$PARAMETER": f"fw_epoch_plus_{low}s"},
                           max_value={"$PARAMETER": f"fw_now_plus_{ahead}s"}),
                    "description": "Event times are plausible (vars.fw.timestamp_range): none before the minimum "
                                   "or in the future beyond max_ahead."})
    if spec.kind == "feature_view" and spec.key_columns and spec.timestamp:
        # restatements share keys and event time and differ by created timestamp (the later wins)
        created = [spec.created_timestamp] if spec.created_timestamp else []
        out.append(unique_key_expectation([*spec.key_columns, spec.timestamp, *created]))
    if spec.max_age_seconds and spec.timestamp:
        out.append(_exp("expect_column_max_to_be_between", column=spec.timestamp,
                        min_value={"$PARAMETER": f"fw_fresh_after_{spec.max_age_seconds}s"}, max_value=None))
    return out


# ---------------------------------------------------------------- files


def suites_dir(project_dir: Path) -> Path:
    return Path(project_dir) / SUITES_DIR


def suite_path(project_dir: Path, model: str) -> Path:
    return suites_dir(project_dir) / f"{model}.json"


def read_suite(path: Path) -> dict[str, Any]:
    """Load and check one suite file; a malformed file is an error naming it."""
    hint = "fix the JSON by hand, or delete the file and run `fwctl expectations generate`"
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise MetadataError(
            f"expectation suite is not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}:{exc.colno}", hint=hint
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read expectation suite: {exc}", where=str(path)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations", []), list):
        raise MetadataError(
            "expectation suite must be a JSON object with an `expectations` list", where=str(path), hint=hint
        )
    for i, exp in enumerate(data.get("expectations", [])):
        if (
            not isinstance(exp, dict)
            or not isinstance(exp.get("type"), str)
            or not exp["type"].replace("_", "").isalpha()
            or not isinstance(exp.get("kwargs", {}), dict)
        ):
            raise MetadataError(
                f"expectation #{i + 1} needs a `type` (e.g. expect_column_values_to_not_be_null) and a `kwargs` object",
                where=f"{path}: expectations[{i}]",
                hint=hint,
            )
    return data


def merge_suite(existing: dict[str, Any] | None, model: str, generated: list[dict[str, Any]]) -> dict[str, Any]:
    """Generated expectations first, then the existing hand-written ones, unchanged."""
    existing = existing or {}
    kept = [e for e in existing.get("expectations", []) if not (e.get("meta") or {}).get(GENERATED)]
    meta = dict(existing.get("meta") or {})
    meta["fw"] = {**(meta.get("fw") or {}), "model": model, "generated_by": "fwctl expectations generate"}
    return {
        "name": model,
        "expectations": [*generated, *kept],
        "meta": meta,
        "notes": existing.get("notes"),
    }


def dumps_suite(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class SuiteChange:
    model: str
    path: Path
    status: str  # created | updated | unchanged
    generated: int
    hand_written: int


def write_suites(project_dir: Path, specs: Iterable[ModelSpec]) -> list[SuiteChange]:
    """Write or update ``expectations/<model>.json`` for each model; idempotent.

    Every file is checked before any is written, so a malformed suite leaves
    all files as they were.
    """
    planned: list[tuple[ModelSpec, Path, str | None, dict[str, Any], str]] = []
    for spec in specs:
        path = suite_path(project_dir, spec.name)
        old_text = path.read_text() if path.is_file() else None
        existing = read_suite(path) if old_text is not None else None
        merged = merge_suite(existing, spec.name, generate_expectations(spec))
        planned.append((spec, path, old_text, merged, dumps_suite(merged)))
    changes = []
    for spec, path, old_text, merged, text in planned:
        status = "created" if old_text is None else ("unchanged" if old_text == text else "updated")
        if status != "unchanged":
            atomic_write(path, text)
        expectations = merged["expectations"]
        n_gen = sum(1 for e in expectations if (e.get("meta") or {}).get(GENERATED))
        changes.append(SuiteChange(spec.name, path, status, n_gen, len(expectations) - n_gen))
    return changes


def orphan_suites(project_dir: Path, specs: Iterable[ModelSpec]) -> list[Path]:
    """Suite files that name no model (a renamed or deleted model's leftovers)."""
    names = {s.name for s in specs}
    folder = suites_dir(project_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.stem not in names)
