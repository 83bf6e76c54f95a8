"""One rate limit per provider API shared by every worker on every host, kept in PostgreSQL.

A client-side limiter cannot see other processes using the same quota (pitfalls §2.4), so N
workers each limited to the quota would together send N times too much. Here every request to
the provider's control API first takes a *slot* in a window stored in the shared database:

- a window is identified by (scope, kind): scope is the provider account (Huawei: endpoint
  host + project, i.e. the tenant the gateway counts; Azure: the Speech resource), kind the
  API whose quota it is (Huawei: create, commit, show, list …; Azure: every request);
- acquiring locks the window's row (``SELECT … FOR UPDATE``), reads the database clock (one
  clock for all hosts) and admits the request when fewer than ``max_calls`` slots are held;
- a slot is held from the moment the request starts until ``period`` seconds after it
  *finished* — the semantics of ``azure_client.RequestWindow``, and for the same reason: the
  gateway stamps a request when it arrives, somewhere between our start and our finish, so
  counting from the finish is what keeps any ``period``-long span of arrivals within
  ``max_calls`` even when a request sat in a busy event loop or a slow connection;
- a worker killed mid-request never releases its slot; such a slot counts as finished
  ``in_flight_expiry_s`` after it started, so a crash costs capacity for a minute, not forever.

``SharedLimitTransport`` wraps the run's ``HttpClient``: the provider clients call it as their
``HttpTransport``, it classifies each control request (method + path → API kind) and holds a
slot around it. Uploads to pre-signed URLs go straight through: the object store's limits are
not the control API's quotas. The clients' own in-process limiters stay in force beneath it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

import anyio
import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool

from pipeline.config import HUAWEI, JobConfig
from pipeline.errors import ProviderUnavailable
from pipeline.ledger.postgres import error_reason
from pipeline.providers.http import HttpResponse, HttpTransport, RetryPolicy, UploadBody
from pipeline.providers.huawei_client import CREATE_ROUTES

log = structlog.get_logger("pipeline.scaleout.ratelimit")

_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
_HUAWEI_PREFIX: Final = "/voice-training-manage/"
_CREATE_SEGMENTS: Final = frozenset(f"user/{route}" for route in CREATE_ROUTES.values())
#: Huawei API kinds whose quota is the write rate (create/commit/delete); the rest are reads.
_HUAWEI_WRITES: Final = frozenset({"create", "commit", "delete"})
_HUAWEI_KINDS: Final = (
    "create", "commit", "delete", "show", "list", "audit", "segment", "address", "quota",
)  # fmt: skip

#: A slot of a request that never reported its end (its worker died) counts as finished this
#: long after it started: longer than any control call takes, short enough to heal quickly.
IN_FLIGHT_EXPIRY_S: Final = 60.0
#: How often to look again while every slot is held by a request still in flight.
_IN_FLIGHT_POLL_S: Final = 0.02


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """At most ``max_calls`` requests per ``period`` seconds."""

    max_calls: int
    period: float

    @classmethod
    def per_second(cls, rate: float) -> WindowSpec:
        """``rate`` requests per second (fractional rates widen the window, like RateLimiter)."""
        if rate <= 0:
            raise ValueError("a rate limit must be > 0 requests per second")
        if rate >= 1:
            return cls(max_calls=int(rate), period=1.0)
        return cls(max_calls=1, period=1.0 / rate)


class SharedWindow:
    """One (scope, kind) request window in the shared database; see the module docstring."""

    def __init__(
        self,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        *,
        scope: str,
        kind: str,
        spec: WindowSpec,
        in_flight_expiry_s: float = IN_FLIGHT_EXPIRY_S,
    ) -> None:
        self._pool = pool
        self.scope = scope
        self.kind = kind
        self.spec = spec
        self._expiry = in_flight_expiry_s
        # Callers of this process queue here (FIFO), so the database sees one contender per
        # process and window instead of every waiting task polling it.
        self._local = anyio.Lock()
        self._row_ready = False

    async def _ensure_row(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if not self._row_ready:
            await conn.execute(
                "INSERT INTO voice_onboard_rate_windows (scope, kind) VALUES (%s, %s) "
                "ON CONFLICT DO NOTHING",
                (self.scope, self.kind),
            )
            self._row_ready = True

    async def _try(self) -> tuple[int | None, float]:
        """One attempt: (slot id, 0) when admitted, else (None, seconds to wait)."""
        period, expiry = self.spec.period, self._expiry
        async with self._pool.connection() as conn:
            await self._ensure_row(conn)
            async with conn.transaction():
                await conn.execute(
                    "SELECT 1 FROM voice_onboard_rate_windows "
                    "WHERE scope = %s AND kind = %s FOR UPDATE",
                    (self.scope, self.kind),
                )
                # Read the clock only once the row is ours: a time taken before waiting for
                # the lock would date the new slot too early.
                cursor = await conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
                row = await cursor.fetchone()
                assert row is not None
                now = float(row[0])
                await conn.execute(
                    "DELETE FROM voice_onboard_rate_slots WHERE scope = %s AND kind = %s "
                    "AND (finished_at <= %s OR (finished_at IS NULL AND started_at <= %s))",
                    (self.scope, self.kind, now - period, now - expiry),
                )
                cursor = await conn.execute(
                    "SELECT started_at, finished_at FROM voice_onboard_rate_slots "
                    "WHERE scope = %s AND kind = %s",
                    (self.scope, self.kind),
                )
                held = await cursor.fetchall()
                if len(held) < self.spec.max_calls:
                    cursor = await conn.execute(
                        "INSERT INTO voice_onboard_rate_slots (scope, kind, started_at) "
                        "VALUES (%s, %s, %s) RETURNING id",
                        (self.scope, self.kind, now),
                    )
                    inserted = await cursor.fetchone()
                    assert inserted is not None
                    return int(inserted[0]), 0.0
        # Full: the earliest moment a slot frees is the oldest finish + period, or the
        # expiry of the oldest request still in flight; a running request may also end any
        # moment, so never sleep longer than a short poll while one is in flight.
        frees = [float(f) + period if f is not None else float(s) + expiry for s, f in held]
        wait = min(frees) - now
        if any(f is None for _s, f in held):
            wait = min(wait, _IN_FLIGHT_POLL_S)
        return None, max(wait, 0.001)

    async def acquire(self) -> int:
        """Wait for a slot and take it; returns its id for ``release``."""
        async with self._local:
            while True:
                try:
                    slot, wait = await self._try()
                except psycopg.Error as exc:
                    # The limit cannot be checked, so the request must not go out: the caller's
                    # retry policy treats this like an unreachable provider and backs off.
                    raise ProviderUnavailable(
                        f"shared rate limit {self.scope}/{self.kind} unavailable: "
                        f"{error_reason(exc)}"
                    ) from None
                if slot is not None:
                    return slot
                await anyio.sleep(wait)

    async def release(self, slot: int) -> None:
        """The request has its answer (or failed): its slot frees ``period`` seconds from now."""
        try:
            async with self._pool.connection() as conn:
                await conn.execute(
                    "UPDATE voice_onboard_rate_slots "
                    "SET finished_at = extract(epoch FROM clock_timestamp()) WHERE id = %s",
                    (slot,),
                )
        except psycopg.Error as exc:
            # Not fatal: the slot then counts until its in-flight expiry (a little capacity
            # lost for a minute; the limit itself still holds).
            log.warning(
                "ratelimit.release_failed", scope=self.scope, kind=self.kind, error=str(exc)
            )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with window.slot():`` around one request."""
        slot = await self.acquire()
        try:
            yield
        finally:
            # Shielded: a cancelled request still ended, and its end is what frees the slot.
            with anyio.CancelScope(shield=True):
                await self.release(slot)


#: Finds the window of one control request: (method, absolute URL) → window or None.
Classifier = Callable[[str, str], SharedWindow | None]


def huawei_call_kind(method: str, url: str) -> str | None:
    """The HuaweiClient call kind of a request (the API whose quota it uses), or None when the
    URL is not a MetaStudio voice-training route."""
    path = urlsplit(url).path
    head, sep, rest = path.partition(_HUAWEI_PREFIX)
    if not sep or not head.startswith("/v1/"):
        return None
    method = method.upper()
    parts = rest.strip("/").split("/")
    if method == "POST" and rest.strip("/") in _CREATE_SEGMENTS:
        return "create"
    if parts[:2] == ["user", "jobs"]:
        if len(parts) == 2:
            return "list"
        if len(parts) == 3:
            return {"POST": "commit", "DELETE": "delete"}.get(method, "show")
        if parts[3] == "audit-result":
            return "audit"
        if parts[3] == "uploading-address-url":
            return "address"
        return "quota"  # op-logs and future read-only routes: the query rate
    if parts[:2] == ["user", "training-segment"]:
        return "commit" if method == "POST" else "segment"  # confirm counts as a commit
    return "quota"


def provider_windows(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], config: JobConfig, endpoint: str
) -> Classifier:
    """The shared windows of ``config``'s provider account, and how requests map to them."""
    limits = config.limits
    host = urlsplit(endpoint).netloc.lower()
    if config.provider.kind == HUAWEI:
        # The gateway counts per tenant: the project, on one regional endpoint.
        scope = f"{HUAWEI} {host} {config.provider.project_id}"
        windows = {
            kind: SharedWindow(
                pool,
                scope=scope,
                kind=kind,
                spec=WindowSpec.per_second(
                    limits.create_per_second if kind in _HUAWEI_WRITES else limits.query_per_second
                ),
            )
            for kind in _HUAWEI_KINDS
        }

        def huawei(method: str, url: str) -> SharedWindow | None:
            kind = huawei_call_kind(method, url)
            return None if kind is None else windows[kind]

        return huawei
    # Azure counts every request of a Speech resource against one window.
    azure = SharedWindow(
        pool,
        scope=f"{config.provider.kind} {host}",
        kind="requests",
        spec=WindowSpec(max_calls=limits.azure_requests, period=limits.azure_window_s),
    )

    def any_request(method: str, url: str) -> SharedWindow | None:
        return azure

    return any_request


class SharedLimitTransport:
    """An ``HttpTransport`` that holds a shared-window slot around every control request."""

    def __init__(self, inner: HttpTransport, classify: Classifier) -> None:
        self._inner = inner
        self._classify = classify

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] = _NO_HEADERS,
        body: bytes | BinaryIO | None = None,
        idempotent: bool = True,
        throttle_codes: Collection[str] = (),
    ) -> HttpResponse:
        window = self._classify(method, url)
        if window is None:
            return await self._inner.request(
                method,
                url,
                headers=headers,
                body=body,
                idempotent=idempotent,
                throttle_codes=throttle_codes,
            )
        async with window.slot():
            return await self._inner.request(
                method,
                url,
                headers=headers,
                body=body,
                idempotent=idempotent,
                throttle_codes=throttle_codes,
            )

    async def put_file(
        self,
        url: str,
        source: Path | UploadBody,
        *,
        content_type: str,
        extra_headers: Mapping[str, str] = _NO_HEADERS,
        retry: RetryPolicy | None = None,
    ) -> int:
        return await self._inner.put_file(
            url, source, content_type=content_type, extra_headers=extra_headers, retry=retry
        )
