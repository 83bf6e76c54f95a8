"""What only the PostgreSQL ledger promises: migrations, selection, and messages without secrets.

The behaviour both ledgers share is in test_ledger_contract.py. Real server, fresh schema per test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import psycopg
import pytest

from pipeline.config import load_job
from pipeline.errors import LedgerError
from pipeline.ledger import open_ledger
from pipeline.ledger.migrations import LATEST, MIGRATIONS
from pipeline.ledger.postgres import PostgresLedger, describe_url
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.scaleout.testing import require_test_database, scratch_schema, with_search_path

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL into a fresh schema of the test server."""
    with scratch_schema(require_test_database()) as url:
        yield url


def _versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version FROM voice_onboard_migrations ORDER BY version")
        return [int(r[0]) for r in rows.fetchall()]


async def test_migrations_apply_once(pg_url: str) -> None:
    """The first open applies every migration and records it; later opens apply nothing."""
    async with PostgresLedger(pg_url, "b"):
        pass
    async with PostgresLedger(pg_url, "b"):
        pass
    assert _versions(pg_url) == [m.version for m in MIGRATIONS]
    assert _versions(pg_url)[-1] == LATEST


async def test_concurrent_first_opens_migrate_once(pg_url: str) -> None:
    """Workers starting together on an empty database do not trip over each other."""

    async def open_one() -> None:
        async with PostgresLedger(pg_url, "b"):
            pass

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(open_one)
    assert _versions(pg_url) == [m.version for m in MIGRATIONS]


async def test_newer_schema_is_refused(pg_url: str) -> None:
    """A database migrated by a newer voice-onboard is not written by an older one."""
    async with PostgresLedger(pg_url, "b"):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO voice_onboard_migrations (version, name) VALUES (%s, 'future')",
            (LATEST + 1,),
        )
    with pytest.raises(LedgerError, match=f"schema {LATEST + 1} is newer"):
        async with PostgresLedger(pg_url, "b"):
            pass


async def test_unreachable_server_message_has_no_password() -> None:
    """A refused connection is a LedgerError naming the server, never the password."""
    url = "postgresql://voice:s3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(LedgerError) as caught:
        async with PostgresLedger(url, "b"):
            pass
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert "postgresql://voice@127.0.0.1:1/nowhere" in message
    assert describe_url(url) == "postgresql://voice@127.0.0.1:1/nowhere"


async def test_missing_schema_is_a_ledger_error() -> None:
    """A search_path naming no existing schema gives a LedgerError, not a driver traceback."""
    url = with_search_path(require_test_database(), "vo_test_does_not_exist")
    with pytest.raises(LedgerError, match="cannot open ledger"):
        async with PostgresLedger(url, "b"):
            pass


def test_job_file_or_environment_selects_postgres(
    pg_url: str, write_job: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[batch] ledger` or VOICE_ONBOARD_DATABASE_URL picks PostgreSQL; neither keeps SQLite."""
    plain = load_job(write_job())
    assert isinstance(open_ledger(plain), SqliteLedger)
    monkeypatch.setenv("VOICE_ONBOARD_DATABASE_URL", pg_url)
    from_env = load_job(write_job(name="env.toml"), os.environ)
    assert from_env.ledger_url == pg_url
    assert isinstance(open_ledger(from_env), PostgresLedger)
    monkeypatch.delenv("VOICE_ONBOARD_DATABASE_URL")
    path = write_job(name="file.toml")
    text = path.read_text(encoding="utf-8").replace(
        "[batch]\n", f'[batch]\nledger = "{pg_url}"\n', 1
    )
    path.write_text(text, encoding="utf-8")
    assert isinstance(open_ledger(load_job(path)), PostgresLedger)
