"""Bearer tokens for the feature server: who may read which feature services and views.

Tokens come from the environment (``FW_SERVE_TOKEN``: one token that reads
everything) or from a token file (``fwctl serve --token-file``), never from the
command line, where any user of the machine could read them in the process list::

    tokens:
      - name: fraud-scoring              # shown in logs and errors; the secret never is
        sha256: 9f86d08...               # hex SHA-256 of the token (or `token: <the secret>`)
        services: [fraud_model]          # feature services it may request ("*": all)
        views: [merchant_risk_features]  # feature views it may read by ref ("*": all)
        scopes: [read]

Only SHA-256 digests are held in memory. A presented token is hashed once and
compared with every digest by ``hmac.compare_digest`` (no early exit), so the
answer time says nothing about how much of a token was right.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from featurewarehouse.errors import ConfigError

TOKEN_ENV = "FW_SERVE_TOKEN"
TOKEN_FILE_ENV = "FW_SERVE_TOKEN_FILE"
SCOPES = ("read",)
ALL = "*"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOKEN_KEYS = ("name", "sha256", "token", "services", "views", "scopes")
_MAX_CACHED = 4096


def digest(secret: str) -> str:
    """The hex SHA-256 a token file stores for ``secret`` (``fwctl serve`` never needs the secret itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    name: str
    sha256: bytes  # the hex digest, as bytes for compare_digest
    services: frozenset[str]
    views: frozenset[str]
    scopes: frozenset[str]

    def may_read_service(self, service: str) -> bool:
        return ALL in self.services or service in self.services

    def may_read_views(self, views: Iterable[str]) -> bool:
        return ALL in self.views or all(v in self.views for v in views)


class Denied(Exception):
    """A request the tokens do not allow: ``status`` 401 (who are you?) or 403 (not yours)."""

    def __init__(self, status: int, detail: str, hint: str):
        super().__init__(detail)
        self.status, self.detail, self.hint = status, detail, hint


class TokenSet:
    """The tokens a server accepts, and the scope checks of one request."""

    def __init__(self, tokens: Iterable[Token], source: str):
        self.tokens = tuple(tokens)
        self.source = source  # where they came from, for messages (never the secrets)
        self._decisions: dict[tuple, bool] = {}

    @classmethod
    def from_secret(cls, secret: str, source: str = f"env {TOKEN_ENV}") -> "TokenSet":
        """One token that reads every service and view (``FW_SERVE_TOKEN``)."""
        return cls([Token("env", digest(secret).encode(), frozenset({ALL}), frozenset({ALL}), frozenset(SCOPES))], source)

    def authenticate(self, authorization: str) -> Token:
        """The token an ``Authorization`` header presents; :class:`Denied` (401) when none matches."""
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Denied(401, "missing bearer token", f"send Authorization: Bearer <token> (tokens from {self.source})")
        presented = digest(secret.strip()).encode()
        found = None
        for token in self.tokens:  # every digest compared: the time does not depend on which matched
            if hmac.compare_digest(presented, token.sha256):
                found = token
        if found is None:
            raise Denied(401, "wrong bearer token", f"send a token from {self.source}")
        return found

    def authorize(self, token: Token, features: Any, service: str | None) -> None:
        """:class:`Denied` (403) unless ``token`` may read the service (or every view it names) / the features' views."""
        key = (token.name, service, features if service is not None else tuple(features))
        allowed = self._decisions.get(key)
        if allowed is None:
            views = {str(f).split(":", 1)[0] for f in features}
            allowed = "read" in token.scopes and (
                (service is not None and token.may_read_service(service)) or token.may_read_views(views))
            if len(self._decisions) >= _MAX_CACHED:  # a client sending new feature lists must not grow the server
                self._decisions = {}
            self._decisions[key] = allowed
        if not allowed:
            what = f"feature service {service!r}" if service is not None else "feature view(s) " + ", ".join(
                sorted({str(f).split(":", 1)[0] for f in features}))
            raise Denied(403, f"token {token.name!r} may not read {what}",
                         f"ask for a token whose services/views include it (tokens from {self.source})")


def load_token_file(path: str | Path) -> TokenSet:
    """A token file (YAML or JSON, ``{tokens: [...]}``) checked whole: every problem names the token and key."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc.strerror or exc}",
                          hint="pass --token-file with a readable file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"the token file {path} is not valid YAML/JSON: {exc}") from None
    entries = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"the token file {path} has no `tokens` list",
                          hint="write tokens: [{name: ..., sha256: ..., services: [...], views: [...], scopes: [read]}]")
    tokens, problems, names, digests = [], [], set(), set()
    for i, entry in enumerate(entries):
        at = f"tokens[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{at}: must be a mapping")
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"{at}: `name` is missing")
            continue
        at = f"{at} ({name})"
        if name in names:
            problems.append(f"{at}: the name is used twice")
        names.add(name)
        unknown = sorted(set(map(str, entry)) - set(_TOKEN_KEYS))
        if unknown:
            problems.append(f"{at}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_TOKEN_KEYS)})")
        if ("sha256" in entry) == ("token" in entry):
            problems.append(f"{at}: give exactly one of `sha256` (hex SHA-256 of the token, preferred) and `token`")
            continue
        if "token" in entry:
            secret = entry["token"]
            if not isinstance(secret, str) or len(secret) < 16:
                problems.append(f"{at}: `token` must be a string of at least 16 characters")
                continue
            hexdigest = digest(secret)
        else:
            hexdigest = str(entry["sha256"]).lower()
            if not _HEX64.fullmatch(hexdigest):
                problems.append(f"{at}: `sha256` must be 64 hex digits "
                                "(python -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' TOKEN)")
                continue
        if hexdigest in digests:
            problems.append(f"{at}: the same token as another entry")
        digests.add(hexdigest)
        lists = {}
        for key in ("services", "views", "scopes"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                problems.append(f"{at}: `{key}` must be a list of names")
                value = []
            lists[key] = frozenset(value)
        if not lists["services"] and not lists["views"]:
            problems.append(f"{at}: grants nothing: list `services` and/or `views` (\"*\" for all)")
        bad = sorted(lists["scopes"] - set(SCOPES))
        if bad:
            problems.append(f"{at}: unknown scope(s) {', '.join(bad)}; the server supports: {', '.join(SCOPES)}")
        if "read" not in lists["scopes"]:
            problems.append(f"{at}: `scopes` must include read")
        tokens.append(Token(name, hexdigest.encode(), lists["services"], lists["views"], lists["scopes"]))
    if problems:
        raise ConfigError(f"the token file {path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return TokenSet(tokens, f"token file {path}")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
