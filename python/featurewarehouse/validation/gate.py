"""The serving gate: a feature view reaches the online store only when validated.

``fwctl sync-online`` calls :func:`check_views` (through :func:`make_gate`) before
it moves any row. A view is refused when

- it has never been validated (no record in ``target/fw_validation/latest.json``),
- its latest validation failed (the message names the failed expectations),
- dbt rebuilt it after it was validated (``run_results.json`` build time later
  than the validation), or
- its definition changed since (the manifest checksum differs from the one
  recorded at validation).

``--skip-validation`` bypasses the gate; the CLI says so loudly.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.errors import ChecksFailed, Problem
from featurewarehouse.validation import report
from featurewarehouse.validation.results import ModelValidation

MAX_NAMED_FAILURES = 5


@dataclass(frozen=True)
class GateVerdict:
    view: str
    allowed: bool
    reason: str = ""


def _checksums(config: ProjectConfig) -> dict[str, str]:
    from featurewarehouse.dbt import read_manifest

    try:
        manifest = read_manifest(config)
    except Exception:
        return {}
    return {
        n["name"]: (n.get("checksum") or {}).get("checksum", "")
        for n in (manifest.get("nodes") or {}).values()
        if n.get("resource_type") == "model"
    }


def _parse(ts: str | None) -> _dt.datetime | None:
    if not ts:
        return None
    value = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def verdicts(config: ProjectConfig, views: Iterable[str]) -> list[GateVerdict]:
    """Whether each view may be served, and why not."""
    latest = (report.load_latest(config).get("models")) or {}
    built = report.build_times(config)
    checksums = _checksums(config)
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
        validated = _parse(when)
        rebuilt = _parse(built.get(view))
        if rebuilt and validated and rebuilt > validated:
            out.append(GateVerdict(view, False, f"dbt rebuilt it at {rebuilt.isoformat()}, after its validation at {when}"))
            continue
        now_sum, then_sum = checksums.get(view), record.get("checksum")
        if now_sum and then_sum and now_sum != then_sum:
            out.append(GateVerdict(view, False, f"its definition changed since its validation at {when}"))
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
    refused = [v for v in verdicts(config, views) if not v.allowed]
    if not refused:
        return
    problems = [
        Problem(
            f"feature view {v.view!r} is not served: {v.reason}",
            where=str(report.report_dir(config) / report.LATEST),
            hint=f"run `dbt build --select {v.view}` then `fwctl validate --select {v.view}`; "
            "or pass --skip-validation to sync anyway",
        )
        for v in refused
    ]
    lines = "\n".join("- " + p.render().replace("\n", "\n  ") for p in problems)
    raise ChecksFailed(
        f"validation gate refused {len(refused)} feature view(s): "
        + ", ".join(v.view for v in refused) + "\n" + lines,
        hint="fix the data or the expectations, rebuild and validate; --skip-validation overrides",
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
