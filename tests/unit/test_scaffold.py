"""fwctl init's file edits: add what is missing, keep the user's text, twice changes nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from featurewarehouse.errors import ConfigError
from featurewarehouse.scaffold import InitOptions, init_project

REPO = Path(__file__).resolve().parents[2]


def project(tmp_path: Path, dbt_project: str, packages: str | None = None) -> Path:
    (tmp_path / "dbt_project.yml").write_text(dbt_project)
    if packages is not None:
        (tmp_path / "packages.yml").write_text(packages)
    return tmp_path


def test_a_declared_git_package_is_kept_and_nothing_else_is_asked(tmp_path):
    packages = "packages:\n  # ours\n  - git: https://example.org/acme/feature-warehouse.git\n    revision: v1\n"
    root = project(tmp_path, "name: shop\nprofile: shop\n", packages)
    result = init_project(root, InitOptions(package=None))  # no --package needed: it is declared
    assert "packages.yml: featurewarehouse is declared" in result.kept
    assert (root / "packages.yml").read_text() == packages


def test_the_entry_is_appended_as_text_and_vars_are_extended_in_place(tmp_path):
    root = project(tmp_path, "name: shop  # my shop\nprofile: shop\nvars:\n  currency: EUR\n",
                   "packages:\n  # utilities\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n")
    first = init_project(root, InitOptions(entity="user", join_key="user_id", package=f"local:{REPO}"))
    assert (root / "packages.yml").read_text().endswith(f"  # utilities\n  - package: dbt-labs/dbt_utils\n"
                                                        f"    version: 1.3.0\n  - local: {REPO}\n")
    text = (root / "dbt_project.yml").read_text()
    assert "# my shop" in text and "currency: EUR" in text and "      user:\n" in text
    assert first.added[-1] == "models/features/user_example_features.yml"
    files = {p: p.read_text() for p in root.rglob("*") if p.is_file()}
    again = init_project(root, InitOptions(entity="user", join_key="user_id", package=f"local:{REPO}"))
    assert again.added == [] and {p: p.read_text() for p in root.rglob("*") if p.is_file()} == files


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    root = project(tmp_path, "name: shop\n")
    with pytest.raises(ConfigError, match="is not an identifier"):
        init_project(root, InitOptions(entity="my entity"))
    with pytest.raises(ConfigError, match="--package must be local:<path> or git:<url>"):
        init_project(root, InitOptions(package="svn:somewhere"))
    assert sorted(p.name for p in root.iterdir()) == ["dbt_project.yml"]


def test_a_refused_step_leaves_the_project_as_it_was(tmp_path):
    # vars.fw of the user's own without the entity: refused, and packages.yml is not written either
    root = project(tmp_path, "name: shop\nvars:\n  fw:\n    online_store: redis://r:6379/0\n")
    with pytest.raises(ConfigError, match="has vars.fw but no entity 'customer'") as info:
        init_project(root, InitOptions(package=f"local:{REPO}"))
    assert "join_keys: [{name: customer_id, dtype: bigint}]" in info.value.hint
    assert sorted(p.name for p in root.iterdir()) == ["dbt_project.yml"]
