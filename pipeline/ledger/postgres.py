"""PostgreSQL ledger (scale-out): the same records and semantics as the SQLite ledger, shared
by every worker on every host.

``[batch] ledger = "postgresql://…"`` or ``VOICE_ONBOARD_DATABASE_URL`` selects it. Opening it
applies the pending schema migrations (``pipeline.ledger.migrations``). A ``put`` is one
transaction (row lock on the voice, upsert, stage event) committed before it returns: with
``synchronous_commit`` at its default, a committed intent survives a crash of the worker *and*
of the database server before the remote side effect starts.

The URL may hold a password, so it is never logged or put in a message as given:
``describe_url`` shows user, host, port and database only. Prefer ``PGPASSWORD`` or
``~/.pgpass`` to a password in the URL (the job file holds no secrets).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final, Self

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from pipeline.errors import LedgerError
from pipeline.ledger.base import COLUMNS, from_row, to_row
from pipeline.ledger.migrations import LATEST, MIGRATIONS
from pipeline.records import Phase, PhaseEvent, VoiceState, VoiceStatus

#: Seconds to wait for a first connection before the ledger counts as unreachable.
CONNECT_TIMEOUT_S: Final = 10.0

_COLUMNS: Final = ", ".join(COLUMNS)
_UPSERT: Final = f"""
INSERT INTO voice_onboard_voices ({_COLUMNS})
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (batch, key) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint, voice_name = EXCLUDED.voice_name,
    stage = EXCLUDED.stage, status = EXCLUDED.status, remote = EXCLUDED.remote,
    uploaded = EXCLUDED.uploaded, attempts = EXCLUDED.attempts,
    last_error = EXCLUDED.last_error, findings = EXCLUDED.findings,
    history = EXCLUDED.history, updated_at = EXCLUDED.updated_at
"""


def describe_url(url: str) -> str:
    """``url`` without its password (and without options), for logs and error messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    db = f"/{parts['dbname']}" if parts.get("dbname") else ""
    return f"postgresql://{user}{host}{port}{db}"


def url_password(url: str) -> str | None:
    """The password inside ``url``, if any (for the log redactor)."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        return None
    return str(password) if password else None


async def migrate(conn: psycopg.AsyncConnection[Any], *, where: str) -> list[int]:
    """Apply the pending migrations on ``conn`` (in its current schema); returns the versions
    applied. Concurrent callers wait for each other on an advisory lock."""
    applied_now: list[int] = []
    async with conn.transaction():
        # One lock per schema: parallel test runs in their own schemas do not wait for each other.
        await conn.execute(
            "SELECT pg_advisory_xact_lock("
            "hashtextextended('voice-onboard/migrations/' || coalesce(current_schema(), ''), 0))"
        )
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS voice_onboard_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cursor = await conn.execute("SELECT version FROM voice_onboard_migrations")
        done = {int(row[0]) for row in await cursor.fetchall()}
        if done and max(done) > LATEST:
            raise LedgerError(
                f"{where}: ledger schema {max(done)} is newer than this tool ({LATEST}); "
                "upgrade voice-onboard"
            )
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO voice_onboard_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
    return applied_now


class PostgresLedger:
    """The Ledger protocol on PostgreSQL; scoped to one batch.

    Tables live in the connection's current schema (``search_path``), so one database can hold
    several installations: ``?options=-csearch_path%3Dvoice`` in the URL picks a schema.
    """

    def __init__(self, url: str, batch: str, *, max_connections: int = 4) -> None:
        self._url = url
        self._batch = batch
        self._where = describe_url(url)
        self._max = max_connections
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    @property
    def batch(self) -> str:
        return self._batch

    @property
    def where(self) -> str:
        """The database, password-free, for messages."""
        return self._where

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Connect, migrate, and start the connection pool."""
        # A direct first connection gives libpq's own reason on failure ("connection refused",
        # "database does not exist"); a pool would only say that it timed out.
        try:
            async with await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)
            ) as conn:
                await migrate(conn, where=self._where)
        except psycopg.Error as exc:
            raise LedgerError(f"{self._where}: cannot open ledger: {error_reason(exc)}") from None
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=self._max,
            kwargs={"autocommit": True},
            # A connection broken by a server restart is replaced, not handed out.
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="voice-onboard-ledger",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            await pool.close()
            raise LedgerError(f"{self._where}: cannot open ledger: {error_reason(exc)}") from None
        self._pool = pool

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _p(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise LedgerError("the ledger is not open")
        return self._pool

    async def _rows(self, sql: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            async with self._p().connection() as conn:
                cursor = await conn.execute(sql, args)
                return await cursor.fetchall()
        except psycopg.Error as exc:
            raise LedgerError(f"{self._where}: {error_reason(exc)}") from None

    async def get(self, key: str) -> VoiceState | None:
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM voice_onboard_voices WHERE batch = %s AND key = %s",
            (self._batch, key),
        )
        return _from_row(rows[0]) if rows else None

    async def all(self) -> list[VoiceState]:
        # COLLATE "C": byte order, as SQLite's ORDER BY sorts, whatever the database's locale.
        rows = await self._rows(
            f"SELECT {_COLUMNS} FROM voice_onboard_voices WHERE batch = %s "
            'ORDER BY key COLLATE "C"',
            (self._batch,),
        )
        return [_from_row(r) for r in rows]

    async def put(self, state: VoiceState, *, detail: str | None = None) -> None:
        if state.batch != self._batch:
            raise LedgerError(f"state of batch {state.batch!r} put into ledger of {self._batch!r}")
        try:
            async with self._p().connection() as conn, conn.transaction():
                # The row lock orders concurrent puts of one voice, so each one compares
                # against the state the previous one committed (the event log stays exact).
                cursor = await conn.execute(
                    "SELECT stage, status FROM voice_onboard_voices "
                    "WHERE batch = %s AND key = %s FOR UPDATE",
                    (state.batch, state.key),
                )
                old = await cursor.fetchone()
                await conn.execute(_UPSERT, _to_row(state))
                if old is None or old[0] != state.stage or old[1] != state.status or detail:
                    await conn.execute(
                        "INSERT INTO voice_onboard_events (batch, key, stage, status, at, detail) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        (
                            state.batch,
                            state.key,
                            str(state.stage),
                            str(state.status),
                            time.time(),
                            detail,
                        ),
                    )
        except psycopg.Error as exc:
            raise LedgerError(f"{self._where}: {error_reason(exc)}") from None

    async def events(self, key: str | None = None) -> list[PhaseEvent]:
        sql = "SELECT key, stage, status, at, detail FROM voice_onboard_events WHERE batch = %s"
        args: tuple[str, ...] = (self._batch,)
        if key is not None:
            sql += " AND key = %s"
            args = (self._batch, key)
        rows = await self._rows(sql + " ORDER BY id", args)
        return [
            PhaseEvent(
                key=str(r[0]),
                stage=Phase(str(r[1])),
                status=VoiceStatus(str(r[2])),
                at=float(r[3]),
                detail=None if r[4] is None else str(r[4]),
            )
            for r in rows
        ]

    async def binding(self) -> str | None:
        rows = await self._rows(
            "SELECT binding FROM voice_onboard_bindings WHERE batch = %s", (self._batch,)
        )
        return str(rows[0][0]) if rows else None

    async def bind(self, binding: str) -> None:
        try:
            async with self._p().connection() as conn:
                await conn.execute(
                    "INSERT INTO voice_onboard_bindings (batch, binding, bound_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT (batch) DO UPDATE SET "
                    "binding = EXCLUDED.binding, bound_at = EXCLUDED.bound_at",
                    (self._batch, binding, time.time()),
                )
        except psycopg.Error as exc:
            raise LedgerError(f"{self._where}: {error_reason(exc)}") from None


def error_reason(exc: psycopg.Error) -> str:
    """The first line of a driver error (libpq repeats it per address tried), no secrets."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _to_row(s: VoiceState) -> tuple[object, ...]:
    return to_row(s, Jsonb)


def _from_row(row: Sequence[Any]) -> VoiceState:
    return from_row(row, lambda value: value)  # psycopg hands jsonb back as Python values
