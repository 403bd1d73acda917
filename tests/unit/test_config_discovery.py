"""fwctl finds the project, its profile and its target as dbt does (issue: a package in any dbt project)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from featurewarehouse.config import find_profiles_dir, load_config
from featurewarehouse.errors import ConfigError

PROFILE = """\
shop:
  target: "{{ env_var('SHOP_TARGET', 'prod') }}"
  outputs:
    prod: {type: duckdb, path: prod.duckdb}
    staging: {type: duckdb, path: staging.duckdb}
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    for var in ("DBT_PROFILES_DIR", "DBT_TARGET", "DBT_PROJECT_DIR", "FW_PROJECT_DIR", "SHOP_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    root = tmp_path / "shop"
    root.mkdir()
    (root / "dbt_project.yml").write_text("name: shop\nprofile: shop\nconfig-version: 2\n")
    monkeypatch.chdir(tmp_path)  # not the project: its profiles.yml must be found anyway
    return root


def test_profile_in_the_project_directory_and_its_own_default_target(project):
    (project / "profiles.yml").write_text(PROFILE)
    cfg = load_config(project)
    assert cfg.profiles_dir == project.resolve()
    assert (cfg.profile_name, cfg.target) == ("shop", "prod")  # not "dev": the profile says prod


def test_the_profile_target_renders_env_vars_and_dbt_target_overrides_it(project, monkeypatch):
    (project / "profiles.yml").write_text(PROFILE)
    monkeypatch.setenv("SHOP_TARGET", "staging")
    assert load_config(project).target == "staging"
    monkeypatch.setenv("DBT_TARGET", "prod")
    assert load_config(project).target == "prod"
    assert load_config(project, target="staging").target == "staging"  # --target wins


def test_profiles_search_order_flag_env_cwd_project_home(project, tmp_path, monkeypatch):
    home = tmp_path / "home" / ".dbt"
    home.mkdir(parents=True)
    (home / "profiles.yml").write_text(PROFILE)
    assert find_profiles_dir(None, project) == home  # nothing else: ~/.dbt
    (project / "profiles.yml").write_text(PROFILE)
    assert find_profiles_dir(None, project) == project.resolve()
    (tmp_path / "profiles.yml").write_text(PROFILE)  # the current directory, as dbt looks
    assert find_profiles_dir(None, project) == tmp_path.resolve()
    env_dir = tmp_path / "envdir"
    env_dir.mkdir()
    monkeypatch.setenv("DBT_PROFILES_DIR", str(env_dir))
    assert find_profiles_dir(None, project) == env_dir.resolve()
    assert find_profiles_dir("elsewhere", project) == (tmp_path / "elsewhere").resolve()  # relative to cwd


def test_a_profile_missing_from_profiles_yml_is_a_clear_error(project):
    (project / "profiles.yml").write_text(PROFILE.replace("shop:", "shoop:"))
    from featurewarehouse.offline.warehouse import read_target

    cfg = load_config(project)  # commands that never open the warehouse still run
    with pytest.raises(ConfigError, match=r"profile 'shop' \(named by dbt_project.yml\) is not in .*did you mean 'shoop'"):
        read_target(cfg)


def test_dbt_gets_the_resolved_profiles_dir_and_target(project):
    from featurewarehouse.dbt import dbt_args

    (project / "profiles.yml").write_text(PROFILE)
    args = dbt_args(load_config(project), ["build"])
    assert args[args.index("--profiles-dir") + 1] == str(project.resolve())
    assert args[args.index("--target") + 1] == "prod"


def test_packages_missing_until_deps_ran(project):
    from featurewarehouse.dbt import packages_missing

    (project / "profiles.yml").write_text(PROFILE)
    cfg = load_config(project)
    assert not packages_missing(cfg)  # no packages.yml: nothing to install
    (project / "packages.yml").write_text("packages:\n  - local: ../featurewarehouse\n")
    assert packages_missing(cfg)
    (project / "dbt_packages" / "featurewarehouse").mkdir(parents=True)
    os.utime(project / "dbt_packages", None)
    assert not packages_missing(cfg)


def test_printed_commands_get_the_setup_they_need(project, monkeypatch):
    from featurewarehouse.cli import hints

    (project / "profiles.yml").write_text(PROFILE)
    cfg = load_config(project)
    monkeypatch.setattr(hints, "on_path", lambda program: False)
    lines = hints.shell_setup(cfg)
    assert lines[-1] == "cd shop" and (lines[0].startswith("source ") or lines[0].startswith("export PATH="))
    monkeypatch.setattr(hints, "on_path", lambda program: True)
    assert hints.shell_setup(cfg, cwd=project) == []  # in the project, programs on PATH: plain commands work


def test_the_package_repository_itself_is_not_taken_for_a_project(monkeypatch):
    repo = Path(__file__).resolve().parents[2]
    monkeypatch.delenv("FW_PROJECT_DIR", raising=False)
    monkeypatch.chdir(repo / "python")
    with pytest.raises(ConfigError, match="is the Feature Warehouse package itself") as info:
        load_config()
    assert "cd examples/fraud" in info.value.hint
    assert load_config(repo / "examples" / "fraud").project_dir == (repo / "examples" / "fraud").resolve()
