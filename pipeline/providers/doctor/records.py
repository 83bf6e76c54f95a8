"""What ``voice-onboard doctor`` finds: one frozen ``Check`` per row, and their verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """A check's outcome: ``warn`` is worth reading but does not stop a run; ``fail`` does."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


class Verdict(StrEnum):
    """What the checks add up to (the command turns it into an exit code)."""

    OK = "ok"  #: nothing failed (warnings allowed)
    CONFIG = "config"  #: a configuration problem: a key, a quota, a SAS URL, the clock
    UNREACHABLE = "unreachable"  #: the endpoint did not answer; the other checks could not run


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One row of the doctor's report."""

    name: str
    status: Status
    detail: str  #: what was found, in one line (never a secret)
    fix: str = ""  #: what to do about it; empty when nothing needs doing
    #: a failure because nothing answered (exit 3), not because something is misconfigured
    unreachable: bool = False

    def to_json(self) -> dict[str, str]:
        """The row in ``doctor --json``'s stable shape."""
        return {
            "name": self.name,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix,
        }


def ok(name: str, detail: str) -> Check:
    return Check(name=name, status=Status.OK, detail=detail)


def warn(name: str, detail: str, fix: str = "") -> Check:
    return Check(name=name, status=Status.WARN, detail=detail, fix=fix)


def fail(name: str, detail: str, fix: str, *, unreachable: bool = False) -> Check:
    return Check(name=name, status=Status.FAIL, detail=detail, fix=fix, unreachable=unreachable)


def verdict(checks: Iterable[Check]) -> Verdict:
    """UNREACHABLE when a check failed for want of an answer (the diagnosis is incomplete),
    else CONFIG when any check failed, else OK."""
    failed = [c for c in checks if c.status is Status.FAIL]
    if any(c.unreachable for c in failed):
        return Verdict.UNREACHABLE
    return Verdict.CONFIG if failed else Verdict.OK


def span(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``20 min``, ``6 h``, ``3 d``."""
    s = abs(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 2 * 3600:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.1f} d".replace(".0 d", " d")
