"""The feature registry: dbt metadata as typed records (see ``model.py``)."""
from __future__ import annotations

from featurewarehouse.registry.model import (
    REGISTRY_SCHEMA_VERSION,
    Entity,
    Feature,
    FeatureView,
    JoinKey,
    ModelRecord,
    Registry,
    parse_ttl,
)

__all__ = [
    "REGISTRY_SCHEMA_VERSION",
    "Entity",
    "Feature",
    "FeatureView",
    "JoinKey",
    "ModelRecord",
    "Registry",
    "parse_ttl",
]
