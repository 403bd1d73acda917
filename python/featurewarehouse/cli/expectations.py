"""``fwctl expectations generate``: write the Great Expectations suites from YAML metadata."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Great Expectations suites (expectations/<model>.json), one per model.", no_args_is_help=True)
    app.add_typer(group, name="expectations")

    @group.command("generate")
    def generate_cmd(
        select: Optional[List[str]] = options.Select,
        parse: bool = typer.Option(True, "--parse/--no-parse", help="Run `dbt parse` first so YAML edits count."),
        json_out: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Write or update expectations/<model>.json from each model's YAML metadata.

        Generated expectations (meta.fw_generated: true) are replaced; hand-written ones
        in the same file are kept. Running it twice changes nothing.
        """
        from featurewarehouse.cli.output import print_json, print_table, warn
        from featurewarehouse.validation.run import generate

        config = options.resolve(project_dir, profiles_dir, target)
        result = generate(config, select, parse=parse)
        if json_out:
            print_json({
                "suites": [
                    {"model": c.model, "path": str(c.path), "status": c.status,
                     "generated": c.generated, "hand_written": c.hand_written}
                    for c in result.changes
                ],
                "orphans": [str(p) for p in result.orphans],
            })
            return
        print_table(
            ("model", "suite", "status", "generated", "hand-written"),
            ((c.model, str(c.path.relative_to(config.project_dir)), c.status, c.generated, c.hand_written)
             for c in result.changes),
            title="expectation suites",
        )
        for path in result.orphans:
            warn(f"{path.relative_to(config.project_dir)} names no model (renamed or deleted?); delete it if unused")
