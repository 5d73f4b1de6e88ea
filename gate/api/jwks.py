"""The OIDC issuer's signing keys: fetched without blocking, cached as the issuer's headers say.

At most one fetch is in flight, and fetches come at most once a minute whatever the tokens ask:
a stream of tokens with made-up key ids cannot turn riskgate against the issuer, nor tie up
the threads the webhook intake needs (waiting is an await, not a blocked thread).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt

DEFAULT_MAX_AGE_SECONDS = 3600  # when the issuer's answer says nothing
MAX_AGE_CAP_SECONDS = 86_400
MIN_REFRESH_SECONDS = 60  # between two fetches, however many tokens name an unknown key
MAX_JWKS_BYTES = 1024 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|[,\s])(no-cache|no-store)(?:$|[,\s=])", re.IGNORECASE)


class JWKSUnavailable(RuntimeError):
    """The issuer's keys could not be fetched; try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def cache_seconds(cache_control: str | None) -> int:
    """How long to keep a JWKS answer: its max-age, between one minute and a day."""
    if not cache_control:
        return DEFAULT_MAX_AGE_SECONDS
    if _NO_CACHE.search(cache_control):
        return MIN_REFRESH_SECONDS
    found = _MAX_AGE.search(cache_control)
    if found is None:
        return DEFAULT_MAX_AGE_SECONDS
    return max(MIN_REFRESH_SECONDS, min(int(found.group(1)), MAX_AGE_CAP_SECONDS))


def parse_keys(document: Any) -> dict[str, Any]:
    """The document's keys by key id (PyJWK objects)."""
    keys = jwt.PyJWKSet.from_dict(document).keys
    return {key.key_id: key for key in keys if key.key_id}


class JWKSCache:
    """Keys from a JWKS URL; `key(kid)` fetches only when the cache is stale or lacks the kid,
    and no more than once a minute. Expired keys still serve while the issuer is unreachable."""

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.clock = clock
        self.transport = transport
        self._keys: dict[str, Any] = {}
        self._expires_at = 0.0
        self._attempted_at: float | None = None
        self._error: str | None = None
        self._fetching = False
        self._generation = 0  # fetches finished
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self) -> asyncio.Lock:
        # one lock per event loop: tests (and some servers) run the app on more than one
        loop = asyncio.get_running_loop()
        return self._locks.setdefault(loop, asyncio.Lock())

    def _may_fetch(self) -> bool:
        attempted = self._attempted_at
        return attempted is None or self.clock() - attempted >= MIN_REFRESH_SECONDS

    async def key(self, kid: str) -> Any | None:
        """The key with this id, or None when the issuer (reachable) does not publish it."""
        fresh = self.clock() < self._expires_at
        if not (fresh and kid in self._keys) and (self._fetching or self._may_fetch()):
            # a fetch under way is waited for (awaited, holding no thread), not repeated
            generation = self._generation
            async with self._lock():
                if self._generation == generation and self._may_fetch():
                    await self._fetch()
        usable = self._error is None or self.clock() < self._expires_at + MAX_AGE_CAP_SECONDS
        if kid in self._keys and usable:
            return self._keys[kid]
        if self._error is not None:
            wait = MIN_REFRESH_SECONDS - (self.clock() - (self._attempted_at or 0.0))
            raise JWKSUnavailable(self._error, max(1, int(wait + 0.999)))
        return None

    async def _fetch(self) -> None:
        self._attempted_at = self.clock()
        self._fetching = True
        try:
            await self._fetch_once()
        finally:
            self._fetching = False
            self._generation += 1

    async def _fetch_once(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
                response = await client.get(self.url)
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError(f"the JWKS is over {MAX_JWKS_BYTES:,} bytes")
            keys = parse_keys(response.json())
        except (httpx.HTTPError, ValueError, TypeError, AttributeError, jwt.PyJWTError) as error:
            self._error = f"the issuer's keys ({self.url}) could not be fetched: {error!r}"
            return
        self._keys = keys
        self._expires_at = self.clock() + cache_seconds(response.headers.get("cache-control"))
        self._error = None


class JWKSFile:
    """Keys from a JWKS file (air-gapped installs, tests), read again when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, Any] = {}
        self._stamp: tuple[float, int] | None = None

    async def key(self, kid: str) -> Any | None:
        stat = self.path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            self._keys = parse_keys(json.loads(self.path.read_text()))
            self._stamp = stamp
        return self._keys.get(kid)
