"""The SQLite ledger: durable puts, reads, events, and batch isolation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import LedgerError
from pipeline.ledger.base import Stage, VoiceState
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Finding, Severity, VoiceStatus

pytestmark = pytest.mark.anyio


def _state(key: str = "alice", **kw: object) -> VoiceState:
    base: dict[str, object] = {
        "batch": "b",
        "key": key,
        "fingerprint": "f1",
        "voice_name": f"Voice {key}",
        "stage": Stage.PREPARED,
        "status": VoiceStatus.PENDING,
    }
    base.update(kw)
    return VoiceState(**base)  # type: ignore[arg-type]


async def test_put_get_roundtrip(tmp_path: Path) -> None:
    """Every field survives a put and a reopen of the file."""
    path = tmp_path / "l.sqlite3"
    finding = Finding(
        severity=Severity.ERROR, code="remote.audit_failed", file="a/1.wav", message="m"
    )
    state = _state(
        stage=Stage.SUBMITTED,
        remote={"job_id": "j1", "state": "AUDITING"},
        uploaded=("package", "authorization"),
        attempts=2,
        last_error="boom",
        findings=(finding,),
        history=("j0",),
    )
    async with SqliteLedger(path, "b") as ledger:
        await ledger.put(state)
    async with SqliteLedger(path, "b") as ledger:
        got = await ledger.get("alice")
    assert got == state


async def test_events_record_stage_changes(tmp_path: Path) -> None:
    """A stage change adds an event; an unchanged put does not."""
    async with SqliteLedger(tmp_path / "l.sqlite3", "b") as ledger:
        s = _state()
        await ledger.put(s)
        await ledger.put(s)
        s = s.advance(Stage.CREATING)
        await ledger.put(s)
        events = await ledger.events("alice")
    assert [e.stage for e in events] == [Stage.PREPARED, Stage.CREATING]


async def test_batches_are_isolated(tmp_path: Path) -> None:
    """Two batches in one file never see each other's voices."""
    path = tmp_path / "l.sqlite3"
    async with SqliteLedger(path, "b") as ledger:
        await ledger.put(_state("alice"))
    async with SqliteLedger(path, "other") as ledger:
        assert await ledger.all() == []
        with pytest.raises(LedgerError):
            await ledger.put(_state("bob"))


async def test_wal_and_integrity(tmp_path: Path) -> None:
    """The file is in WAL mode and passes SQLite's integrity check."""
    path = tmp_path / "l.sqlite3"
    async with SqliteLedger(path, "b") as ledger:
        for i in range(20):
            await ledger.put(_state(f"v{i}"))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


async def test_corrupt_file_is_a_ledger_error(tmp_path: Path) -> None:
    """A file that is not a database gives a LedgerError naming it."""
    path = tmp_path / "l.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="cannot open ledger"):
        async with SqliteLedger(path, "b"):
            pass
