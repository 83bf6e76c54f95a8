"""SQLite ledger (the embedded default): one WAL-mode file in ``state_dir``.

``synchronous=FULL`` so a committed ``put`` survives a SIGKILL or power loss before the next
remote side effect starts. All access goes through one connection on one worker thread
(``CapacityLimiter(1)``), which keeps sqlite3's threading rules and the event loop free.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, Self, TypeVar

import anyio
import anyio.to_thread

from pipeline.errors import LedgerError
from pipeline.ledger.base import from_row, to_row
from pipeline.records import Phase, PhaseEvent, VoiceState, VoiceStatus

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS voices (
    batch TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    voice_name TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    remote TEXT NOT NULL,
    uploaded TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    findings TEXT NOT NULL,
    history TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (batch, key)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    batch TEXT NOT NULL,
    key TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_by_voice ON events (batch, key, id);
"""


class SqliteLedger:
    """The Ledger protocol on a SQLite file; scoped to one batch."""

    def __init__(self, path: Path, batch: str, *, read_only: bool = False) -> None:
        self._path = path
        self._batch = batch
        self._read_only = read_only
        self._limiter = anyio.CapacityLimiter(1)
        self._conn: sqlite3.Connection | None = None

    @property
    def batch(self) -> str:
        return self._batch

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self._open, limiter=self._limiter)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _open(self) -> None:
        if self._read_only:
            self._conn = self._open_read_only()
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif int(row[0]) > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self._path}: ledger schema {row[0]} is newer than this tool ({SCHEMA_VERSION})"
                )
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self._path}: cannot open ledger: {exc}") from None
        except OSError as exc:
            raise LedgerError(
                f"{self._path.parent}: cannot create the ledger: {exc.strerror or exc}"
            ) from None
        self._conn = conn

    def _open_read_only(self) -> sqlite3.Connection:
        """For ``status``: reads without creating, migrating or writing anything. A WAL ledger
        in a folder we may not write (a read-only mount, another user's state_dir) cannot be
        opened ``mode=ro`` when its -shm file is missing; ``immutable=1`` then reads the main
        file as it is (a run writing at the same moment is not expected there)."""
        if not self._path.is_file():
            raise LedgerError(f"{self._path}: no ledger yet (nothing was run for this batch)")
        uri = self._path.resolve().as_uri()
        # mode=ro creates a WAL ledger's -wal and -shm files when they are missing (a clean
        # close removes them): a write. Without a -wal no run has the ledger open, and
        # immutable=1 reads the main file as it is, creating nothing.
        queries = ["?mode=ro&immutable=1"]
        if self._path.with_name(self._path.name + "-wal").exists():
            queries.insert(0, "?mode=ro")
        last: sqlite3.Error | None = None
        for query in queries:
            try:
                conn = sqlite3.connect(uri + query, uri=True, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout=10000")
                conn.execute("SELECT count(*) FROM voices").fetchone()
                return conn
            except sqlite3.Error as exc:
                last = exc
        raise LedgerError(f"{self._path}: cannot read ledger: {last}")

    async def binding(self) -> str | None:
        def run() -> str | None:
            row = (
                self._c()
                .execute("SELECT value FROM meta WHERE key=?", (f"binding:{self._batch}",))
                .fetchone()
            )
            return None if row is None else str(row[0])

        return await self._call(run)

    async def bind(self, binding: str) -> None:
        def run() -> None:
            self._c().execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (f"binding:{self._batch}", binding),
            )

        await self._call(run)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await anyio.to_thread.run_sync(conn.close, limiter=self._limiter)

    async def _call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the ledger's thread; a failing statement (a full disk, a read-only
        file) is a LedgerError naming the file, never a bare sqlite3 error."""
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self._path}: {exc}") from None

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the ledger is not open")
        return self._conn

    async def get(self, key: str) -> VoiceState | None:
        def run() -> VoiceState | None:
            row = (
                self._c()
                .execute("SELECT * FROM voices WHERE batch=? AND key=?", (self._batch, key))
                .fetchone()
            )
            return None if row is None else _from_row(row)

        return await self._call(run)

    async def all(self) -> list[VoiceState]:
        def run() -> list[VoiceState]:
            rows = (
                self._c()
                .execute("SELECT * FROM voices WHERE batch=? ORDER BY key", (self._batch,))
                .fetchall()
            )
            return [_from_row(r) for r in rows]

        return await self._call(run)

    async def put(self, state: VoiceState, *, detail: str | None = None) -> None:
        if state.batch != self._batch:
            raise LedgerError(f"state of batch {state.batch!r} put into ledger of {self._batch!r}")

        def run() -> None:
            conn = self._c()
            conn.execute("BEGIN IMMEDIATE")
            try:
                old = conn.execute(
                    "SELECT stage, status FROM voices WHERE batch=? AND key=?",
                    (state.batch, state.key),
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO voices VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    _to_row(state),
                )
                if old is None or old[0] != state.stage or old[1] != state.status or detail:
                    conn.execute(
                        "INSERT INTO events (batch, key, stage, status, at, detail) "
                        "VALUES (?,?,?,?,?,?)",
                        (state.batch, state.key, state.stage, state.status, time.time(), detail),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self._call(run)

    async def events(self, key: str | None = None) -> list[PhaseEvent]:
        def run() -> list[PhaseEvent]:
            sql = "SELECT key, stage, status, at, detail FROM events WHERE batch=?"
            args: tuple[str, ...] = (self._batch,)
            if key is not None:
                sql += " AND key=?"
                args = (self._batch, key)
            rows = self._c().execute(sql + " ORDER BY id", args).fetchall()
            return [
                PhaseEvent(
                    key=r[0], stage=Phase(r[1]), status=VoiceStatus(r[2]), at=r[3], detail=r[4]
                )
                for r in rows
            ]

        return await self._call(run)


def _to_row(s: VoiceState) -> tuple[object, ...]:
    return to_row(s, lambda value: json.dumps(value, sort_keys=True))


def _from_row(row: tuple[object, ...]) -> VoiceState:
    return from_row(row, lambda text: json.loads(str(text)))
