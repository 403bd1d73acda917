"""Validation records under ``target/``: one file per run and a ``latest.json`` per model.

``target/fw_validation/run-<UTC time>.json`` keeps a run (registry version,
time, target, every model's outcomes); ``latest.json`` keeps each model's most
recent result, so ``--select`` runs add to it and the serving gate reads it.
Each model's record carries what the gate compares later: the model's dbt
build time and definition checksum as they were when it was validated.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.files import atomic_write, read_json_object
from featurewarehouse.validation.results import ModelValidation

REPORT_DIR = "fw_validation"
LATEST = "latest.json"
DOCS_DIR = "fw_validation/data_docs"


def report_dir(config: ProjectConfig) -> Path:
    return config.target_path / REPORT_DIR


def docs_dir(config: ProjectConfig) -> Path:
    return config.target_path / DOCS_DIR


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def registry_version(config: ProjectConfig) -> str | None:
    """The built registry's content version, when a registry has been built."""
    path = config.registry_path
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("version") or None
    except (OSError, ValueError):
        return None


def build_times(config: ProjectConfig) -> dict[str, str]:
    """Model name -> when dbt last built it successfully, from ``run_results.json``.

    run_results only covers dbt's last invocation; a model missing from it was
    not rebuilt by that invocation.
    """
    path = config.target_path / "run_results.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for result in data.get("results") or []:
        uid = result.get("unique_id") or ""
        if not uid.startswith("model.") or result.get("status") != "success":
            continue
        finished = [t.get("completed_at") for t in result.get("timing") or [] if t.get("name") == "execute"]
        if finished and finished[-1]:
            out[uid.split(".")[-1]] = _as_utc_iso(finished[-1])
    return out


def _as_utc_iso(text: str) -> str:
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:  # dbt writes UTC without an offset
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat()


@dataclass(frozen=True)
class SavedRun:
    path: Path
    latest_path: Path
    data: dict[str, Any]


def save_run(
    config: ProjectConfig,
    results: Iterable[ModelValidation],
    *,
    checksums: dict[str, str],
    validated_at: _dt.datetime,
    docs_index: Path | None = None,
    fingerprints: dict[str, dict[str, Any]] | None = None,
) -> SavedRun:
    """Write the run file and merge its models into ``latest.json`` (atomically).

    ``fingerprints`` (model -> fields, see :func:`featurewarehouse.validation.gate.fingerprint`)
    go into each model's record for the serving gate to compare later.
    """
    results = list(results)
    built = build_times(config)
    stamp = validated_at.astimezone(_dt.timezone.utc)
    models = {}
    for r in results:
        record = r.to_dict()
        record["validated_at"] = stamp.isoformat()
        record["built_at"] = built.get(r.model)
        record["checksum"] = checksums.get(r.model, "")
        record.update((fingerprints or {}).get(r.model) or {})
        models[r.model] = record
    data = {
        "validated_at": stamp.isoformat(),
        "registry_version": registry_version(config),
        "target": config.target,
        "success": all(r.success for r in results),
        "data_docs": str(docs_index) if docs_index else None,
        "models": models,
    }
    folder = report_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    run_path = folder / f"run-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    _write(run_path, data)
    latest_path = folder / LATEST
    latest = load_latest(config)
    latest.setdefault("models", {}).update(models)
    latest["updated_at"] = stamp.isoformat()
    latest["registry_version"] = data["registry_version"]
    latest["target"] = config.target
    _write(latest_path, latest)
    return SavedRun(run_path, latest_path, data)


def load_latest(config: ProjectConfig) -> dict[str, Any]:
    """``latest.json`` as a dict (empty when nothing was validated yet)."""
    return read_json_object(report_dir(config) / LATEST)


def _write(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(data, indent=2, default=str) + "\n")
