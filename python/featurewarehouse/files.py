"""Atomic file writes (a reader sees the old file or the new one, never a part), and JSON records read back."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, text: str | bytes) -> Path:
    """Write atomically: a temp file in the same directory, fsync, then os.replace.

    The temp file has a unique name (concurrent writers do not collide) and is
    removed when the write fails; the target is then left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_json_object(path: Path) -> dict:
    """A JSON object file as a dict; {} when it is missing, unreadable or not an object
    (a record the next write replaces)."""
    import json

    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
