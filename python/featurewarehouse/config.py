"""Project configuration: CLI flag > env ``FW_*`` > ``dbt_project.yml`` ``vars.fw`` > default.

One resolved, frozen :class:`ProjectConfig` is passed to every command.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from featurewarehouse.errors import ConfigError

DEFAULT_TARGET = "dev"
# {{ env_var('X') }}, {{ env_var('X', 'default') }}, optionally piped through as_number
_ENV_VAR_CALL = re.compile(
    r"\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\s*(?:\|\s*as_number\s*)?\}\}"
)


def find_project_dir(start: Path | str | None = None) -> Path:
    """The nearest directory at or above ``start`` holding ``dbt_project.yml``."""
    here = Path(start or os.environ.get("FW_PROJECT_DIR") or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise ConfigError(
        f"no dbt_project.yml found at or above {here}",
        hint="run fwctl inside a Feature Warehouse project, or pass --project-dir",
    )


def render_env(value: Any) -> Any:
    """Render the ``{{ env_var('X', 'default') }}`` calls dbt would, for plain strings."""
    if isinstance(value, str):
        return _ENV_VAR_CALL.sub(lambda m: os.environ.get(m[1], m[2] if m[2] is not None else ""), value)
    if isinstance(value, dict):
        return {k: render_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render_env(v) for v in value]
    return value


def read_fw_vars(project_dir: Path) -> dict[str, Any]:
    """``vars.fw`` from ``dbt_project.yml``, env_var calls rendered."""
    path = project_dir / "dbt_project.yml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}", where=str(path)) from exc
    fw = (data.get("vars") or {}).get("fw") or {}
    if not isinstance(fw, dict):
        raise ConfigError("vars.fw must be a mapping", where=f"{path}: vars.fw")
    return render_env(fw)


@dataclass(frozen=True)
class ProjectConfig:
    """Everything a command needs to find the project, the warehouse and the stores."""

    project_dir: Path
    profiles_dir: Path
    target: str
    target_path: Path
    online_store: str
    feature_log_path: Path
    fw_vars: dict[str, Any]

    @property
    def registry_path(self) -> Path:
        return self.target_path / "fw_registry.json"

    @property
    def manifest_path(self) -> Path:
        return self.target_path / "manifest.json"

    @property
    def catalog_path(self) -> Path:
        return self.target_path / "catalog.json"

    @property
    def entities(self) -> dict[str, Any]:
        return self.fw_vars.get("entities") or {}


def load_config(
    project_dir: Path | str | None = None,
    *,
    profiles_dir: Path | str | None = None,
    target: str | None = None,
    online_store: str | None = None,
) -> ProjectConfig:
    """Resolve the configuration. Explicit arguments are the CLI flags."""
    root = find_project_dir(project_dir)
    fw = read_fw_vars(root)

    def pick(flag: Any, env: str, var: str, default: Any) -> Any:
        if flag not in (None, ""):
            return flag
        if os.environ.get(env):
            return os.environ[env]
        if fw.get(var) not in (None, ""):
            return fw[var]
        return default

    profiles = Path(pick(profiles_dir, "FW_PROFILES_DIR", "profiles_dir", root / "profiles"))
    if not profiles.is_absolute():
        profiles = root / profiles
    target_path = Path(os.environ.get("DBT_TARGET_PATH") or root / "target")
    if not target_path.is_absolute():
        target_path = root / target_path
    store = pick(online_store, "FW_ONLINE_STORE", "online_store", "sqlite:///data/online.db")
    store = _absolutize_sqlite(store, root)
    log_path = Path(pick(None, "FW_FEATURE_LOG_PATH", "feature_log_path", root / "data" / "feature_logs"))
    if not log_path.is_absolute():
        log_path = root / log_path
    return ProjectConfig(
        project_dir=root,
        profiles_dir=profiles,
        target=pick(target, "FW_TARGET", "target", DEFAULT_TARGET),
        target_path=target_path,
        online_store=store,
        feature_log_path=log_path,
        fw_vars=fw,
    )


def _absolutize_sqlite(url: str, root: Path) -> str:
    """``sqlite:///data/online.db`` is relative to the project, as dbt paths are."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str(root / url[len(prefix):])
    return url
