"""Durable emulator state (``--state FILE``): a stopped or killed emulator restarts holding
every job, consent, voice, object, Operation-Id replay and counter, and its emulated time
continues from where it was.

The file is SQLite (stdlib ``sqlite3``, WAL, ``synchronous=FULL``) holding one snapshot row:
a pickle of every service's tables (the ``Part``s the services declare) and the clock's
*horizon*. Pickle because the tables are the services' own frozen records: no second schema to
keep in step with them. A state file is trusted like the emulator's code — it is the
operator's own file, never one fetched from elsewhere.

Two rules make it honest under SIGKILL:

- every request that may change state (any method but GET/HEAD/OPTIONS) is snapshotted and
  committed *before* its answer is sent (``commit`` in the server's middleware), so the
  emulator never answered for a resource it then forgets. Snapshots are coalesced: a commit
  whose changes a later snapshot already holds is not written again;
- emulated time is leased: the clock never reads past a persisted horizon, which a ticker
  keeps ``LEASE_S`` real seconds ahead. A restart resumes at the persisted horizon, so time
  never runs backwards past anything answered (training that was 60 % through is at least
  60 % through, never restarted) and stands still while the emulator is down.

GETs change only counters (the call log, per-route counts, the fault RNG); the ticker writes
those within ``TICK_S`` of the last request, and a clean stop writes everything.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio
import anyio.to_thread

from pipeline.errors import ConfigError

#: Real seconds the persisted clock horizon runs ahead of the clock.
LEASE_S: Final = 0.5
#: Real seconds between horizon extensions (and flushes of GET-only counter changes).
TICK_S: Final = 0.2
#: Bumped when the pickled layout changes incompatibly; an older file is refused, not misread.
FORMAT: Final = 1
#: Methods that never change a service's tables.
READ_ONLY: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Part:
    """Attributes of one live object that make up durable state (its tables, counters)."""

    owner: object
    attrs: tuple[str, ...]

    def dump(self) -> dict[str, object]:
        return {name: getattr(self.owner, name) for name in self.attrs}

    def load(self, values: dict[str, object]) -> None:
        for name in self.attrs:
            if name in values:
                setattr(self.owner, name, values[name])


@dataclass(frozen=True, slots=True)
class Saved:
    """What a state file holds: the clock's horizon (emulated Unix seconds) and the parts."""

    horizon: float
    parts: dict[str, dict[str, object]]


class StateFile:
    """One SQLite state file; ``save`` is called from worker threads, one at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1),"
                " format INTEGER NOT NULL, horizon REAL NOT NULL, body BLOB NOT NULL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"--state {path}: cannot open the emulator state file ({exc}); "
                "give a writable path (a new file is created)"
            ) from None
        self._lock = threading.Lock()

    def load(self) -> Saved | None:
        """The saved state, or None for a new file."""
        row = self._db.execute("SELECT format, horizon, body FROM snapshot").fetchone()
        if row is None:
            return None
        fmt, horizon, body = row
        if fmt != FORMAT:
            raise ConfigError(
                f"--state {self.path}: written by another emulator version (format {fmt}, "
                f"this one reads {FORMAT}); start with a new state file"
            )
        try:
            parts = pickle.loads(body)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise ConfigError(
                f"--state {self.path}: unreadable emulator state ({exc}); "
                "start with a new state file"
            ) from None
        return Saved(horizon=float(horizon), parts=parts)

    def save(self, horizon: float, body: bytes | None) -> None:
        """Commit a snapshot (``body``) and/or a new clock horizon, durably."""
        with self._lock:
            if body is None:
                self._db.execute("UPDATE snapshot SET horizon = ? WHERE id = 1", (horizon,))
            else:
                self._db.execute(
                    "INSERT INTO snapshot (id, format, horizon, body) VALUES (1, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET format = excluded.format,"
                    " horizon = excluded.horizon, body = excluded.body",
                    (FORMAT, horizon, body),
                )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Journal:
    """Keeps the state file up to date with the live parts: snapshots before answers, the
    clock's lease, a final write on stop."""

    def __init__(self, file: StateFile, parts: dict[str, Part], horizon: float) -> None:
        self._file = file
        self._parts = parts
        self.horizon = horizon
        self._seq = 0  #: snapshots taken
        self._written = 0  #: the newest snapshot committed
        self._dirty = False  #: a request was served since the last snapshot
        self._write = anyio.Lock()

    def restore(self, saved: Saved) -> None:
        """Put saved tables back into the live parts (before the server listens)."""
        for name, part in self._parts.items():
            part.load(saved.parts.get(name, {}))

    def touch(self) -> None:
        """Note a request that changed only counters: the ticker will write it."""
        self._dirty = True

    async def commit(self) -> None:
        """Snapshot now and return once that snapshot (or a newer one) is committed."""
        self._seq += 1
        seq, self._dirty = self._seq, False
        # Pickled on the event loop, so the snapshot is one consistent moment of the tables.
        body = pickle.dumps(
            {name: part.dump() for name, part in self._parts.items()}, pickle.HIGHEST_PROTOCOL
        )
        async with self._write:
            if self._written >= seq:
                return  # a later snapshot, holding this one's changes, is already on disk
            await anyio.to_thread.run_sync(self._file.save, self.horizon, body)
            self._written = seq

    async def lease(self, horizon: float) -> None:
        """Persist a later clock horizon (and pending counter changes), then adopt it."""
        if self._dirty:
            self.horizon = max(self.horizon, horizon)
            await self.commit()
            return
        async with self._write:
            await anyio.to_thread.run_sync(self._file.save, horizon, None)
        self.horizon = max(self.horizon, horizon)
