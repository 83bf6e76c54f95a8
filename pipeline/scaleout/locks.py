"""Per-voice locks across workers: PostgreSQL session advisory locks on one connection.

procrastinate's job ``lock`` already keeps two *jobs* of one voice from running at once. This
lock covers what that cannot: a worker that is alive but missed its heartbeats (a stalled
machine, a network partition) while its job was handed to another worker. The zombie still
holds its advisory lock, so the second copy finds the voice busy and retries later, instead of
both driving the voice. A worker that really died loses its session, and the server drops its
locks at once (or when TCP keepalive notices a dead host).

All locks of one worker live on one dedicated connection (a session can hold many), so the
number of database connections does not grow with ``--concurrency``. Session locks are
re-entrant within a session, so the worker also remembers which voices it holds and refuses a
second task of its own for a voice it is already driving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

import anyio
import psycopg
import structlog

from pipeline.errors import LedgerError
from pipeline.ledger.postgres import describe_url

log = structlog.get_logger("pipeline.scaleout.locks")

# hashtextextended gives a 64-bit key; current_schema() keeps installations that share one
# database (and parallel test runs) apart, as advisory locks are database-wide.
_KEY = "hashtextextended(coalesce(current_schema(), '') || %s, 0)"


class VoiceLocks:
    """``async with locks.hold(key) as held:`` — held is False when another worker has it."""

    def __init__(self, url: str, batch: str) -> None:
        self._url = url
        self._batch = batch
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._held: set[str] = set()
        self._io = anyio.Lock()  # one statement at a time on the shared connection

    async def __aenter__(self) -> Self:
        await self._connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()  # ends the session: the server releases every lock it held

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
        except psycopg.Error as exc:
            raise LedgerError(
                f"{describe_url(self._url)}: cannot open a lock session: {exc}"
            ) from None
        return self._conn

    def _name(self, key: str) -> str:
        return f"/voice-onboard/voice/{self._batch}/{key}"

    async def _try_lock(self, key: str) -> bool:
        async with self._io:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                if self._held:
                    # The old session is gone and took its locks with it: the voices this
                    # worker is driving are unguarded until their tasks end. Say so.
                    log.warning("locks.session_lost", held=sorted(self._held))
                conn = await self._connect()
            cursor = await conn.execute(f"SELECT pg_try_advisory_lock({_KEY})", (self._name(key),))
            row = await cursor.fetchone()
            return bool(row and row[0])

    async def _unlock(self, key: str) -> None:
        async with self._io:
            conn = self._conn
            if conn is None or conn.closed or conn.broken:
                return  # the session, and with it the lock, is gone already
            try:
                await conn.execute(f"SELECT pg_advisory_unlock({_KEY})", (self._name(key),))
            except psycopg.Error as exc:
                log.warning("locks.unlock_failed", voice=key, error=str(exc))

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[bool]:
        """Try to take voice ``key``'s lock for the block; never waits for it."""
        if key in self._held:
            yield False
            return
        # Marked before the first await: a second task of this worker for the same voice must
        # not slip in while the lock query runs (the session's lock would let it through).
        self._held.add(key)
        try:
            got = await self._try_lock(key)
        except BaseException as exc:
            self._held.discard(key)
            if isinstance(exc, psycopg.Error):
                raise LedgerError(f"cannot take the lock of voice {key!r}: {exc}") from None
            raise
        if not got:
            self._held.discard(key)
            yield False
            return
        try:
            yield True
        finally:
            self._held.discard(key)
            with anyio.CancelScope(shield=True):
                await self._unlock(key)
