"""The Provider protocol: what the runner needs from a voice-training service.

The runner never knows which service it talks to. It writes the intent stage (``creating``,
``submitting``) to the ledger before calling ``create``/``submit``; a provider receiving a
state that is already at an intent stage knows a previous attempt may have reached the service
and must reconcile (Huawei: list and adopt; Azure: the same deterministic ids).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceState, VoiceStatus

if TYPE_CHECKING:  # the HTTP layer (aiohttp) loads only when a provider is opened
    from pipeline.providers.http.reachability import Reachability

#: Writes a state to the ledger (durably) before the provider goes on; used for progress
#: inside a stage, e.g. after each uploaded object.
Save = Callable[[VoiceState], Awaitable[None]]


class Provider(Protocol):
    """One voice-training service behind one interface."""

    @property
    def bytes_uploaded(self) -> int:
        """Bytes stored remotely by this run so far (for progress and metrics)."""
        ...

    def describe(self) -> Mapping[str, str]:
        """The manifest's ``provider`` object (kind, edition, endpoint …; no secrets)."""
        ...

    async def create(
        self, voice: PreparedVoice, state: VoiceState, save: Save, *, taken: Collection[str] = ()
    ) -> VoiceState:
        """Make the remote job/resources exist; returns a ``created`` (or ``done``) state.
        ``taken``: remote ids other voices of the ledger hold, which this voice must never
        adopt (a reconciled create is matched by more than its name)."""
        ...

    async def upload(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        """Store every file remotely; returns an ``uploaded`` (or ``done``) state."""
        ...

    async def submit(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        """Start training; returns a ``submitted`` (or ``done``) state."""
        ...

    async def poll(
        self, states: Sequence[VoiceState], voices: Mapping[str, PreparedVoice]
    ) -> list[VoiceState]:
        """One polling round over the batch's submitted voices (bulk list calls, not one GET
        per voice); returns the states that changed. ``voices`` are this run's prepared voices,
        for mapping remote file names back to inbox files."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantLimits:
    """What the account allows before anything is created (Huawei: quotas, durations)."""

    quota: int | None  #: trainings left for this run's edition; None = not reported
    quota_name: str  #: the field it was read from, for messages
    min_total_s: float | None = None  #: the account's total-duration range per voice
    max_total_s: float | None = None
    duration_source: str = ""  #: where the range comes from, for findings


@runtime_checkable
class TenantAware(Protocol):
    """A provider whose account has limits worth reading once per run, before creating."""

    async def tenant(self) -> TenantLimits:
        """The account's quota and limits for this run's kind of job."""
        ...


@runtime_checkable
class Watched(Protocol):
    """A provider over HTTP, whose requests tell whether the service answers at all."""

    reachability: Reachability


@runtime_checkable
class Verifier(Protocol):
    """A provider that can tell whether finished voices still exist remotely (Azure: a
    consent or personal voice can be deleted after it succeeded). Read-only at the provider."""

    async def verify(self, states: Sequence[VoiceState]) -> list[VoiceState]:
        """The succeeded voices of ``states`` whose remote resources are gone, each as its new
        state (``needs_attention`` with a ``remote.deleted`` finding); the others are left out."""
        ...


def vanished(state: VoiceState, message: str) -> VoiceState:
    """A submitted voice whose remote job no longer exists (deleted by someone): it failed."""
    finding = Finding(severity=Severity.ERROR, code="remote.job_failed", file=None, message=message)
    return state.advance(
        Phase.DONE,
        status=VoiceStatus.FAILED,
        findings=(*state.findings, finding),
        last_error=message,
    )
