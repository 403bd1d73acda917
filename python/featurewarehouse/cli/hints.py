"""Commands printed for the user to run: true as printed, from the user's own shell.

A printed ``fwctl ...`` or ``dbt ...`` works only if the shell finds the program and
dbt finds the project and its profile. :func:`shell_setup` gives the lines that make
both true from the current directory (activate the virtualenv fwctl runs from, ``cd``
into the project), and nothing when they already hold, so the commands that follow
are plain ``fwctl``/``dbt`` calls as the README writes them.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from featurewarehouse.config import ProjectConfig


def _shown(path: Path, cwd: Path) -> str:
    """``path`` relative to ``cwd`` when it lies below it, else absolute; shell-quoted."""
    try:
        text = str(path.resolve().relative_to(cwd.resolve())) or "."
    except ValueError:
        text = str(path.resolve())
    return shlex.quote(text)


def _bin_dir() -> Path:
    """The directory of the running interpreter's scripts (``.venv/bin``), where fwctl and dbt are."""
    return Path(sys.executable).parent


def on_path(program: str) -> bool:
    """True when the shell's ``program`` is the one installed next to this fwctl."""
    found = shutil.which(program)
    return found is not None and Path(found).resolve() == (_bin_dir() / program).resolve()


def shell_setup(config: ProjectConfig, cwd: Path | None = None) -> list[str]:
    """Shell lines to run first so that bare ``fwctl``/``dbt`` commands work as printed."""
    cwd = cwd or Path.cwd()
    lines = []
    if not (on_path("fwctl") and on_path("dbt")):
        activate = _bin_dir() / "activate"
        if activate.is_file():
            lines.append(f"source {_shown(activate, cwd)}")
        else:  # not a virtualenv: put the scripts' directory first on PATH
            lines.append(f'export PATH={_shown(_bin_dir(), cwd)}:"$PATH"')
    if config.project_dir.resolve() != cwd.resolve():
        lines.append(f"cd {_shown(config.project_dir, cwd)}")
    profiles_seen_by_dbt = os.environ.get("DBT_PROFILES_DIR") or (
        config.project_dir if (config.project_dir / "profiles.yml").is_file() else Path.home() / ".dbt")
    if Path(profiles_seen_by_dbt).resolve() != config.profiles_dir.resolve():
        lines.append(f"export DBT_PROFILES_DIR={_shown(config.profiles_dir, config.project_dir)}")
    return lines
