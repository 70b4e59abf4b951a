"""Per-client request rate limits of the admin API: token buckets, and the middleware that
answers 429 when a client's bucket is empty.

Two buckets per client: the general one, which every call takes from (API reads and
writes, the console's pages and forms, ``/openapi.json``, ``/docs``), and a smaller one
that creating an execution also takes from (a launch, relaunch or recovery, through the
API or the console's forms), since each starts work on the cluster. ``GET /healthz`` is
never limited: load balancers poll it.

A client is its token when it presents one the server takes (a bearer token, or the
console's session cookie of that token: both are the same key, ``token_hash``), else its
address. An unknown token counts as its address, so that sending made-up tokens gives no
fresh bucket. Behind a proxy, clients without a token share the proxy's address: the
server trusts no forwarded header, which any client could forge.

Invariants: a bucket holds at most ``burst`` requests and refills at ``rate`` per second;
a refused request takes from neither bucket. Memory is bounded: a bucket idle long enough
to be full again is dropped (a missing bucket is a full one), and at most ``MAX_CLIENTS``
are kept, the least recently used dropped first.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette._utils import get_route_path
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.config import Settings
from serve.api.errors import error_response
from serve.api.security import OPEN_PATHS
from serve.api.tokens import SESSION_COOKIE, Tokens, token_hash

MAX_CLIENTS = 10_000  # buckets kept per kind; past it the least recently used goes
Clock = Callable[[], float]

# Calls that create an execution: the API's and the console's forms'.
_LAUNCH_PATHS = frozenset({"/api/v1/executions", "/api/v1/executions/relaunch",
                           "/api/v1/executions/recover"})
_CONSOLE_LAUNCH = re.compile(r"/console/projects/[^/]+/domains/[^/]+/"
                             r"(?:launch/[^/]+/[^/]+|executions/[^/]+/(?:relaunch|recover))")


def creates_execution(method: str, path: str) -> bool:
    """Whether a call of ``method`` on ``path`` (as routing sees it) creates an execution."""
    return method == "POST" and (path in _LAUNCH_PATHS
                                 or _CONSOLE_LAUNCH.fullmatch(path) is not None)


@dataclass(frozen=True)
class Limit:
    """At most ``burst`` requests at once, refilled at ``rate`` per second; a rate of 0
    means no limit. ``settings`` names the settings that set it, for messages."""

    rate: float
    burst: int
    settings: str

    @property
    def enabled(self) -> bool:
        return self.rate > 0


class Buckets:
    """The token buckets of one :class:`Limit`, by client key, in least recently used
    order. Not locked: :class:`RateLimiter` holds its lock around every use."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        # key -> (requests left, when that was computed); oldest use first.
        self._levels: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._refill_s = limit.burst / limit.rate if limit.enabled else 0.0

    def __len__(self) -> int:
        return len(self._levels)

    def level(self, key: str, now: float) -> float:
        """Requests ``key`` may make at ``now``."""
        self._expire(now)
        level, stamp = self._levels.get(key, (float(self.limit.burst), now))
        return min(float(self.limit.burst), level + (now - stamp) * self.limit.rate)

    def set(self, key: str, level: float, now: float) -> None:
        self._levels[key] = (level, now)
        self._levels.move_to_end(key)
        while len(self._levels) > MAX_CLIENTS:
            self._levels.popitem(last=False)

    def wait_s(self, level: float) -> float:
        """Seconds until a bucket at ``level`` holds one request."""
        return (1.0 - level) / self.limit.rate

    def _expire(self, now: float) -> None:
        # In use order, so the first bucket not yet full again ends the sweep.
        while self._levels:
            key, (_, stamp) = next(iter(self._levels.items()))
            if now - stamp < self._refill_s:
                break
            del self._levels[key]


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the limit it is over, and how long to wait."""

    limit: Limit
    wait_s: float


class RateLimiter:
    """The buckets of every client, general and for creating executions. Thread-safe:
    one lock around each decision, which touches a few numbers."""

    def __init__(self, general: Limit, launches: Limit, clock: Clock = time.monotonic) -> None:
        self._general = Buckets(general)
        self._launches = Buckets(launches)
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = time.monotonic) -> RateLimiter:
        return cls(Limit(settings.admin_rate_limit, settings.admin_rate_burst,
                         "admin_rate_limit and admin_rate_burst (FLYRAY_ADMIN_RATE_LIMIT, "
                         "FLYRAY_ADMIN_RATE_BURST)"),
                   Limit(settings.admin_launch_rate_limit, settings.admin_launch_rate_burst,
                         "admin_launch_rate_limit and admin_launch_rate_burst "
                         "(FLYRAY_ADMIN_LAUNCH_RATE_LIMIT, FLYRAY_ADMIN_LAUNCH_RATE_BURST)"),
                   clock)

    @property
    def enabled(self) -> bool:
        return self._general.limit.enabled or self._launches.limit.enabled

    def take(self, key: str, launch: bool) -> Refusal | None:
        """Take one request from ``key``'s general bucket, and from its launch bucket
        when ``launch``; None when taken, else why not (and then nothing is taken)."""
        buckets = [b for b in (self._general, self._launches if launch else None)
                   if b is not None and b.limit.enabled]
        with self._lock:
            now = self._clock()
            levels = [(b, b.level(key, now)) for b in buckets]
            refusals = [Refusal(b.limit, b.wait_s(level)) for b, level in levels if level < 1]
            if refusals:
                return max(refusals, key=lambda refusal: refusal.wait_s)
            for bucket, level in levels:
                bucket.set(key, level - 1.0, now)
            return None


class RateLimitGuard:
    """ASGI middleware: 429 with ``Retry-After`` for a request over its client's limit;
    otherwise passes the request on. Outermost, so refused calls cost the server least."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, tokens: Tokens) -> None:
        self.app = app
        self.limiter = limiter
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = get_route_path(scope) if scope["type"] == "http" else ""
        if scope["type"] != "http" or path in OPEN_PATHS or not self.limiter.enabled:
            await self.app(scope, receive, send)
            return
        client, key = self._client(scope)
        refusal = self.limiter.take(key, creates_execution(str(scope["method"]), path))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(refusal.wait_s))
        limit = refusal.limit
        response = error_response(
            429, "RESOURCE_EXHAUSTED",
            f"too many requests from {client}: the admin server takes at most "
            f"{limit.rate:g} per second from one client, in bursts of up to {limit.burst}; "
            f"retry after {retry_after} s, or have the server's operator raise "
            f"{limit.settings} (0 turns the limit off)",
            headers={"Retry-After": str(retry_after)})
        await response(scope, receive, send)

    def _client(self, scope: Scope) -> tuple[str, str]:
        """Who is calling, for messages (never the token itself), and their bucket's key."""
        connection = HTTPConnection(scope)
        if self.tokens.required:
            kind, _, given = connection.headers.get("authorization", "").partition(" ")
            if kind.lower() == "bearer" and self.tokens.scope_of_token(given.strip()):
                return "this token", token_hash(given.strip())
            cookie = connection.cookies.get(SESSION_COOKIE)
            if cookie and self.tokens.scope_of_session(cookie):
                return "this token", hashlib.sha256(cookie.encode()).hexdigest()
        host = connection.client.host if connection.client else "an unknown address"
        return f"address {host}", f"address:{host}"
