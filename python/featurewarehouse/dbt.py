"""Run dbt programmatically (one invocation per command) and read its artifacts."""
from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any, Sequence

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ChecksFailed, ConfigError

# dbt keeps global state: two invocations at once in one process corrupt each other.
_DBT_LOCK = threading.Lock()


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def dbt_args(config: ProjectConfig, command: Sequence[str]) -> list[str]:
    """The full argument list for a dbt command against this project."""
    return [
        *command,
        "--project-dir", str(config.project_dir),
        "--profiles-dir", str(config.profiles_dir),
        "--target", config.target,
        "--target-path", str(config.target_path),
    ]


def _release_duckdb() -> None:
    """Close the DuckDB instance dbt-duckdb keeps in this process after an invocation.

    dbt-duckdb reuses it for the next invocation while the profile's credentials compare equal,
    and ``path: data/warehouse.duckdb`` compares equal in every project: a second project would
    write into the first one's file. Kept open, it also holds the file with its own configuration,
    so opening it here (read-only, say) fails until the process ends.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # a server warehouse's adapter only
        return
    DuckDBConnectionManager.close_all_connections()  # drops its instance, which closes the file


def packages_missing(config: ProjectConfig) -> bool:
    """True when the project declares packages (packages.yml / dependencies.yml) that
    ``dbt deps`` has not installed, or installed before the declaration last changed."""
    from featurewarehouse.config import read_project_file

    declared = [p for p in (config.project_dir / "packages.yml", config.project_dir / "dependencies.yml") if p.is_file()]
    if not declared:
        return False
    install = Path(read_project_file(config.project_dir).get("packages-install-path") or "dbt_packages")
    install = install if install.is_absolute() else config.project_dir / install
    if not install.is_dir() or not any(install.iterdir()):
        return True
    return max(p.stat().st_mtime for p in declared) > install.stat().st_mtime


def run_dbt(config: ProjectConfig, command: Sequence[str], *, quiet: bool = False) -> Any:
    """Run one dbt command in-process and return dbt's result object.

    A project whose packages are not installed gets ``dbt deps`` first, as a user would run it.
    Raises :class:`ChecksFailed` when dbt ran but a model or test failed, and
    :class:`ConfigError` when dbt could not run at all.
    """
    if list(command[:1]) != ["deps"] and packages_missing(config):
        run_dbt(config, ["deps"], quiet=True)
    return _invoke(config, command, quiet=quiet)


def _invoke(config: ProjectConfig, command: Sequence[str], *, quiet: bool) -> Any:
    from dbt.cli.main import dbtRunner  # heavy import: only when dbt is needed

    args = dbt_args(config, command)
    if list(command[:1]) == ["deps"]:  # deps takes neither --target nor --target-path
        args = [*command, "--project-dir", str(config.project_dir), "--profiles-dir", str(config.profiles_dir)]
    if quiet:
        args = ["--quiet", *args]
    with _DBT_LOCK, _cwd(config.project_dir):
        # profiles.yml paths (the DuckDB file) are relative to the project, as
        # they are when an analyst runs dbt from the project directory.
        try:
            result = dbtRunner().invoke(args)
        finally:
            _release_duckdb()
    if result.exception is not None:
        raise ConfigError(
            f"dbt {' '.join(command)} could not run: {result.exception}",
            where=str(config.project_dir),
            hint="run the same dbt command by hand with --debug for details",
        )
    if not result.success:
        raise ChecksFailed(
            f"dbt {' '.join(command)} failed",
            where=str(config.project_dir),
            hint=f"see {config.project_dir / 'logs' / 'dbt.log'} or rerun dbt by hand",
        )
    return result


def loads_json(data: bytes) -> Any:
    """JSON from bytes with orjson (2-3x faster on a 15 MB manifest); json for what
    orjson rejects but json accepts (NaN, Infinity)."""
    import orjson

    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def read_artifact(path: Path, *, what: str, hint: str) -> dict[str, Any]:
    """Load a dbt JSON artifact with a clear error when it is missing or broken."""
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}", hint=hint)
    try:
        return loads_json(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}", where=str(path), hint=hint) from exc


def read_manifest(config: ProjectConfig) -> dict[str, Any]:
    return read_artifact(
        config.manifest_path, what="dbt manifest", hint="run `dbt parse` or `fwctl registry build`"
    )
