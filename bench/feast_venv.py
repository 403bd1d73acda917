"""Feast's own virtualenv, for the benchmarks and tests that run Feast next to us (one home for it).

Feast pins versions of packages we share (pyarrow, pandas, pydantic, fastapi, duckdb through
ibis), so it never goes into our venv: it gets its own, built once from PyPI with
``feast[duckdb]==FEAST_VERSION`` (the SDK, `feast serve` and the DuckDB offline store) under
~/.cache/featurewarehouse, and reused. FW_FEAST_VENV points at another venv instead (it must
hold that same spec). A marker file records the spec a complete build installed; a venv built
for an older spec gets the missing packages added, an interrupted build is started again.

Used by tests/e2e/test_feast_sdk.py, bench/feast_serve.py and bench/pit_feast.py. Standard
library only.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

FEAST_VERSION = "0.67.0"
FEAST_SPEC = f"feast[duckdb]=={FEAST_VERSION}"
FEAST_VENV = Path(os.environ.get("FW_FEAST_VENV")
                  or Path.home() / ".cache" / "featurewarehouse" / f"feast-venv-{FEAST_VERSION}")


class FeastVenvError(RuntimeError):
    """Feast's venv could not be built (PyPI unreachable, a failed install)."""


def feast_python() -> Path:
    """Feast's interpreter, building or completing the venv first when its marker does not say FEAST_SPEC."""
    python = FEAST_VENV / "bin" / "python"
    marker = FEAST_VENV / ".fw-complete"
    done = marker.read_text().strip() if marker.is_file() else None
    if done == FEAST_SPEC:
        return python
    steps = []
    if done is None or not python.exists():
        shutil.rmtree(FEAST_VENV, ignore_errors=True)  # a half-built venv from an interrupted run
        FEAST_VENV.parent.mkdir(parents=True, exist_ok=True)
        steps.append([sys.executable, "-m", "venv", str(FEAST_VENV)])
    steps.append([str(python), "-m", "pip", "install", "-q", FEAST_SPEC])
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            raise FeastVenvError(
                f"cannot install {FEAST_SPEC} into {FEAST_VENV}: {result.stderr[-2000:]}\n"
                f"make PyPI reachable, or point FW_FEAST_VENV at a venv with {FEAST_SPEC}")
    marker.write_text(FEAST_SPEC)
    return python


if __name__ == "__main__":
    print(feast_python())
