"""The admin API's tokens: which ones the server takes, and what each may do.

Two settings name them; with neither, the server asks for no token at all:

- ``admin_token`` (``FLYRAY_ADMIN_TOKEN``): one token, given in clear, with every right.
- ``admin_tokens_file`` (``FLYRAY_ADMIN_TOKENS_FILE``): a file of scoped tokens, stored
  hashed, one per line as ``<scope>:<hash>``; blank lines and ``#`` comments are
  ignored. ``python -m serve.api.tokens <scope>`` reads a token on its standard input and
  prints its line (make tokens with e.g. ``python -c "import secrets;
  print(secrets.token_urlsafe(32))"``).

Scopes, each with the rights of the one before:

- ``read``: GET and HEAD of every route (``/api/v1``, ``/openapi.json``, ``/docs``), and
  the console's pages;
- ``write``: every other call too (registrations, launches, relaunches and recoveries,
  terminations, launch plan activation, signals) and the console's forms;
- ``admin``: also the calls that change the server for everyone: creating a project
  (``POST /api/v1/projects``) and draining the executors (``POST /api/v1/executors/drain``).

Rotation: several tokens are valid at once; the file is read again whenever it changes
(its modification time, size or inode; checked on every request), so adding a new line,
moving clients over and deleting the old line ends the old token, and every console
session signed in with it, without a restart. ``admin_token`` changes with a restart.

Invariant: what the server keeps of a token is ``sha256(session_value(token))``, where
``session_value`` is an HMAC keyed by the token. The console's session cookie holds the
session value: so neither the cookie (it is not a bearer token) nor the file (its hashes
are not cookies) gives the token or a session away. Every comparison is
``hmac.compare_digest`` over every entry. Tokens should be long random strings: a fast
hash is then as good as a slow one.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from engine.config import Settings
from engine.errors import ConfigError

log = logging.getLogger(__name__)

SESSION_COOKIE = "flyray_session"  # the console's; holds session_value(token)
_SESSION_SALT = b"flyray-console-session-v1"  # unchanged: sessions of admin_token stay valid
_HEX = frozenset("0123456789abcdef")


class Scope(enum.IntEnum):
    """What a token may do; a higher scope has every right of a lower one."""

    READ = 1
    WRITE = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def session_value(token: str) -> str:
    """The console's session cookie for ``token``: a keyed hash, never the token."""
    return hmac.new(token.encode(), _SESSION_SALT, hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """What a tokens file keeps of ``token`` (hex)."""
    return hashlib.sha256(session_value(token).encode()).hexdigest()


Entries = tuple[tuple[Scope, bytes], ...]


def parse_tokens(text: str, source: str) -> Entries:
    """The ``(scope, sha256 digest)`` entries of a tokens file's ``text``.

    Raises:
        ConfigError: a line is not ``<scope>:<64 hex digits>``, or a hash is there twice.
    """
    entries: list[tuple[Scope, bytes]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        label, _, digest = content.partition(":")
        scope = Scope.__members__.get(label.strip().upper())
        digest = digest.strip().lower()
        if scope is None or len(digest) != 64 or not set(digest) <= _HEX:
            raise ConfigError(
                f"{source}, line {number}: expected '<scope>:<hash>' with a scope of read, "
                "write or admin and the 64 hex digits that 'python -m serve.api.tokens "
                f"<scope>' prints for a token, got {content[:80]!r}")
        raw = bytes.fromhex(digest)
        if any(raw == seen for _, seen in entries):
            raise ConfigError(f"{source}, line {number}: this token's hash is already on an "
                              "earlier line; keep one line per token")
        entries.append((scope, raw))
    return tuple(entries)


@dataclass(frozen=True)
class _Snapshot:
    """The tokens file as last read: its identity on disk, and its entries."""

    stamp: tuple[int, int, int] | None  # (mtime_ns, size, inode); None: not readable
    entries: Entries


class Tokens:
    """The tokens the server takes: ``admin_token`` and the tokens file's, re-read when
    the file changes. Safe across threads: one snapshot is swapped in whole."""

    def __init__(self, admin_token: str | None, tokens_file: str | None) -> None:
        self._fixed: Entries = ((Scope.ADMIN, _digest(admin_token)),) if admin_token else ()
        self._path = Path(tokens_file).expanduser() if tokens_file else None
        self._snapshot = _Snapshot(None, ())
        if self._path is not None:
            stamp = _stamp(self._path)
            if stamp is None:
                raise ConfigError(f"admin_tokens_file {str(self._path)!r} cannot be read; "
                                  "create it (lines '<scope>:<hash>') or unset "
                                  "FLYRAY_ADMIN_TOKENS_FILE")
            self._snapshot = _Snapshot(stamp, parse_tokens(self._path.read_text(),
                                                           str(self._path)))

    @classmethod
    def from_settings(cls, settings: Settings) -> Tokens:
        return cls(settings.admin_token, settings.admin_tokens_file)

    @property
    def required(self) -> bool:
        """Whether calls need a token: one is configured (an empty file still counts,
        so that deleting its last line locks the API rather than opening it)."""
        return bool(self._fixed) or self._path is not None

    def scope_of_token(self, token: str) -> Scope | None:
        """The scope of a bearer ``token``; None for one the server does not take."""
        return self._match(_digest(token))

    def scope_of_session(self, cookie: str) -> Scope | None:
        """The scope of a console session cookie; None once its token is rotated out."""
        return self._match(hashlib.sha256(cookie.encode()).digest())

    def _match(self, digest: bytes) -> Scope | None:
        found: Scope | None = None
        # Every entry is compared, so the time taken does not say which one matched.
        for scope, stored in self._fixed + self._entries():
            if hmac.compare_digest(digest, stored) and (found is None or scope > found):
                found = scope
        return found

    def _entries(self) -> Entries:
        if self._path is None:
            return ()
        stamp = _stamp(self._path)
        snapshot = self._snapshot
        if stamp != snapshot.stamp:
            snapshot = _Snapshot(stamp, self._reload(stamp))
            self._snapshot = snapshot
        return snapshot.entries

    def _reload(self, stamp: tuple[int, int, int] | None) -> Entries:
        """The file's entries after a change; none (fail closed) when it cannot be read
        or parsed: a broken file must not keep a rotated-out token valid."""
        assert self._path is not None
        try:
            if stamp is None:
                raise ConfigError("it is missing or unreadable")
            entries = parse_tokens(self._path.read_text(), str(self._path))
        except (OSError, ConfigError) as e:
            log.error("admin tokens file %s: %s; until it is fixed, only admin_token is "
                      "taken", self._path, e)
            return ()
        log.info("admin tokens file %s read again: %d token(s)", self._path, len(entries))
        return entries


def _digest(token: str) -> bytes:
    return bytes.fromhex(token_hash(token))


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


def main(argv: list[str]) -> int:
    """``python -m serve.api.tokens <scope>``: the tokens file's line for the token on
    standard input."""
    scope = Scope.__members__.get(argv[0].upper()) if len(argv) == 1 else None
    token = sys.stdin.readline().strip()
    if scope is None or not token:
        print("usage: python -m serve.api.tokens read|write|admin  (the token on standard "
              "input)", file=sys.stderr)
        return 2
    print(f"{scope.label}:{token_hash(token)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
