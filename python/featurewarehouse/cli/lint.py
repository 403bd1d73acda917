"""``fwctl lint``: static leak checks on feature-view SQL."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from featurewarehouse.cli import options


def register(app: typer.Typer) -> None:
    @app.command("lint")
    def lint(
        select: Optional[List[str]] = options.Select,
        json_: bool = options.Json,
        project_dir: Optional[Path] = options.ProjectDir,
    ) -> None:
        """Flag feature-view SQL that likely leaks the future; exit 1 on any error finding.

        Rules: FW001 lead(), FW002 frames with FOLLOWING, FW003 windows not ordered by the
        view's timestamp, FW004 reads of label models, FW005 aggregates over a whole partition,
        FW006 GROUP BY aggregates with no time bound. Silence a reviewed line with a
        `-- fw-lint: ignore=FW003` comment on it.
        """
        from featurewarehouse.cli.output import console, print_json, print_table, warn
        from featurewarehouse.errors import ChecksFailed
        from featurewarehouse.registry import load_registry
        from featurewarehouse.registry.lint import ERROR, lint_registry

        findings, skipped = lint_registry(load_registry(options.resolve(project_dir)), select or None)
        errors = sum(1 for f in findings if f.severity == ERROR)
        if json_:
            print_json({"findings": [f.to_dict() for f in findings], "not_linted": skipped, "errors": errors})
        else:
            for name in skipped:
                warn(f"{name}: not linted (no SQL in the registry; rebuild with `fwctl registry build --compile`)")
            if findings:
                print_table(("severity", "rule", "model", "line", "construct", "why"), (
                    (f.severity, f.rule, f.model, f"{f.file}:{f.line}" if f.line else f.file, f.construct, f.message)
                    for f in findings))
            else:
                console.print("no findings", highlight=False, markup=False)
        if errors:
            raise ChecksFailed(f"lint found {errors} error(s) in feature-view SQL",
                               hint="fix the SQL, or add `-- fw-lint: ignore=RULE` on a reviewed line")
