"""Errors that say what is wrong, where, and how to fix it.

Library code raises these; only ``cli/main.py`` turns them into output and exit
codes (0 ok, 1 checks failed, 2 usage/configuration, 3 internal).
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from urllib.parse import quote, unquote

_MASK = "***"
# query parameters that carry a secret in the URLs users paste (libpq's `password`, tokens)
_SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "secret", "token", "sslpassword", "access_token"})
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_MAX_SCHEME = 32
_WHITESPACE = re.compile(r"(\s+)")
# Every secret a URL has been seen with, in the forms it can be printed in. A library error
# can echo a password outside of any URL (a parser quoting the "port" it could not read, a
# driver quoting its connection string): once redact_url() has seen the URL, redact() hides
# those too. Bounded: a process opens a handful of stores.
_KNOWN_SECRETS: dict[str, None] = {}
_MAX_KNOWN = 256
# shorter pieces would mask ordinary words of every later message
_MIN_SECRET = 3
_MIN_FRAGMENT = 4
_lock = threading.Lock()


def redact_url(url: str) -> str:
    """``url`` with its password (and secret query parameters) replaced by ``***``.

    The URL is parsed, not matched: the user part ends at the *last* ``@``, so a
    password holding ``@``, ``:``, ``/``, ``?``, ``#`` or ``%``-escapes is hidden whole,
    whether or not it was percent-encoded. When an ``@`` appears only after the host
    (in a query), the part before it is hidden too: better too much than a leak. The secrets are remembered so :func:`redact` also hides them where an
    error message quotes them outside a URL.

    >>> redact_url("redis://user:s3cret@host:6379/0")
    'redis://user:***@host:6379/0'
    >>> redact_url("rediss://:spe@cial:pw/Q@127.0.0.1/0")
    'rediss://:***@127.0.0.1/0'
    >>> redact_url("postgresql://me@db/x?sslmode=require&password=hunter2")
    'postgresql://me@db/x?sslmode=require&password=***'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, after = rest.rpartition("@")
    if userinfo.startswith("[") and after.startswith("]"):
        return url  # the documentation idiom redis://[:password@]host (brackets are no userinfo)
    secrets: list[str] = []
    if not at:
        userinfo, after = "", rest
    else:
        user, colon, password = userinfo.partition(":")
        if colon:
            secrets.append(password)
            userinfo = f"{user}:{_MASK}"
        userinfo += "@"
    after = _redact_query(after, secrets)
    # An '@' behind a plain host:port (in a query) is hidden as well, but not remembered as a secret.
    if secrets and ("@" in re.split(r"[/?#]", rest, maxsplit=1)[0] or not _looks_like_host(rest)):
        _remember(secrets)
    return f"{scheme}://{userinfo}{after}"


def _looks_like_host(rest: str) -> bool:
    """``host:port`` before the first delimiter (so a later '@' is not the end of a password)."""
    head = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host, colon, port = head.partition(":")
    return bool(host) and (not colon or port.isdigit())


def _redact_query(after: str, secrets: list[str]) -> str:
    head, q, query = after.partition("?")
    if not q:
        return after
    query, hash_, fragment = query.partition("#")
    parts = []
    for part in query.split("&"):
        name, eq, value = part.partition("=")
        if eq and unquote(name).lower() in _SECRET_PARAMS and value:
            secrets.append(value)
            part = f"{name}={_MASK}"
        parts.append(part)
    return f"{head}?{'&'.join(parts)}{hash_}{fragment}"


def _remember(secrets: list[str]) -> None:
    forms: set[str] = set()
    for raw in secrets:
        decoded = unquote(raw)
        for form in (raw, decoded, quote(decoded, safe=""), quote(decoded), quote(raw, safe="")):
            if len(form) >= _MIN_SECRET:
                forms.add(form)
            # what a URL parser quotes when an unencoded delimiter split the password (a "port")
            for chunk in re.split(r"[/?#@]", form):
                pieces = chunk.split(":")
                for i in range(len(pieces)):
                    forms.update(f for f in (":".join(pieces[i:]), ":".join(pieces[: i + 1])) if len(f) >= _MIN_FRAGMENT)
    with _lock:
        for form in forms:
            if form != _MASK and form not in _KNOWN_SECRETS:
                _KNOWN_SECRETS[form] = None
                while len(_KNOWN_SECRETS) > _MAX_KNOWN:
                    del _KNOWN_SECRETS[next(iter(_KNOWN_SECRETS))]


def redact(text: str) -> str:
    """Hide the passwords of every URL in ``text``, and every secret a URL was seen with.

    Each whitespace-separated word holding ``scheme://`` is parsed by :func:`redact_url`
    (linear time, whatever the text: messages echo names a client chose).

    >>> redact("cannot reach redis://:p@ss:w0rd@127.0.0.1:6379/0: refused")
    'cannot reach redis://:***@127.0.0.1:6379/0: refused'
    """
    if "://" in text:
        words = _WHITESPACE.split(text)
        for i, word in enumerate(words):
            at = word.find("://")
            if at <= 0:
                continue
            start = at
            while start > 0 and at - start < _MAX_SCHEME and word[start - 1] in _SCHEME_CHARS:
                start -= 1
            if start < at and word[start].isalpha():
                words[i] = word[:start] + redact_url(word[start:])
        text = "".join(words)
    if _KNOWN_SECRETS:
        with _lock:
            # longest first: a fragment never leaves the rest of its secret behind
            known = sorted(_KNOWN_SECRETS, key=len, reverse=True)
        for secret in known:
            if secret in text:
                text = text.replace(secret, _MASK)
    return text


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
