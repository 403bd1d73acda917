"""``fwctl init``: add what Feature Warehouse needs to an existing dbt project.

Each step adds one thing only when it is missing, so running it twice changes
nothing: the package in ``packages.yml``, an entity in ``vars.fw.entities`` of
``dbt_project.yml``, one example feature view (SQL + YAML) that builds as it is,
and (after ``dbt deps`` and ``dbt parse``) its Great Expectations suite.
Files are edited as text where they exist, so the user's comments and layout stay.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from featurewarehouse import DBT_PACKAGE
from featurewarehouse.errors import ConfigError
from featurewarehouse.files import atomic_write

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class InitOptions:
    entity: str = "customer"
    join_key: str = "customer_id"
    dtype: str = "bigint"
    package: str | None = None  # "local:<path>" or "git:<url>[#revision]"; default: this installation's repository


@dataclass
class InitResult:
    project_dir: Path
    added: list[str] = field(default_factory=list)  # what this run wrote
    kept: list[str] = field(default_factory=list)  # what was there already
    view: str = ""
    writes: dict[Path, str] = field(default_factory=dict)  # planned; written only once every step has passed

    @property
    def changed(self) -> bool:
        return bool(self.added)


def package_root() -> Path | None:
    """The dbt package this fwctl belongs to: the repository it is installed from (editable
    or a checkout), recognised by its ``dbt_project.yml`` named ``featurewarehouse``."""
    root = Path(__file__).resolve().parents[2]
    project = root / "dbt_project.yml"
    if project.is_file() and (yaml.safe_load(project.read_text()) or {}).get("name") == DBT_PACKAGE:
        return root
    return None


def package_entry(project_dir: Path, package: str | None) -> dict[str, Any]:
    """The ``packages.yml`` item to add, from ``--package`` or this installation."""
    if package:
        kind, _, value = package.partition(":")
        if kind == "local" and value:
            return {"local": value}
        if kind == "git" and value:
            url, _, revision = value.partition("#")
            return {"git": url, "revision": revision} if revision else {"git": url}
        raise ConfigError(
            f"--package must be local:<path> or git:<url>[#revision], got {package!r}",
            hint="e.g. --package local:../feature-warehouse or --package git:https://example.org/fw.git#v0.1.0",
        )
    root = package_root()
    if root is None:
        raise ConfigError(
            "cannot tell where the Feature Warehouse dbt package is: this fwctl was not installed from its repository",
            hint="pass --package git:<repository URL>[#revision] or --package local:<path of a checkout>",
        )
    return {"local": os.path.relpath(root, project_dir)}


def declares_package(item: Any, project_dir: Path) -> bool:
    """True when a ``packages.yml`` item installs this package: a local path to it, or a
    git URL / hub name that names it."""
    if not isinstance(item, dict):
        return False
    if "local" in item:
        project = project_dir / str(item["local"]) / "dbt_project.yml"
        return project.is_file() and (yaml.safe_load(project.read_text()) or {}).get("name") == DBT_PACKAGE
    text = " ".join(str(item.get(k, "")) for k in ("git", "package")).lower()
    return DBT_PACKAGE in text.replace("-", "").replace("_", "")


def add_package(project_dir: Path, package: str | None, result: InitResult) -> None:
    path = project_dir / "packages.yml"
    text = path.read_text() if path.is_file() else ""
    data = yaml.safe_load(text) or {} if text else {}
    items = data.get("packages") if isinstance(data, dict) else None
    if items is not None and not isinstance(items, list):
        raise ConfigError("packages must be a list", where=f"{path}: packages", hint="see dbt's packages.yml reference")
    if any(declares_package(item, project_dir) for item in items or ()):
        result.kept.append("packages.yml: featurewarehouse is declared")
        return
    entry = package_entry(project_dir, package)
    if items and list(data) == ["packages"]:  # append as text: comments and layout stay
        first_item = re.search(r"^([ \t]*)-", text, re.M)
        pad = first_item[1] if first_item else "  "
        lines = [f"{pad}{'-' if i == 0 else ' '} {k}: {v}" for i, (k, v) in enumerate(entry.items())]
        result.writes[path] = text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    else:
        data = data if isinstance(data, dict) else {}
        data["packages"] = [*(items or []), entry]
        result.writes[path] = yaml.safe_dump(data, sort_keys=False)
    result.added.append(f"packages.yml: {_describe(entry)}")


def _describe(entry: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in entry.items())


def add_entity(project_dir: Path, opts: InitOptions, result: InitResult) -> None:
    path = project_dir / "dbt_project.yml"
    text = path.read_text()
    data = yaml.safe_load(text) or {}
    fw = ((data.get("vars") or {}).get("fw") or {}) if isinstance(data.get("vars"), dict) else {}
    entities = fw.get("entities") or {}
    if opts.entity in entities:
        result.kept.append(f"dbt_project.yml: entity {opts.entity!r} is declared")
        return
    if entities or fw:  # a vars.fw block of the user's own: too varied to edit safely as text
        raise ConfigError(
            f"dbt_project.yml has vars.fw but no entity {opts.entity!r}",
            where=f"{path}: vars.fw.entities",
            hint=f"add it by hand:\n{_entity_yaml(opts, indent=6)}",
        )
    block = "  fw:\n    entities:\n" + _entity_yaml(opts, indent=6)
    match = re.search(r"^vars:[ \t]*(#.*)?$", text, re.M)
    if "vars" in data and not match:
        raise ConfigError("dbt_project.yml writes vars in a form fwctl init cannot extend", where=f"{path}: vars",
                          hint=f"add under vars:\n{block}")
    if match:
        text = text[:match.end()] + "\n" + block.rstrip("\n") + text[match.end():]
    else:
        text = text.rstrip("\n") + "\n\nvars:\n" + block
    result.writes[path] = text
    result.added.append(f"dbt_project.yml: vars.fw.entities.{opts.entity}")


def _entity_yaml(opts: InitOptions, indent: int) -> str:
    pad = " " * indent
    return (f"{pad}{opts.entity}:\n"
            f"{pad}  description: The {opts.entity} the features describe (edit me).\n"
            f"{pad}  join_keys: [{{name: {opts.join_key}, dtype: {opts.dtype}}}]\n")


def example_view_files(opts: InitOptions) -> tuple[str, str, str]:
    """(name, SQL, YAML) of an example feature view that builds as it is, on any warehouse."""
    name = f"{opts.entity}_example_features"
    sql = f"""-- An example feature view written by `fwctl init`: one row per {opts.entity} and time a value
-- became true. Replace the literal rows with a select from your own models (see the README).
with example as (

    select * from (values
        (1, timestamp '2025-01-01 00:00:00', 3),
        (1, timestamp '2025-01-08 00:00:00', 5),
        (2, timestamp '2025-01-03 00:00:00', 1)
    ) as t ({opts.join_key}, feature_ts, orders_7d)

),

final as (

    select
        cast({opts.join_key} as {opts.dtype}) as {opts.join_key},
        cast(feature_ts as timestamp) as feature_ts,
        cast(orders_7d as bigint) as orders_7d
    from example

)

select * from final
"""
    yml = f"""version: 2

models:
  - name: {name}
    description: An example feature view (fwctl init); edit or delete it.
    config:
      tags: [example]
      meta:
        owner: your-team
        fw:
          kind: feature_view
          entity: {opts.entity}
          timestamp: feature_ts
          ttl: 30d
          online: true
    columns:
      - name: {opts.join_key}
        description: Join key of entity {opts.entity}.
        data_type: {opts.dtype}
      - name: feature_ts
        description: When the values became true (UTC).
        data_type: timestamp
      - name: orders_7d
        description: Orders in the trailing 7 days (example).
        data_type: bigint
        config:
          meta: {{fw: {{feature: true, checks: {{not_null: true, min: 0}}}}}}
"""
    return name, sql, yml


def add_example_view(project_dir: Path, opts: InitOptions, result: InitResult) -> None:
    name, sql, yml = example_view_files(opts)
    result.view = name
    paths = (project_dir / "models" / "features" / f"{name}.sql", project_dir / "models" / "features" / f"{name}.yml")
    existing = [p for p in paths if p.exists()]
    if existing:
        result.kept.append(f"{existing[0].relative_to(project_dir)} exists")
        return
    for path, text in zip(paths, (sql, yml)):
        result.writes[path] = text
        result.added.append(str(path.relative_to(project_dir)))


def init_project(project_dir: Path, opts: InitOptions) -> InitResult:
    """The file edits of ``fwctl init`` (no dbt run): package, entity, example view.
    Every step is checked before any file is written: a refused step leaves the project as it was."""
    for what, value in (("entity", opts.entity), ("join key", opts.join_key)):
        if not _IDENTIFIER.match(value):
            raise ConfigError(f"{what} {value!r} is not an identifier", hint="use letters, digits and _")
    if not (project_dir / "dbt_project.yml").is_file():
        raise ConfigError(f"no dbt_project.yml in {project_dir}", hint="run fwctl init in your dbt project, "
                          "or pass --project-dir (dbt init creates a project)")
    result = InitResult(project_dir)
    add_package(project_dir, opts.package, result)
    add_entity(project_dir, opts, result)
    add_example_view(project_dir, opts, result)
    for path, text in result.writes.items():
        atomic_write(path, text)
    return result
