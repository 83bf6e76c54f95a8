"""Durable run state: SQLite in ``state_dir`` by default; PostgreSQL for scale-out."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from pipeline.config import JobConfig
from pipeline.ledger.base import Ledger

__all__ = ["Ledger", "open_ledger"]


def open_ledger(
    config: JobConfig, *, read_only: bool = False
) -> AbstractAsyncContextManager[Ledger]:
    """The batch's ledger: ``[batch] ledger`` / ``VOICE_ONBOARD_DATABASE_URL`` when set
    (PostgreSQL), else the SQLite file in ``state_dir`` (``read_only``: never created or
    written, for ``status``)."""
    if config.ledger_url:
        from pipeline.ledger.postgres import PostgresLedger

        return PostgresLedger(config.ledger_url, config.batch)
    from pipeline.ledger.sqlite import SqliteLedger

    return SqliteLedger(config.ledger_path, config.batch, read_only=read_only)
