"""atomic_write: the target holds the old or the new content, and nothing else is left behind."""
from __future__ import annotations

import os
import threading

import pytest

from featurewarehouse.files import atomic_write


def test_writes_text_and_bytes_and_creates_the_folder(tmp_path):
    path = tmp_path / "a" / "b.json"
    assert atomic_write(path, "text\n") == path
    assert path.read_text() == "text\n"
    atomic_write(path, b"bytes\n")
    assert path.read_bytes() == b"bytes\n"
    assert os.listdir(path.parent) == ["b.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    path.write_text("old")

    def boom(src, dst):
        raise OSError("replace failed")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="replace failed"):
        atomic_write(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["x.json"]


def test_concurrent_writers_do_not_share_a_temp_file(tmp_path):
    path = tmp_path / "latest.json"
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for _ in range(50):
                atomic_write(path, f"{i}" * 1000)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_text() in {f"{i}" * 1000 for i in range(4)}
    assert os.listdir(tmp_path) == ["latest.json"]
