"""Errors that say what is wrong, where, and how to fix it.

Library code raises these; only ``cli/main.py`` turns them into output and exit
codes (0 ok, 1 checks failed, 2 usage/configuration, 3 internal).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]+)@")


def redact(text: str) -> str:
    """Hide passwords in any URL inside ``text``.

    >>> redact("redis://user:s3cret@host:6379/0")
    'redis://user:***@host:6379/0'
    >>> redact("rediss://:s3cret@host/0")
    'rediss://:***@host/0'
    """
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


class FwError(Exception):
    """Base error. ``where`` names the file/model/column; ``hint`` says how to fix it."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(redact(message))
        self.message = redact(message)
        self.where = redact(where) if where else None
        self.hint = redact(hint) if hint else None

    def __str__(self) -> str:
        lines = [self.message]
        if self.where:
            lines.append(f"at: {self.where}")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class ConfigError(FwError):
    """Bad configuration or usage: exit 2."""


class MetadataError(FwError):
    """Bad model metadata (YAML ``config.meta.fw``): exit 2."""


@dataclass(frozen=True)
class Problem:
    """One problem among several, reported all at once."""

    message: str
    where: str | None = None
    hint: str | None = None

    def render(self) -> str:
        return str(FwError(self.message, where=self.where, hint=self.hint))


class ProblemsError(FwError):
    """Several problems found in one pass (e.g. registry validation)."""

    def __init__(self, problems: list[Problem], *, summary: str = "found problems"):
        self.problems = list(problems)
        super().__init__(f"{summary}: {len(self.problems)}")

    def __str__(self) -> str:
        body = "\n".join(f"- {p.render()}".replace("\n", "\n  ") for p in self.problems)
        return f"{self.message}\n{body}"


class ChecksFailed(FwError):
    """The command ran but checks failed (validation, refused sync): exit 1."""

    exit_code = 1


class ServiceUnavailable(FwError):
    """A warehouse or online store cannot be reached: exit 2 (fix the URL or start it)."""
