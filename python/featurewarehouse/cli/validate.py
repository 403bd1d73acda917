"""``fwctl validate``: run every model's suite in the warehouse."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from featurewarehouse.cli import options


def _short(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_cmd(
        select: Optional[List[str]] = options.Select,
        json_out: bool = options.Json,
        docs: bool = typer.Option(True, "--docs/--no-docs", help="Build Great Expectations Data Docs (HTML)."),
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Run each model's expectation suite in the warehouse (SQL, through Great Expectations).

        Exit 1 when an expectation fails or a model has no suite; 2 on configuration errors.
        Results: target/fw_validation/ (latest.json feeds the sync-online gate); Data Docs:
        target/fw_validation/data_docs/index.html.
        """
        from featurewarehouse.cli.output import console, info, print_json, print_table, progress
        from featurewarehouse.errors import ChecksFailed
        from featurewarehouse.validation.run import summary, validate

        config = options.resolve(project_dir, profiles_dir, target)
        bar = progress(transient=True)
        with bar:
            task = bar.add_task("validating", total=None, rate="")

            def on_model(name: str) -> None:
                bar.update(task, description=f"validating {name}", advance=1)

            run = validate(config, select, docs=docs, on_model=on_model)
        if json_out:
            print_json(run.to_dict())
        else:
            for r in run.results:
                status = "passed" if r.success else "FAILED"
                title = f"{r.model} ({r.relation}): {status}, {len(r.outcomes) - len(r.failed)}/{len(r.outcomes)} expectations, {r.seconds:.2f}s"
                if r.error:
                    console.print(f"{r.model}: FAILED: {r.error}", style="red", highlight=False, markup=False)
                    continue
                print_table(
                    ("expectation", "result", "unexpected", "sample values / observed"),
                    (
                        (
                            o.label + ("" if o.generated else " [hand-written]"),
                            "ok" if o.success else "FAIL",
                            "" if o.unexpected_count is None else f"{o.unexpected_count:,}",
                            _short(o.exception or (list(o.sample_values) if o.sample_values else o.observed_value)),
                        )
                        for o in r.outcomes
                    ),
                    title=title,
                )
            s = summary(run.results)
            console.print(
                f"{s['models'] - s['models_failed']}/{s['models']} models passed; "
                f"{s['expectations'] - s['expectations_failed']}/{s['expectations']} expectations passed; "
                f"{s['missing_suites']} missing suite(s)",
                highlight=False, markup=False,
            )
            info(f"results: {run.report_path}")
            if run.docs_index:
                info(f"data docs: {run.docs_index}")
        if not run.success:
            s = summary(run.results)
            failed = [r.model for r in run.results if not r.success]
            raise ChecksFailed(
                f"validation failed for {len(failed)} model(s): {', '.join(failed)}"
                + (f" ({s['missing_suites']} without a suite)" if s["missing_suites"] else ""),
                hint="see the tables above; missing suites: `fwctl expectations generate`",
            )
