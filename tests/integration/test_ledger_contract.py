"""The ledger contract: one suite that the SQLite and the PostgreSQL ledger both pass.

PostgreSQL runs against the real server (a fresh schema per test); without one the
``postgres`` cases skip, except in CI where they fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import pytest

from pipeline.errors import LedgerError
from pipeline.ledger.base import Ledger
from pipeline.ledger.postgres import PostgresLedger
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Finding, Phase, Severity, VoiceState, VoiceStatus
from pipeline.scaleout.testing import require_test_database, scratch_schema

pytestmark = pytest.mark.anyio

#: Opens a ledger of the given batch on the test's one store (a file or a schema).
OpenLedger = Callable[[str], AbstractAsyncContextManager[Ledger]]


@pytest.fixture(params=["sqlite", "postgres"])
def open_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenLedger]:
    """Each test runs once per ledger; every call opens a new ledger on the same store."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.sqlite3"
        yield lambda batch: SqliteLedger(path, batch)
        return
    with scratch_schema(require_test_database()) as url:
        yield lambda batch: PostgresLedger(url, batch)


def _state(key: str = "alice", batch: str = "b", **kw: object) -> VoiceState:
    base: dict[str, object] = {
        "batch": batch,
        "key": key,
        "fingerprint": "f1",
        "voice_name": f"Voice {key}",
        "stage": Phase.PREPARED,
        "status": VoiceStatus.PENDING,
    }
    base.update(kw)
    return VoiceState(**base)  # type: ignore[arg-type]


async def test_put_get_roundtrip(open_ledger: OpenLedger) -> None:
    """Every field survives a put and a reopen of the store."""
    finding = Finding(
        severity=Severity.ERROR, code="remote.audit_failed", file="a/1.wav", message="m"
    )
    state = _state(
        stage=Phase.SUBMITTED,
        remote={"job_id": "j1", "state": "AUDITING"},
        uploaded=("package", "authorization"),
        attempts=2,
        last_error="boom",
        findings=(finding,),
        history=("j0",),
        voice_name="声音 ünïcode",
    )
    async with open_ledger("b") as ledger:
        await ledger.put(state)
    async with open_ledger("b") as ledger:
        got = await ledger.get("alice")
        missing = await ledger.get("nobody")
    assert got == state
    assert missing is None


async def test_latest_put_wins(open_ledger: OpenLedger) -> None:
    """A second put of a voice replaces the first, fields removed included."""
    async with open_ledger("b") as ledger:
        await ledger.put(_state(remote={"job_id": "j1"}, last_error="x", attempts=3))
        newer = _state(stage=Phase.CREATED, remote={}, last_error=None, attempts=0)
        await ledger.put(newer)
        assert await ledger.get("alice") == newer
        assert len(await ledger.all()) == 1


async def test_events_record_stage_changes(open_ledger: OpenLedger) -> None:
    """A stage change adds an event; an unchanged put does not; a detail always does."""
    async with open_ledger("b") as ledger:
        s = _state()
        await ledger.put(s)
        await ledger.put(s)
        s = s.advance(Phase.CREATING)
        await ledger.put(s)
        await ledger.put(s, detail="provider unavailable")
        events = await ledger.events("alice")
    assert [e.stage for e in events] == [Phase.PREPARED, Phase.CREATING, Phase.CREATING]
    assert [e.detail for e in events] == [None, None, "provider unavailable"]
    assert all(e.key == "alice" and e.status is VoiceStatus.PENDING for e in events)


async def test_events_of_the_whole_batch(open_ledger: OpenLedger) -> None:
    """events() without a key lists every voice's events in the order they were written."""
    async with open_ledger("b") as ledger:
        await ledger.put(_state("bob"))
        await ledger.put(_state("alice"))
        await ledger.put(_state("bob").advance(Phase.DONE, status=VoiceStatus.SUCCEEDED))
        events = await ledger.events()
    assert [(e.key, e.stage, e.status) for e in events] == [
        ("bob", Phase.PREPARED, VoiceStatus.PENDING),
        ("alice", Phase.PREPARED, VoiceStatus.PENDING),
        ("bob", Phase.DONE, VoiceStatus.SUCCEEDED),
    ]


async def test_all_is_sorted_by_key(open_ledger: OpenLedger) -> None:
    """all() returns the batch's voices in byte order of their keys."""
    keys = ["voice-10", "Voice-2", "alice", "voice-2", "_x"]
    async with open_ledger("b") as ledger:
        for key in keys:
            await ledger.put(_state(key))
        got = [s.key for s in await ledger.all()]
    assert got == sorted(keys)


async def test_batches_are_isolated(open_ledger: OpenLedger) -> None:
    """Two batches in one store never see each other's voices or events."""
    async with open_ledger("b") as ledger:
        await ledger.put(_state("alice"))
    async with open_ledger("other") as ledger:
        assert await ledger.all() == []
        assert await ledger.events() == []
        assert await ledger.get("alice") is None
        with pytest.raises(LedgerError):
            await ledger.put(_state("bob"))


async def test_two_open_ledgers_share_the_store(open_ledger: OpenLedger) -> None:
    """Concurrent writers through two open ledgers (two processes, two hosts) see one state."""
    async with open_ledger("b") as first, open_ledger("b") as second:

        async def write(ledger: Ledger, prefix: str) -> None:
            for i in range(10):
                await ledger.put(_state(f"{prefix}{i}"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(write, first, "x")
            tg.start_soon(write, second, "y")
        assert len(await first.all()) == 20
        assert len(await second.events()) == 20


async def test_closed_ledger_refuses_use(open_ledger: OpenLedger) -> None:
    """A ledger used after it was closed raises LedgerError, never a driver error."""
    async with open_ledger("b") as ledger:
        pass
    with pytest.raises(LedgerError, match="not open"):
        await ledger.get("alice")


async def test_binding_is_per_batch_and_durable(open_ledger: OpenLedger) -> None:
    """A batch's binding is None until bound, survives a reopen, can be replaced, and is the
    batch's own (another batch on the same store is not bound by it)."""
    async with open_ledger("b") as ledger:
        assert await ledger.binding() is None
        await ledger.bind("huawei-metastudio emulator project_id=0")
    async with open_ledger("b") as ledger:
        assert await ledger.binding() == "huawei-metastudio emulator project_id=0"
        await ledger.bind("huawei-metastudio https://x project_id=0")
        assert await ledger.binding() == "huawei-metastudio https://x project_id=0"
    async with open_ledger("other") as ledger:
        assert await ledger.binding() is None
