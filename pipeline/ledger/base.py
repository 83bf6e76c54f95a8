"""The ledger's record and Protocol: durable per-voice state that makes every re-run safe.

The runner writes the *intent* of a remote side effect (stage ``creating``, ``submitting``)
before making the call, and the result after it. A voice whose last record is an intent is
reconciled with the provider on the next run instead of repeating the call blindly.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from pipeline.errors import LedgerError
from pipeline.records import Finding, Severity, VoiceStatus


class Stage(enum.StrEnum):
    """How far a voice has come on the remote side, in order."""

    PREPARED = "prepared"  #: passed pre-flight; nothing sent yet
    CREATING = "creating"  #: intent: a create call may be in flight
    CREATED = "created"  #: the remote job/resources exist; ids recorded
    UPLOADED = "uploaded"  #: every file is stored remotely
    SUBMITTING = "submitting"  #: intent: a commit call may be in flight
    SUBMITTED = "submitted"  #: the provider is working; poll it
    DONE = "done"  #: terminal: status says how it ended

    @property
    def order(self) -> int:
        return _ORDER[self]


_ORDER = {stage: i for i, stage in enumerate(Stage)}


#: The ``remote`` keys that name a remote job or resource (not an asset or a state).
JOB_ID_KEYS = ("job_id", "consent_id", "personal_voice_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceState:
    """What the ledger knows about one voice of one batch."""

    batch: str
    key: str  #: the voice folder name
    fingerprint: str  #: of the inputs this state belongs to
    voice_name: str
    stage: Stage
    status: VoiceStatus
    remote: Mapping[str, str] = field(default_factory=dict)  #: job_id, asset_id, state …
    uploaded: tuple[str, ...] = ()  #: names of objects already stored remotely
    attempts: int = 0  #: provider calls that failed for this voice
    last_error: str | None = None
    findings: tuple[Finding, ...] = ()  #: from the provider (audit result, failure reason)
    history: tuple[str, ...] = ()  #: earlier remote job ids (replaced after a retry)
    updated_at: float = field(default_factory=time.time)

    def advance(self, stage: Stage, **changes: object) -> VoiceState:
        """A copy at ``stage`` with the given fields changed and a fresh timestamp."""
        return replace(self, stage=stage, updated_at=time.time(), **changes)  # type: ignore[arg-type]

    @property
    def job_ids(self) -> tuple[str, ...]:
        """The remote job/resource ids this state holds now (see JOB_ID_KEYS)."""
        return tuple(self.remote[k] for k in JOB_ID_KEYS if self.remote.get(k))

    def with_remote(self, **values: str | None) -> dict[str, str]:
        merged = dict(self.remote)
        for k, v in values.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class StageEvent:
    """One stage change of one voice (for timelines and status ages)."""

    key: str
    stage: Stage
    status: VoiceStatus
    at: float
    detail: str | None = None


class Ledger(Protocol):
    """Durable state of one batch. Every ``put`` is on disk (or committed) before it returns."""

    @property
    def batch(self) -> str: ...

    async def get(self, key: str) -> VoiceState | None: ...

    async def put(self, state: VoiceState, *, detail: str | None = None) -> None: ...

    async def all(self) -> list[VoiceState]: ...

    async def events(self, key: str | None = None) -> list[StageEvent]: ...

    async def binding(self) -> str | None:
        """Which provider account this batch's remote ids belong to (None: not bound yet)."""
        ...

    async def bind(self, binding: str) -> None:
        """Record (or replace) the batch's binding; durable before it returns."""
        ...

    async def aclose(self) -> None: ...


#: The column order both ledgers store a VoiceState in.
COLUMNS = (
    "batch",
    "key",
    "fingerprint",
    "voice_name",
    "stage",
    "status",
    "remote",
    "uploaded",
    "attempts",
    "last_error",
    "findings",
    "history",
    "updated_at",
)


def to_row(s: VoiceState, encode: Callable[[object], object]) -> tuple[object, ...]:
    """A state as a row in COLUMNS order; ``encode`` stores a JSON value (text for SQLite,
    jsonb for PostgreSQL)."""
    return (
        s.batch,
        s.key,
        s.fingerprint,
        s.voice_name,
        str(s.stage),
        str(s.status),
        encode(dict(sorted(s.remote.items()))),
        encode(list(s.uploaded)),
        s.attempts,
        s.last_error,
        encode(findings_to_json(s.findings)),
        encode(list(s.history)),
        s.updated_at,
    )


def from_row(row: Sequence[Any], decode: Callable[[Any], Any]) -> VoiceState:
    """A row in COLUMNS order as a state; ``decode`` reads a stored JSON value. A row that
    does not fit is a LedgerError naming the voice."""
    try:
        remote: Mapping[str, object] = decode(row[6])
        return VoiceState(
            batch=str(row[0]),
            key=str(row[1]),
            fingerprint=str(row[2]),
            voice_name=str(row[3]),
            stage=Stage(str(row[4])),
            status=VoiceStatus(str(row[5])),
            remote={str(k): str(v) for k, v in remote.items()},
            uploaded=tuple(str(x) for x in decode(row[7])),
            attempts=int(row[8]),
            last_error=None if row[9] is None else str(row[9]),
            findings=findings_from_json(decode(row[10])),
            history=tuple(str(x) for x in decode(row[11])),
            updated_at=float(row[12]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LedgerError(f"corrupt ledger row for voice {row[1]!r}: {exc}") from None


def findings_to_json(findings: Sequence[Finding]) -> list[dict[str, str | None]]:
    return [f.as_json() for f in findings]


def findings_from_json(items: Sequence[Mapping[str, object]]) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for item in items:
        out.append(
            Finding(
                severity=Severity(str(item["severity"])),
                code=str(item["code"]),
                file=None if item.get("file") is None else str(item["file"]),
                message=str(item["message"]),
            )
        )
    return tuple(out)
