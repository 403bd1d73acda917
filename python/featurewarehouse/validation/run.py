"""The two library entry points the CLI calls: generate suites, validate models."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.validation import gate, report, suites
from featurewarehouse.validation.results import ModelValidation


@dataclass(frozen=True)
class GenerateResult:
    changes: tuple[suites.SuiteChange, ...]
    orphans: tuple[Path, ...]


def generate(config: ProjectConfig, select: Iterable[str] | None = None, *, parse: bool = True) -> GenerateResult:
    """Write or update the suites of the selected models (all by default) from YAML metadata."""
    specs = suites.load_model_specs(config, parse=parse)
    chosen = suites.select_specs(specs, select)
    changes = suites.write_suites(config.project_dir, chosen)
    return GenerateResult(tuple(changes), tuple(suites.orphan_suites(config.project_dir, specs)))


@dataclass(frozen=True)
class ValidationRun:
    results: tuple[ModelValidation, ...]
    report_path: Path
    docs_index: Path | None
    registry_version: str | None
    validated_at: str

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def missing_suites(self) -> tuple[str, ...]:
        return tuple(r.model for r in self.results if r.error and r.error.startswith(MISSING))

    def to_dict(self) -> dict:
        return {
            "success": self.success,
            "validated_at": self.validated_at,
            "registry_version": self.registry_version,
            "report": str(self.report_path),
            "data_docs": str(self.docs_index) if self.docs_index else None,
            "models": [r.to_dict() for r in self.results],
            "summary": summary(self.results),
        }


MISSING = "no expectation suite"


def summary(results: Iterable[ModelValidation]) -> dict[str, int]:
    results = list(results)
    return {
        "models": len(results),
        "models_failed": sum(1 for r in results if not r.success),
        "missing_suites": sum(1 for r in results if r.error and r.error.startswith(MISSING)),
        "expectations": sum(len(r.outcomes) for r in results),
        "expectations_failed": sum(len(r.failed) for r in results),
    }


def validate(
    config: ProjectConfig,
    select: Iterable[str] | None = None,
    *,
    docs: bool = True,
    on_model: Callable[[str], None] | None = None,
) -> ValidationRun:
    """Run every selected model's suite in the warehouse and save the results under target/.

    A model without a suite file is a failure (the coverage gate). A malformed
    suite file raises :class:`MetadataError` naming it, before anything runs.
    """
    from featurewarehouse.validation.runner import SuiteJob, run_suites

    specs = suites.select_specs(suites.load_model_specs(config), select)
    jobs: list[SuiteJob] = []
    missing: dict[str, ModelValidation] = {}
    for spec in specs:
        path = suites.suite_path(config.project_dir, spec.name)
        rel = str(path.relative_to(config.project_dir))
        if not path.is_file():
            missing[spec.name] = ModelValidation(
                spec.name, spec.relation, rel,
                error=f"{MISSING}: {rel} does not exist (run `fwctl expectations generate --select {spec.name}`)",
            )
            continue
        jobs.append(SuiteJob(spec.name, spec.schema, spec.table, spec.relation, suites.read_suite(path), rel))
    # What the run vouches for, taken before it runs: a suite edited meanwhile is not vouched for.
    fingerprints = {s.name: gate.fingerprint(config, s) for s in specs}
    started = report.utcnow()
    docs_path = report.docs_dir(config) if docs else None
    output = run_suites(config, jobs, docs_dir=docs_path, on_model=on_model) if jobs else None
    ran = {r.model: r for r in (output.results if output else ())}
    results = tuple(ran.get(s.name) or missing[s.name] for s in specs)
    saved = report.save_run(
        config, results,
        checksums={s.name: s.checksum for s in specs},
        fingerprints=fingerprints,
        validated_at=started,
        docs_index=output.docs_index if output else None,
    )
    return ValidationRun(
        results=results,
        report_path=saved.path,
        docs_index=output.docs_index if output else None,
        registry_version=saved.data["registry_version"],
        validated_at=saved.data["validated_at"],
    )
