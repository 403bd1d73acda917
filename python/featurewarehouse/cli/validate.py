"""``fwctl validate``: run every model's suite in the warehouse."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Optional

import typer

from featurewarehouse.cli import options

if TYPE_CHECKING:
    from featurewarehouse.validation.results import ExpectationOutcome, ModelValidation
    from featurewarehouse.validation.run import ValidationRun

_DETAIL_COLUMNS = ("expectation", "result", "unexpected", "sample values / observed")


def _short(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _detail_row(o: "ExpectationOutcome") -> tuple[str, str, str, str]:
    return (
        o.label + ("" if o.generated else " [hand-written]"),
        "ok" if o.success else "FAIL",
        "" if o.unexpected_count is None else f"{o.unexpected_count:,}",
        _short(o.exception or (list(o.sample_values) if o.sample_values else o.observed_value)),
    )


def _model_row(r: "ModelValidation") -> tuple[str, str, str, str]:
    passed = len(r.outcomes) - len(r.failed)
    if r.error:
        return (r.model, "FAILED", "", "did not run (see above)")
    return (r.model, "passed" if r.success else "FAILED", f"{passed}/{len(r.outcomes)}", f"{r.seconds:.2f}s")


def render(run: "ValidationRun", *, verbose: bool = False) -> None:
    """Print a validation run for people.

    By default: the failed expectations of each failed model, one summary row per
    model, and the totals, so a run of hundreds of passing expectations fits a
    screen and the failures are not lost in it. ``verbose``: every expectation of
    every model, as well.
    """
    from featurewarehouse.cli.output import console, info, print_table
    from featurewarehouse.validation.run import summary

    for r in run.results:
        if r.error:
            # soft_wrap: the error ends with the command that fixes it; keep it on one line in a pipe
            console.print(f"{r.model}: FAILED: {r.error}", style="red", highlight=False, markup=False, soft_wrap=True)
            continue
        if not (verbose or r.failed):
            continue
        shown = r.outcomes if verbose else r.failed
        status = "passed" if r.success else "FAILED"
        title = (f"{r.model} ({r.relation}): {status}, "
                 f"{len(r.outcomes) - len(r.failed)}/{len(r.outcomes)} expectations, {r.seconds:.2f}s")
        print_table(_DETAIL_COLUMNS, (_detail_row(o) for o in shown), title=title)
    print_table(("model", "result", "expectations passed", "time / error"),
                (_model_row(r) for r in run.results), title="validation summary")
    s = summary(run.results)
    console.print(
        f"{s['models'] - s['models_failed']}/{s['models']} models passed; "
        f"{s['expectations'] - s['expectations_failed']}/{s['expectations']} expectations passed; "
        f"{s['missing_suites']} missing suite(s)",
        highlight=False, markup=False, soft_wrap=True,
    )
    if not verbose and run.success:
        info("every expectation passed (--verbose lists them)")
    info(f"results: {run.report_path}")
    if run.docs_index:
        info(f"data docs: {run.docs_index}")


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate_cmd(
        select: Optional[List[str]] = options.Select,
        json_out: bool = options.Json,
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every expectation, not only the failed ones."),
        docs: bool = typer.Option(True, "--docs/--no-docs", help="Build Great Expectations Data Docs (HTML)."),
        project_dir: Optional[Path] = options.ProjectDir,
        profiles_dir: Optional[Path] = options.ProfilesDir,
        target: Optional[str] = options.Target,
    ) -> None:
        """Run each model's expectation suite in the warehouse (SQL, through Great Expectations).

        Prints the failed expectations and a summary per model (--verbose: every
        expectation). Exit 1 when an expectation fails or a model has no suite; 2 on
        configuration errors. Results: target/fw_validation/ (latest.json feeds the
        sync-online gate); Data Docs: target/fw_validation/data_docs/index.html.
        """
        from featurewarehouse.cli.output import print_json, progress
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
            render(run, verbose=verbose)
        if not run.success:
            s = summary(run.results)
            failed = [r.model for r in run.results if not r.success]
            raise ChecksFailed(
                f"validation failed for {len(failed)} model(s): {', '.join(failed)}"
                + (f" ({s['missing_suites']} without a suite)" if s["missing_suites"] else ""),
                hint="the failed expectations are listed above (--verbose: all of them; --json: for scripts); "
                     "missing suites: `fwctl expectations generate`",
            )
