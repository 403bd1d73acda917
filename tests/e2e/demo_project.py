"""A copy of the demo project (examples/fraud), for end-to-end tests that build it.

The copy installs this repository as a package, exactly as the demo does, only by an
absolute path (its own ``packages.yml`` says ``../..``, which the copy is not under).
"""
from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "fraud"
_BUILD_OUTPUT = ("target", "logs", "data", "dbt_packages", "package-lock.yml", "*.duckdb*")


def copy_demo_project(dst: Path, *, expectations: bool = False) -> Path:
    """The demo project (without its expectations/ unless asked) copied to ``dst``."""
    skip = _BUILD_OUTPUT if expectations else (*_BUILD_OUTPUT, "expectations")
    shutil.copytree(DEMO, dst, ignore=shutil.ignore_patterns(*skip))
    (dst / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
    # installed as `dbt deps` installs a local package (a symlink), without a dbt run per copy
    (dst / "dbt_packages").mkdir()
    (dst / "dbt_packages" / "featurewarehouse").symlink_to(REPO, target_is_directory=True)
    return dst
