"""The PostgreSQL schema of voice-onboarding, as numbered migrations applied in order.

``PostgresLedger`` applies the pending ones when it opens, so every command that touches a
shared ledger (``run``, ``enqueue``, ``worker``, ``manifest``) brings the schema up to date;
concurrent openers serialize on an advisory lock, and each migration runs in one transaction
with its row in ``voice_onboard_migrations``. Migrations are append-only: never edit one that
has shipped, add the next number.

The SQL lives here as Python strings, not ``.sql`` files, so it ships in any install of the
package (wheels carry modules, not stray data files). Every table is prefixed
``voice_onboard_``: the database is usually shared with procrastinate's tables and others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    """One step of the schema."""

    version: int  #: 1, 2, 3 … in the order they apply
    name: str  #: what it does, for the migrations table and error messages
    sql: str  #: one or more statements, no parameters


MIGRATIONS: Final = (
    Migration(
        version=1,
        name="ledger: voices and their stage events",
        # The same columns as the SQLite ledger; JSON columns are jsonb so they can be queried.
        sql="""
CREATE TABLE voice_onboard_voices (
    batch text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    voice_name text NOT NULL,
    stage text NOT NULL,
    status text NOT NULL,
    remote jsonb NOT NULL,
    uploaded jsonb NOT NULL,
    attempts integer NOT NULL,
    last_error text,
    findings jsonb NOT NULL,
    history jsonb NOT NULL,
    updated_at double precision NOT NULL,
    PRIMARY KEY (batch, key)
);
CREATE TABLE voice_onboard_events (
    id bigserial PRIMARY KEY,
    batch text NOT NULL,
    key text NOT NULL,
    stage text NOT NULL,
    status text NOT NULL,
    at double precision NOT NULL,
    detail text
);
CREATE INDEX voice_onboard_events_by_voice ON voice_onboard_events (batch, key, id);
""",
    ),
    Migration(
        version=2,
        name="scale-out: one request window per provider account and API kind",
        # One row per (scope, kind) that acquirers lock FOR UPDATE; one row per request slot
        # (started, finished) counted in the window (pipeline.scaleout.ratelimit).
        sql="""
CREATE TABLE voice_onboard_rate_windows (
    scope text NOT NULL,
    kind text NOT NULL,
    PRIMARY KEY (scope, kind)
);
CREATE TABLE voice_onboard_rate_slots (
    id bigserial PRIMARY KEY,
    scope text NOT NULL,
    kind text NOT NULL,
    started_at double precision NOT NULL,
    finished_at double precision
);
CREATE INDEX voice_onboard_rate_slots_by_window ON voice_onboard_rate_slots (scope, kind);
""",
    ),
    Migration(
        version=3,
        name="ledger: the provider account each batch's remote ids belong to",
        # A batch run on the emulator must not be mistaken for one on a real account.
        sql="""
CREATE TABLE voice_onboard_bindings (
    batch text PRIMARY KEY,
    binding text NOT NULL,
    bound_at double precision NOT NULL
);
""",
    ),
)

#: The schema version this code expects; a database at a newer one is refused.
LATEST: Final = MIGRATIONS[-1].version
