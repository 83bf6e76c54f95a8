"""The ledger's record and Protocol: durable per-voice state that makes every re-run safe.

The runner writes the *intent* of a remote side effect (stage ``creating``, ``submitting``)
before making the call, and the result after it. A voice whose last record is an intent is
reconciled with the provider on the next run instead of repeating the call blindly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from pipeline.errors import LedgerError
from pipeline.records import Finding, Phase, PhaseEvent, Severity, VoiceState, VoiceStatus


class Ledger(Protocol):
    """Durable state of one batch. Every ``put`` is on disk (or committed) before it returns."""

    @property
    def batch(self) -> str: ...

    async def get(self, key: str) -> VoiceState | None: ...

    async def put(self, state: VoiceState, *, detail: str | None = None) -> None: ...

    async def all(self) -> list[VoiceState]: ...

    async def events(self, key: str | None = None) -> list[PhaseEvent]: ...

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
            stage=Phase(str(row[4])),
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
