"""The feature registry: dbt metadata as typed records (see ``model.py``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from featurewarehouse.registry.model import (
    REGISTRY_SCHEMA_VERSION,
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    JoinKey,
    ModelRecord,
    Registry,
    parse_ttl,
)

if TYPE_CHECKING:
    from featurewarehouse.config import ProjectConfig

__all__ = [
    "REGISTRY_SCHEMA_VERSION",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureView",
    "JoinKey",
    "ModelRecord",
    "Registry",
    "load_registry",
    "parse_ttl",
]


def load_registry(config: "ProjectConfig", *, build_if_missing: bool = True, refresh: bool = True) -> Registry:
    """The registry at ``config.registry_path`` (``target/fw_registry.json``).

    When the file is missing it is built first (``dbt parse`` + validation), the
    way ``fwctl registry build`` does. When dbt has written ``target/manifest.json``
    since (an analyst ran ``dbt build``), it is rebuilt from that manifest without
    running dbt (``refresh``; unchanged models come from the analysis cache).
    Raises ``ConfigError`` when it is missing and ``build_if_missing`` is False,
    ``ProblemsError`` when a build finds problems.
    """
    path = config.registry_path
    if not path.is_file():
        if build_if_missing:
            from featurewarehouse.registry.builder import build_registry

            return build_registry(config).registry
        return Registry.read(path)
    manifest = config.manifest_path
    if refresh and manifest.is_file() and manifest.stat().st_mtime > path.stat().st_mtime:
        from featurewarehouse.registry.builder import build_registry

        return build_registry(config, dbt_command=None).registry
    return Registry.read(path)
