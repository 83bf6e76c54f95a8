"""Scripted outcomes of provider calls, per voice: what the in-memory provider plays.

A :class:`Script` says, for one voice, how its create, upload and submit calls go (a sequence
of :class:`Outcome`, each succeeding or failing with a :class:`Fault`) and which remote states
its job shows when polled. :mod:`pipeline.providers.memory` plays them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Fault", "Outcome", "Script", "Step"]


class Step(enum.StrEnum):
    """A per-voice provider call that a script can make fail."""

    CREATE = "create"
    UPLOAD = "upload"
    SUBMIT = "submit"


class Fault(enum.StrEnum):
    """How one scripted call goes wrong."""

    #: ProviderUnavailable before anything happened remotely (the request never arrived).
    UNAVAILABLE = "unavailable"
    #: The side effect happened, the answer was lost: create raises AmbiguousCreate after
    #: making the job; upload raises ProviderUnavailable after storing the object; submit
    #: raises ProviderUnavailable after the commit landed.
    LOST_ANSWER = "lost_answer"
    #: ProviderProtocolError: an answer that makes no sense (retried like unavailable).
    PROTOCOL = "protocol"
    #: ProviderRejected: a 4xx that retrying will not fix.
    REJECTED = "rejected"
    #: AuthenticationFailed: our credentials were refused (stops the run).
    AUTH = "auth"
    #: UploadRejected: the object store refused a PUT (its URL refreshes were spent).
    UPLOAD_REJECTED = "upload_rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one scripted call does: succeed (``fault`` None) or fail with ``fault``.

    ``times``: how many consecutive calls this outcome covers. ``after`` (upload only): the
    fault strikes once this many objects of the call were stored (or at the end of a call
    that stores fewer), so a test can see an upload resume where it stopped."""

    fault: Fault | None = None
    times: int = 1
    after: int = 0
    message: str | None = None

    def __post_init__(self) -> None:
        # A script that covers no call at all is a typo in a test, not an intention.
        if self.times < 1:
            raise ValueError(f"Outcome.times must be >= 1 (got {self.times})")
        if self.after < 0:
            raise ValueError(f"Outcome.after must be >= 0 (got {self.after})")

    @classmethod
    def ok(cls, times: int = 1) -> Outcome:
        return cls(None, times)

    @classmethod
    def unavailable(cls, times: int = 1, *, after: int = 0) -> Outcome:
        return cls(Fault.UNAVAILABLE, times, after)

    @classmethod
    def lost_answer(cls, times: int = 1) -> Outcome:
        return cls(Fault.LOST_ANSWER, times)

    @classmethod
    def protocol(cls, times: int = 1) -> Outcome:
        return cls(Fault.PROTOCOL, times)

    @classmethod
    def rejected(cls, message: str | None = None) -> Outcome:
        return cls(Fault.REJECTED, message=message)

    @classmethod
    def auth(cls) -> Outcome:
        return cls(Fault.AUTH)

    @classmethod
    def upload_rejected(cls, message: str | None = None, *, after: int = 0) -> Outcome:
        return cls(Fault.UPLOAD_REJECTED, after=after, message=message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    """The scripted behaviour of one voice at the provider.

    ``create``/``upload``/``submit``: outcomes played in call order; once they are used up,
    every further call succeeds. ``poll``: the remote states the job shows, one per polling
    round after its commit; the last one repeats (a final one ends the voice)."""

    create: tuple[Outcome, ...] = ()
    upload: tuple[Outcome, ...] = ()
    submit: tuple[Outcome, ...] = ()
    poll: tuple[str, ...] = ("TRAINING", "SUCCEED")
    asset_id: str | None = None  #: reported on SUCCEED (default: derived from the job id)
    failed_reason: str = "training failed"  #: reported on FAILED and AUDIT_FAILED

    def __post_init__(self) -> None:
        if not self.poll:
            raise ValueError("Script.poll needs at least one remote state")

    @classmethod
    def on(cls, step: Step, *outcomes: Outcome) -> Script:
        """A script whose ``step`` plays ``outcomes`` (every other call succeeds); for tests
        parametrized over the step."""
        match step:
            case Step.CREATE:
                return cls(create=outcomes)
            case Step.UPLOAD:
                return cls(upload=outcomes)
            case Step.SUBMIT:
                return cls(submit=outcomes)

    def outcomes(self, step: Step) -> tuple[Outcome, ...]:
        match step:
            case Step.CREATE:
                return self.create
            case Step.UPLOAD:
                return self.upload
            case Step.SUBMIT:
                return self.submit
