"""The serving gate: a feature view reaches the online store only when validated.

``fwctl sync-online`` calls :func:`check_views` (through :func:`make_gate`) before
it moves any row. A view is refused when

- it has never been validated (no record in ``target/fw_validation/latest.json``),
- its latest validation failed (the message names the failed expectations),
- something its passing validation vouched for changed since (the message
  names each): dbt rebuilt it (its data: ``run_results.json`` build time later
  than the validation), its SQL (the manifest checksum), its suite file
  (``expectations/<view>.json``, by content hash) or the checks its YAML
  declares (a hash of the expectations they generate, from the manifest), or
- a monitor marked ``blocking: true`` breached in its latest ``fwctl monitor``
  run (one gate for validation and monitoring).

:func:`fingerprint` is what validation records so that the comparison can be
made later; a record written before it existed is refused (validate again).

``--skip-validation`` bypasses the gate; the CLI says so loudly.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ChecksFailed, Problem
from featurewarehouse.validation import report, suites
from featurewarehouse.validation.results import ModelValidation

MAX_NAMED_FAILURES = 5


@dataclass(frozen=True)
class GateVerdict:
    view: str
    allowed: bool
    reason: str = ""
    monitor: bool = False  # refused by a blocking monitor, not by validation


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def suite_hash(project_dir: Any, model: str) -> str | None:
    """The content hash of ``expectations/<model>.json``; None when the file is missing."""
    path = suites.suite_path(project_dir, model)
    return _sha256(path.read_bytes()) if path.is_file() else None


def checks_hash(spec: suites.ModelSpec) -> str:
    """A hash of what the model's YAML checks generate: tightening ``max: 1`` to
    ``max: 0.1`` changes it, a description edit does not."""
    text = json.dumps(suites.generate_expectations(spec), sort_keys=True, default=str)
    return _sha256(text.encode())


def fingerprint(config: ProjectConfig, spec: suites.ModelSpec) -> dict[str, str | None]:
    """What a passing validation vouches for, recorded with its result."""
    return {
        "checksum": spec.checksum,
        "suite_sha256": suite_hash(config.project_dir, spec.name),
        "checks_sha256": checks_hash(spec),
    }


def _current_specs(config: ProjectConfig) -> dict[str, suites.ModelSpec] | None:
    """The models as the manifest describes them now; None when there is no manifest."""
    from featurewarehouse.dbt import read_manifest

    try:
        manifest = read_manifest(config)
    except Exception:
        return None
    return {s.name: s for s in suites.specs_from_manifest(manifest, config.entities)}


def _changes(config: ProjectConfig, view: str, record: dict[str, Any], spec: suites.ModelSpec | None,
             rebuilt: _dt.datetime | None, validated: _dt.datetime | None) -> list[str]:
    """Everything that changed since the passing validation ``record``, in words."""
    changed: list[str] = []
    if rebuilt and validated and rebuilt > validated:
        changed.append(f"dbt rebuilt it at {rebuilt.isoformat()} (its data may differ)")
    if spec is None:
        changed.append("it is not in the dbt manifest (run `dbt parse`)")
        return changed
    then_sum = record.get("checksum")
    if spec.checksum and then_sum and spec.checksum != then_sum:
        changed.append("its definition (SQL) changed")
    if "suite_sha256" not in record or "checks_sha256" not in record:
        changed.append("its validation record predates suite and check fingerprints")
        return changed
    now_suite = suite_hash(config.project_dir, view)
    rel = f"{suites.SUITES_DIR}/{view}.json"
    if now_suite is None:
        changed.append(f"its suite {rel} was removed")
    elif now_suite != record["suite_sha256"]:
        changed.append(f"its suite {rel} changed")
    if checks_hash(spec) != record["checks_sha256"]:
        changed.append(
            "the checks its YAML declares changed"
            + ("" if now_suite != record["suite_sha256"] else
               f" (and {rel} was not regenerated: run `fwctl expectations generate --select {view}`)")
        )
    return changed


def _parse(ts: str | None) -> _dt.datetime | None:
    if not ts:
        return None
    value = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def verdicts(config: ProjectConfig, views: Iterable[str]) -> list[GateVerdict]:
    """Whether each view may be served, and why not."""
    from featurewarehouse.monitoring.history import blocking_breaches

    latest = (report.load_latest(config).get("models")) or {}
    built = report.build_times(config)
    specs = _current_specs(config)
    breaches = blocking_breaches(config)
    out = []
    for view in views:
        record = latest.get(view)
        if record is None:
            out.append(GateVerdict(view, False, "it has never been validated"))
            continue
        result = ModelValidation.from_dict(record)
        when = record.get("validated_at", "?")
        if not result.success:
            if result.error:
                reason = f"its latest validation ({when}) did not run: {result.error}"
            else:
                names = [_describe(o) for o in result.failed]
                more = len(names) - MAX_NAMED_FAILURES
                listed = "; ".join(names[:MAX_NAMED_FAILURES]) + (f"; and {more} more" if more > 0 else "")
                reason = f"its latest validation ({when}) failed {len(names)} expectation(s): {listed}"
            out.append(GateVerdict(view, False, reason))
            continue
        if specs is None:
            out.append(GateVerdict(view, False, "the dbt manifest cannot be read, so changes since its "
                                   f"validation at {when} cannot be ruled out (run `dbt parse`)"))
            continue
        changed = _changes(config, view, record, specs.get(view), _parse(built.get(view)), _parse(when))
        if changed:
            out.append(GateVerdict(view, False, f"since its passing validation at {when}: " + "; ".join(changed)))
            continue
        if view in breaches:
            out.append(GateVerdict(view, False, breaches[view], monitor=True))
            continue
        out.append(GateVerdict(view, True))
    return out


def _describe(outcome: Any) -> str:
    text = outcome.label
    if outcome.unexpected_count:
        text += f" ({outcome.unexpected_count} unexpected"
        if outcome.sample_values:
            text += ", e.g. " + ", ".join(repr(v) for v in outcome.sample_values[:3])
        text += ")"
    elif outcome.exception:
        text += f" (error: {outcome.exception})"
    elif outcome.observed_value is not None:
        text += f" (observed {outcome.observed_value!r})"
    return text


def check_views(config: ProjectConfig, views: Iterable[str]) -> None:
    """Raise :class:`ChecksFailed` (exit 1) naming every refused view and why."""
    from featurewarehouse.monitoring.history import LATEST as MONITOR_LATEST, monitor_dir

    refused = [v for v in verdicts(config, views) if not v.allowed]
    if not refused:
        return
    monitor_latest = monitor_dir(config) / MONITOR_LATEST
    problems = [
        Problem(
            f"feature view {v.view!r} is not served: {v.reason}",
            where=str(monitor_latest if v.monitor else report.report_dir(config) / report.LATEST),
            hint=(f"fix the drift or the data, then `fwctl monitor --select {v.view}`; "
                  if v.monitor else
                  f"run `dbt build --select {v.view}` then `fwctl validate --select {v.view}`; ")
            + "or pass --skip-validation to sync anyway",
        )
        for v in refused
    ]
    lines = "\n".join("- " + p.render().replace("\n", "\n  ") for p in problems)
    raise ChecksFailed(
        f"validation gate refused {len(refused)} feature view(s): "
        + ", ".join(v.view for v in refused) + "\n" + lines,
        hint="fix the data, the expectations or the drift, rebuild, validate and monitor; "
        "--skip-validation overrides",
    )


def make_gate(config: ProjectConfig) -> Callable[[Iterable[Any]], None]:
    """The :data:`featurewarehouse.online.sync.Gate` for ``sync-online``.

    It takes the feature views about to be synced (records or names) and
    refuses the whole sync, before any write, when one of them may not be
    served, so the online store never mixes validated and unvalidated views
    from one run.
    """

    def _gate(views: Iterable[Any]) -> None:
        check_views(config, [getattr(v, "name", v) for v in views])

    return _gate
