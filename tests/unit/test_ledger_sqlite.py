"""What only the SQLite ledger promises: a WAL-mode file and a clear error for a bad one.

The behaviour both ledgers share is in tests/integration/test_ledger_contract.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import LedgerError
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Phase, VoiceState, VoiceStatus

pytestmark = pytest.mark.anyio


def _state(key: str) -> VoiceState:
    return VoiceState(
        batch="b",
        key=key,
        fingerprint="f1",
        voice_name=f"Voice {key}",
        stage=Phase.PREPARED,
        status=VoiceStatus.PENDING,
    )


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
