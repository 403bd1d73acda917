"""Project configuration: CLI flag > env ``FW_*`` > ``dbt_project.yml`` ``vars.fw`` > default.

The project, its profiles and its target are found as dbt finds them (see
:func:`find_profiles_dir` and :func:`resolve_target`), so ``fwctl`` works in any
dbt project that installs the package, with the same profile plain ``dbt`` uses.
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

DEFAULT_TARGET = "default"  # dbt's name for a profile's target when it declares none
# {{ env_var('X') }}, {{ env_var('X', 'default') }}, optionally piped through as_number
_ENV_VAR_CALL = re.compile(
    r"\{\{\s*env_var\(\s*'([^']+)'\s*(?:,\s*'([^']*)'\s*)?\)\s*(?:\|\s*as_number\s*)?\}\}"
)


def find_project_dir(start: Path | str | None = None) -> Path:
    """The nearest directory at or above ``start`` holding ``dbt_project.yml``."""
    here = Path(start or os.environ.get("FW_PROJECT_DIR") or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "dbt_project.yml").is_file():
            if (candidate / "python" / "featurewarehouse" / "__init__.py").is_file():
                raise ConfigError(
                    f"{candidate} is the Feature Warehouse package itself, not a dbt project that uses it",
                    hint="cd examples/fraud (the demo; `make demo` builds it) or into your own dbt project "
                    "(`fwctl init` adds the package there), or pass --project-dir",
                )
            return candidate
    raise ConfigError(
        f"no dbt_project.yml found at or above {here}",
        hint="run fwctl inside your dbt project (`fwctl init` adds Feature Warehouse to it), or pass --project-dir",
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


def read_project_file(project_dir: Path) -> dict[str, Any]:
    """``dbt_project.yml`` as a mapping (its Jinja left as written)."""
    path = project_dir / "dbt_project.yml"
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}", where=str(path)) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a mapping", where=str(path), hint="see dbt's dbt_project.yml reference")
    return data


def read_fw_vars(project_dir: Path, project: dict[str, Any] | None = None) -> dict[str, Any]:
    """``vars.fw`` from ``dbt_project.yml``, env_var calls rendered."""
    data = read_project_file(project_dir) if project is None else project
    fw = (data.get("vars") or {}).get("fw") or {}
    if not isinstance(fw, dict):
        raise ConfigError("vars.fw must be a mapping", where=f"{project_dir / 'dbt_project.yml'}: vars.fw")
    return render_env(fw)


def find_profiles_dir(flag: Path | str | None, project_dir: Path) -> Path:
    """Where ``profiles.yml`` is, searched as dbt does.

    ``--profiles-dir``, then ``DBT_PROFILES_DIR``, then the current directory and the
    project directory (whichever holds a ``profiles.yml``), then ``~/.dbt``.
    """
    explicit = flag or os.environ.get("DBT_PROFILES_DIR")
    if explicit:
        path = Path(explicit).expanduser()
        return (path if path.is_absolute() else Path.cwd() / path).resolve()
    for candidate in (Path.cwd(), project_dir):
        if (candidate / "profiles.yml").is_file():
            return candidate.resolve()
    return Path.home() / ".dbt"


def read_profile(profiles_dir: Path, profile_name: str) -> dict[str, Any]:
    """One profile of ``profiles.yml`` (outputs and target, Jinja not yet rendered)."""
    from featurewarehouse.refs import did_you_mean

    path = profiles_dir / "profiles.yml"
    if not path.is_file():
        raise ConfigError(
            f"profiles.yml not found in {profiles_dir}",
            hint="put profiles.yml in the project directory or ~/.dbt/, or pass --profiles-dir "
            "(or set DBT_PROFILES_DIR), as for dbt",
        )
    try:
        profiles = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}", where=str(path)) from exc
    profile = profiles.get(profile_name) if isinstance(profiles, dict) else None
    if not isinstance(profile, dict):
        names = [k for k in profiles if k != "config"] if isinstance(profiles, dict) else []
        raise ConfigError(
            f"profile {profile_name!r} (named by dbt_project.yml) is not in {path}." + did_you_mean(profile_name, names),
            where=str(path),
            hint=f"add a {profile_name!r} profile, or point --profiles-dir at the profiles.yml that has it",
        )
    return profile


def resolve_target(flag: str | None, profile: dict[str, Any]) -> str:
    """``--target``, then ``DBT_TARGET``, then the profile's own ``target:`` (env_var rendered)."""
    chosen = flag or os.environ.get("DBT_TARGET") or render_env(profile.get("target")) or DEFAULT_TARGET
    return str(chosen)


@dataclass(frozen=True)
class ProjectConfig:
    """Everything a command needs to find the project, the warehouse and the stores."""

    project_dir: Path
    profiles_dir: Path
    target: str
    profile_name: str
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
    project = read_project_file(root)
    fw = read_fw_vars(root, project)

    def pick(flag: Any, env: str, var: str, default: Any) -> Any:
        if flag not in (None, ""):
            return flag
        if os.environ.get(env):
            return os.environ[env]
        if fw.get(var) not in (None, ""):
            return fw[var]
        return default

    profiles = find_profiles_dir(profiles_dir, root)
    profile_name = str(project.get("profile") or "default")
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
        target=resolve_target(target, _profile_or_empty(profiles, profile_name)),
        profile_name=profile_name,
        target_path=target_path,
        online_store=store,
        feature_log_path=log_path,
        fw_vars=fw,
    )


def _profile_or_empty(profiles_dir: Path, profile_name: str) -> dict[str, Any]:
    """The profile, or {} when it cannot be read: commands that never touch the warehouse
    (the registry, the online store) still run; those that do get read_profile's error."""
    try:
        return read_profile(profiles_dir, profile_name)
    except ConfigError:
        return {}


def _absolutize_sqlite(url: str, root: Path) -> str:
    """``sqlite:///data/online.db`` is relative to the project, as dbt paths are."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        return prefix + str(root / url[len(prefix):])
    return url
