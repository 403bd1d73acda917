"""Monitoring results as history under ``target/fw_monitor/``.

- ``history/<UTC time>.json``: one file per ``fwctl monitor`` run (every view it
  checked, with the registry version), created once and never rewritten;
- ``latest.json``: each view's most recent result, which the serving gate reads
  for blocking breaches and the plots read for freshness over time.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Iterable

from featurewarehouse.config import ProjectConfig
from featurewarehouse.files import atomic_write, read_json_object

MONITOR_DIR = "fw_monitor"
LATEST = "latest.json"


def monitor_dir(config: ProjectConfig) -> Path:
    return config.target_path / MONITOR_DIR


def history_dir(config: ProjectConfig) -> Path:
    return monitor_dir(config) / "history"


def append(config: ProjectConfig, results: Iterable[Any], now: _dt.datetime) -> Path:
    """Write this run's history file (a new name; an existing one is never replaced) and
    merge its views into ``latest.json``."""
    from featurewarehouse.validation.report import registry_version

    views = {r.view: r.to_dict() for r in results}
    stamp = now.astimezone(_dt.timezone.utc)
    data = {"checked_at": stamp.isoformat(), "registry_version": registry_version(config),
            "target": config.target, "views": views}
    folder = history_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    base = stamp.strftime("%Y%m%dT%H%M%S%fZ")
    path, n = folder / f"{base}.json", 1
    while path.exists():  # two runs in one microsecond: keep both
        path, n = folder / f"{base}-{n}.json", n + 1
    atomic_write(path, json.dumps(data, indent=2, default=str) + "\n")
    latest = load_latest(config)
    for name, record in views.items():
        latest.setdefault("views", {})[name] = {**record, "checked_at": stamp.isoformat(), "history": path.name}
    latest["updated_at"] = stamp.isoformat()
    atomic_write(monitor_dir(config) / LATEST, json.dumps(latest, indent=2, default=str) + "\n")
    return path


def load_latest(config: ProjectConfig) -> dict[str, Any]:
    return read_json_object(monitor_dir(config) / LATEST)


def runs(config: ProjectConfig) -> list[dict[str, Any]]:
    """Every run in the history, oldest first."""
    out = []
    for path in sorted(history_dir(config).glob("*.json")):
        try:
            out.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return out


def blocking_breaches(config: ProjectConfig) -> dict[str, str]:
    """View -> why its latest monitor run refuses serving (only views with a blocking breach)."""
    out = {}
    for view, record in (load_latest(config).get("views") or {}).items():
        blocking = [b for b in record.get("breaches") or [] if b.get("blocking")]
        if blocking:
            out[view] = (f"a blocking monitor breached in `fwctl monitor` at {record.get('checked_at', '?')}: "
                         + "; ".join(b.get("text", b.get("metric", "?")) for b in blocking))
    return out
