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
  *finished* — the one meaning of every rate limit (``pipeline.providers.http.limits``), for
  one reason: the gateway stamps a request when it arrives, somewhere between our start and
  our finish, so counting from the finish is what keeps any ``period``-long span of arrivals
  within ``max_calls`` even when a request sat in a busy event loop or a slow connection;
- a worker killed mid-request never releases its slot; such a slot counts as finished
  ``in_flight_expiry_s`` after it started, so a crash costs capacity for a minute, not forever.

``provider_windows`` gives an account's windows as a ``RateLimit`` (the clients' one rate-limit
seam): a provider client takes a slot of the kind it names around every control request, after its own in-process limit,
which stays in force beneath it. Uploads to pre-signed URLs take none: the object store's
limits are not the control API's quotas.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool

from pipeline.config import HUAWEI, JobConfig
from pipeline.errors import ProviderUnavailable
from pipeline.ledger.postgres import error_reason
from pipeline.providers.azure.client import QUOTA as AZURE_QUOTA
from pipeline.providers.http import KindLimits, RateLimit, WindowSpec
from pipeline.providers.huawei.client import CALL_KINDS, WRITE_KINDS

log = structlog.get_logger(__name__)

#: A slot of a request that never reported its end (its worker died) counts as finished this
#: long after it started: longer than any control call takes, short enough to heal quickly.
IN_FLIGHT_EXPIRY_S: Final = 60.0
#: How often to look again while every slot is held by a request still in flight.
_IN_FLIGHT_POLL_S: Final = 0.02


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


def provider_windows(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]], config: JobConfig, endpoint: str
) -> RateLimit:
    """The shared windows of ``config``'s provider account, by the kinds its client names."""
    limits = config.limits
    host = urlsplit(endpoint).netloc.lower()
    if config.provider.kind == HUAWEI:
        # The gateway counts per tenant: the project, on one regional endpoint.
        scope = f"{HUAWEI} {host} {config.provider.project_id}"
        write = WindowSpec.per_second(limits.create_per_second)
        read = WindowSpec.per_second(limits.query_per_second)
        return KindLimits(
            {
                kind: SharedWindow(
                    pool, scope=scope, kind=kind, spec=write if kind in WRITE_KINDS else read
                )
                for kind in CALL_KINDS
            }
        )
    # Azure counts every request of a Speech resource against one window.
    azure = SharedWindow(
        pool,
        scope=f"{config.provider.kind} {host}",
        kind=AZURE_QUOTA,
        spec=WindowSpec(max_calls=limits.azure_requests, period=limits.azure_window_s),
    )
    return KindLimits({AZURE_QUOTA: azure})
