"""Options shared by every command, and the one place config is resolved from them."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from featurewarehouse.config import ProjectConfig, load_config

ProjectDir = typer.Option(
    None, "--project-dir", envvar="DBT_PROJECT_DIR",
    help="dbt project directory (default: the nearest dbt_project.yml at or above the current directory).")
ProfilesDir = typer.Option(
    None, "--profiles-dir",
    help="Directory of profiles.yml (default, as dbt: DBT_PROFILES_DIR, the current or project directory, ~/.dbt).")
Target = typer.Option(None, "--target", "-t", help="dbt target (default: DBT_TARGET, else the profile's own target).")
Store = typer.Option(None, "--store", help="Online store URL (sqlite:///path or redis://host:port/db). Env: FW_ONLINE_STORE.")
Json = typer.Option(False, "--json", help="Print JSON for scripts instead of tables.")
Select = typer.Option(None, "--select", "-s", help="Only these models (repeatable).")


def resolve(
    project_dir: Optional[Path] = None,
    profiles_dir: Optional[Path] = None,
    target: Optional[str] = None,
    store: Optional[str] = None,
) -> ProjectConfig:
    return load_config(project_dir, profiles_dir=profiles_dir, target=target, online_store=store)
