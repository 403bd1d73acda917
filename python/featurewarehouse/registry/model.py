"""Typed registry records and lookups. The shared contract of the Python layer.

The records are frozen dataclasses; ``Registry.to_dict``/``from_dict`` is the
``target/fw_registry.json`` format (versioned, deterministic ordering).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from featurewarehouse.contract.meta import KINDS
from featurewarehouse.contract.rolling import RollingSpec
from featurewarehouse.contract.ttl import parse_ttl  # noqa: F401  (re-exported: registry.parse_ttl)
from featurewarehouse.errors import ConfigError
from featurewarehouse.refs import FeatureRef, did_you_mean, expand_refs

REGISTRY_SCHEMA_VERSION = 1
@dataclass(frozen=True)
class JoinKey:
    name: str
    dtype: str


@dataclass(frozen=True)
class Entity:
    name: str
    join_keys: tuple[JoinKey, ...]
    description: str = ""

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.join_keys)


@dataclass(frozen=True)
class Feature:
    name: str
    view: str
    dtype: str
    description: str = ""
    checks: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    tags: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.name}"


@dataclass(frozen=True)
class FeatureView:
    """A dbt model with ``kind: feature_view``."""

    name: str
    relation: str  # fully qualified, as dbt renders it ("db"."schema"."table")
    entities: tuple[str, ...]
    join_keys: tuple[JoinKey, ...]
    timestamp: str
    features: tuple[Feature, ...]
    created_timestamp: str | None = None
    available_timestamp: str | None = None
    ttl_seconds: int | None = None
    online: bool = False
    owner: str | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    unique_id: str = ""
    original_file_path: str = ""
    fingerprint: str = ""
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    # a rolling_features view: what computing its windows at any instant needs (contract/rolling.py)
    rolling: RollingSpec | None = None

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.join_keys)

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise ConfigError(
            f"feature view {self.name!r} has no feature {name!r}."
            + did_you_mean(name, [f.name for f in self.features]),
            where=self.original_file_path or None,
            hint=f"run `fwctl features show {self.name}` to list its features",
        )


@dataclass(frozen=True)
class ModelRecord:
    """A label, feature-log or training-set model."""

    name: str
    kind: str
    relation: str
    entities: tuple[str, ...] = ()
    timestamp: str | None = None
    features: tuple[str, ...] = ()  # feature refs a training set uses (its feature service's)
    feature_service: str | None = None  # a training set: the service its YAML and SQL name
    owner: str | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    unique_id: str = ""
    original_file_path: str = ""
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class FeatureService:
    """A named, owned list of feature refs (``vars.fw.feature_services``), and who uses it."""

    name: str
    features: tuple[str, ...]  # refs as declared, checked against the views
    description: str = ""
    owner: str | None = None
    logging: dict[str, Any] = field(default_factory=dict, hash=False)
    used_by: tuple[str, ...] = ()  # training sets whose YAML names it


@dataclass(frozen=True)
class Registry:
    entities: tuple[Entity, ...]
    feature_views: tuple[FeatureView, ...]
    models: tuple[ModelRecord, ...] = ()
    version: str = ""  # content hash: changes when any definition changes
    schema_version: int = REGISTRY_SCHEMA_VERSION
    project_name: str = "featurewarehouse"
    built_at: str = ""
    changes: dict[str, Any] = field(default_factory=dict, hash=False)
    # column-level lineage: model -> column -> ["upstream_model.column" | "source:src.table.column"]
    column_lineage: dict[str, dict[str, list[str]]] = field(default_factory=dict, hash=False)
    # the analysed SQL of each feature view: {"sql": ..., "origin": compiled|rendered|previous-compiled}
    model_sql: dict[str, dict[str, str]] = field(default_factory=dict, hash=False)
    dialect: str = "duckdb"
    feature_services: tuple[FeatureService, ...] = ()

    @classmethod
    def load(cls, project_dir: Path | str | None = None) -> "Registry":
        """The project's registry (``target/fw_registry.json``), built first if missing.

        >>> Registry.load("path/to/project").view("customer_spend_features")  # doctest: +SKIP
        """
        from featurewarehouse.config import load_config
        from featurewarehouse.registry import load_registry

        return load_registry(load_config(project_dir))

    def feature(self, ref: str | FeatureRef) -> Feature:
        """One feature by ``view:feature``."""
        parsed = ref if isinstance(ref, FeatureRef) else FeatureRef.parse(ref)
        if parsed.is_wildcard:
            raise ConfigError(f"{parsed} names all features of a view, not one", hint="name one feature")
        return self.view(parsed.view).feature(parsed.feature)

    def used_by(self, view: str, feature: str | None = None) -> tuple[str, ...]:
        """Training sets that use a view (or one of its features), by name."""
        out = []
        for m in self.models:
            if m.kind != "training_set":
                continue
            for ref in m.features:
                r = FeatureRef.parse(ref)
                if r.view == view and (feature is None or r.feature in ("*", feature)):
                    out.append(m.name)
                    break
        return tuple(out)

    # ---- lookups -------------------------------------------------------
    def entity(self, name: str) -> Entity:
        for e in self.entities:
            if e.name == name:
                return e
        raise ConfigError(
            f"unknown entity {name!r}." + did_you_mean(name, [e.name for e in self.entities]),
            hint="entities are declared once, in dbt_project.yml under vars.fw.entities",
        )

    def view(self, name: str) -> FeatureView:
        for v in self.feature_views:
            if v.name == name:
                return v
        raise ConfigError(
            f"unknown feature view {name!r}." + did_you_mean(name, [v.name for v in self.feature_views]),
            hint="run `fwctl features list` to see the feature views",
        )

    def service(self, name: str) -> FeatureService:
        for s in self.feature_services:
            if s.name == name:
                return s
        raise ConfigError(
            f"unknown feature service {name!r}." + did_you_mean(name, [s.name for s in self.feature_services]),
            hint="feature services are declared in dbt_project.yml under vars.fw.feature_services "
                 "(`fwctl features services` lists them)",
        )

    def model(self, name: str) -> ModelRecord:
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(
            f"unknown model {name!r}." + did_you_mean(name, [m.name for m in self.models]),
        )

    def models_of_kind(self, kind: str) -> tuple[ModelRecord, ...]:
        return tuple(m for m in self.models if m.kind == kind)

    @property
    def online_views(self) -> tuple[FeatureView, ...]:
        return tuple(v for v in self.feature_views if v.online)

    def resolve(self, refs: Iterable[str | FeatureRef] | str) -> list[Feature]:
        """Expand ``view:feature`` / ``view:*`` refs to features by the ref rules (``refs.expand_refs``).

        ``refs`` may instead be the name of a feature service: its features.
        """
        if isinstance(refs, str):
            refs = self.service(refs).features
        features_of = {v.name: [f.name for f in v.features] for v in self.feature_views}
        return [self.view(r.view).feature(r.feature) for r in expand_refs(refs, features_of)]

    # ---- (de)serialization --------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Registry":
        if data.get("schema_version") != REGISTRY_SCHEMA_VERSION:
            raise ConfigError(
                f"registry schema version {data.get('schema_version')!r} is not {REGISTRY_SCHEMA_VERSION}",
                hint="rebuild it with `fwctl registry build`",
            )

        def keys(items: list[dict[str, Any]]) -> tuple[JoinKey, ...]:
            return tuple(JoinKey(**k) for k in items)

        def feature(d: dict[str, Any]) -> Feature:
            return Feature(**{**d, "tags": tuple(d.get("tags", ()))})

        def view(d: dict[str, Any]) -> FeatureView:
            return FeatureView(
                **{
                    **d,
                    "entities": tuple(d["entities"]),
                    "join_keys": keys(d["join_keys"]),
                    "features": tuple(feature(f) for f in d["features"]),
                    "tags": tuple(d.get("tags", ())),
                    "upstream": tuple(d.get("upstream", ())),
                    "downstream": tuple(d.get("downstream", ())),
                    "rolling": RollingSpec.from_dict(d["rolling"]) if d.get("rolling") else None,
                }
            )

        def model(d: dict[str, Any]) -> ModelRecord:
            tuples = ("entities", "features", "tags", "upstream", "downstream")
            return ModelRecord(**{**d, **{k: tuple(d.get(k, ())) for k in tuples}})

        return cls(
            entities=tuple(
                Entity(name=e["name"], join_keys=keys(e["join_keys"]), description=e.get("description", ""))
                for e in data["entities"]
            ),
            feature_views=tuple(view(v) for v in data["feature_views"]),
            models=tuple(model(m) for m in data.get("models", [])),
            version=data.get("version", ""),
            schema_version=data["schema_version"],
            project_name=data.get("project_name", "featurewarehouse"),
            built_at=data.get("built_at", ""),
            changes=data.get("changes", {}),
            column_lineage=data.get("column_lineage", {}),
            model_sql=data.get("model_sql", {}),
            dialect=data.get("dialect", "duckdb"),
            feature_services=tuple(
                FeatureService(**{**s, "features": tuple(s["features"]), "used_by": tuple(s.get("used_by", ()))})
                for s in data.get("feature_services", [])
            ),
        )

    @classmethod
    def read(cls, path: Path) -> "Registry":
        import json

        if not path.is_file():
            raise ConfigError(f"registry not found: {path}", hint="run `fwctl registry build`")
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"registry file is malformed: {exc}", where=str(path), hint="rebuild it with `fwctl registry build`"
            ) from exc
