"""``fwctl init``: add Feature Warehouse to an existing dbt project."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_cmd(
        entity: str = typer.Option("customer", "--entity", help="Name of the entity to declare."),
        join_key: str = typer.Option("customer_id", "--join-key", help="Its join key column."),
        dtype: str = typer.Option("bigint", "--dtype", help="The join key's SQL type."),
        package: Optional[str] = typer.Option(
            None, "--package",
            help="Where dbt installs the package from: local:<path> or git:<url>[#revision] "
            "(default: the repository this fwctl is installed from)."),
        suite: bool = typer.Option(True, "--suite/--no-suite",
                                   help="Install the package and write the example's suite (dbt deps + dbt parse)."),
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
        json_out: bool = options.Json,
    ) -> None:
        """Add what Feature Warehouse needs to this dbt project: the package in packages.yml, an entity in
        vars.fw.entities, an example feature view (SQL + YAML) and its suite. Running it twice changes nothing."""
        from featurewarehouse.cli.hints import shell_setup
        from featurewarehouse.cli.output import info, print_json
        from featurewarehouse.config import find_project_dir
        from featurewarehouse.scaffold import InitOptions, init_project

        root = find_project_dir(project_dir)
        result = init_project(root, InitOptions(entity, join_key, dtype, package))
        if suite:
            from featurewarehouse.validation.run import generate

            config = options.resolve(root, profiles_dir, target)
            for change in generate(config, [result.view], parse=True).changes:
                line = f"{change.path.relative_to(root)}: suite of {change.model}"
                (result.added if change.status != "unchanged" else result.kept).append(line)
        next_steps = [*shell_setup(options.resolve(root, profiles_dir, target)),
                      f"dbt build -s {result.view}", f"fwctl validate -s {result.view}",
                      "fwctl sync-online", "fwctl features list"]
        if json_out:
            print_json({"project_dir": str(root), "added": result.added, "kept": result.kept,
                        "view": result.view, "next": next_steps})
            return
        for line in result.added:
            info(f"added  {line}")
        for line in result.kept:
            info(f"kept   {line}")
        if not result.added:
            info("nothing to do: Feature Warehouse is already set up here")
        info("Next:")
        for line in next_steps:
            info(f"  {line}")
