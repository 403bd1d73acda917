"""A copy of the repository's demo project, for end-to-end tests that build it."""
from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_BUILD_OUTPUT = shutil.ignore_patterns("target", "logs", "*.duckdb*")


def copy_demo_project(dst: Path, *, expectations: bool = False) -> Path:
    """dbt_project.yml, models/, macros/ and profiles/ (and expectations/) copied to ``dst``."""
    dst.mkdir(parents=True)
    shutil.copy(REPO / "dbt_project.yml", dst / "dbt_project.yml")
    for name in ("models", "macros", "profiles") + (("expectations",) if expectations else ()):
        shutil.copytree(REPO / name, dst / name, ignore=_BUILD_OUTPUT)
    return dst
