"""An in-memory provider with scripted outcomes, for fast tests of the runner's state machine.

Like procrastinate's in-memory connector, it implements the real Protocol (``providers.base``)
against data structures instead of a service: no network, no files read, no sleeping beyond anyio
checkpoints. It moves states the way the Huawei provider does (create → ``created`` with a
``job_id``; upload → ``uploaded``; submit → ``submitted``; poll → ``done`` with a status), and it
keeps its own "remote side" (:attr:`MemoryProvider.jobs`, counters of creates, uploads and
commits) so a test can assert what the service would have seen, e.g. exactly one job per voice.

Each voice key may carry a :class:`Script`: for create, upload and submit a sequence of
:class:`Outcome` (played in order, one call each, then every further call succeeds), and for
poll the remote states the job goes through until a final one. ::

    provider = MemoryProvider(
        {"alice": Script(create=(Outcome.lost_answer(),), poll=("TRAINING", "SUCCEED"))}
    )

A lost answer is the case that makes a provider hard: the side effect happened (the job exists,
the object is stored, the commit landed) but the caller got an error. A later call must then
reconcile (adopt the job, see that the commit landed) rather than repeat it; the counters show
whether it did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import anyio.lowlevel

from pipeline.errors import (
    AmbiguousCreate,
    AuthenticationFailed,
    NotFound,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    UploadRejected,
)
from pipeline.providers.base import Save, vanished
from pipeline.providers.script import Fault, Outcome, Script, Step
from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceState, VoiceStatus

__all__ = [
    "CREATING",
    "WAITING",
    "Fault",
    "MemoryProvider",
    "Outcome",
    "RemoteJob",
    "Script",
    "Step",
]

#: The remote state of a job that exists but was not committed (Huawei's word for it): files
#: may still be uploaded; adopting such a job means uploading everything again.
CREATING: Final = "CREATING"
#: The remote state right after a commit, before the first poll shows anything else.
WAITING: Final = "WAITING"

#: Final remote states and what they mean for the voice (the same table as Huawei's).
_FINAL: Final[Mapping[str, tuple[VoiceStatus, str | None]]] = {
    "SUCCEED": (VoiceStatus.SUCCEEDED, None),
    "FAILED": (VoiceStatus.FAILED, "remote.job_failed"),
    "AUDIT_FAILED": (VoiceStatus.NEEDS_ATTENTION, "remote.audit_failed"),
}

#: The objects an upload stores for a voice: one package (the clips) and, when the voice has
#: one, the authorization letter. Named like the Huawei provider's ``uploaded`` entries.
_PACKAGE: Final = "package"
_AUTHORIZATION: Final = "authorization"


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteJob:
    """One job as the service holds it."""

    job_id: str
    batch: str
    voice_name: str  #: what a reconciling create matches on (exactly)
    #: the fingerprint the job was created for; recorded for tests to assert on, not matched
    #: (a changed voice still adopts its uncommitted job, as the Huawei provider does)
    marker: str
    state: str = CREATING  #: remote state (CREATING until committed)
    objects: Mapping[str, str] = field(default_factory=dict)  #: object name → fingerprint stored
    commits: int = 0  #: commit calls that reached this job
    polls: int = 0  #: polling rounds that saw it after its commit


class MemoryProvider:
    """The Provider protocol over in-memory "remote" records and per-voice scripts.

    ``scripts``: by voice key; a voice without one gets ``default`` (everything succeeds and
    the job trains in two polling rounds). ``poll_faults``: the first this many polling rounds
    raise ProviderUnavailable (the await stage must ride them out). Jobs are filed under their
    state's batch (a reconciling create looks only there); ``batch`` is the one :meth:`seed`
    files under by default."""

    def __init__(
        self,
        scripts: Mapping[str, Script] | None = None,
        *,
        default: Script | None = None,
        batch: str = "t",
        poll_faults: int = 0,
        object_bytes: int = 1024,
    ) -> None:
        self._scripts = dict(scripts or {})
        self._default = default or Script()
        self._batch = batch
        self._poll_faults = poll_faults
        self._object_bytes = object_bytes
        self._calls: Counter[tuple[str, Step]] = Counter()
        self._script_of_job: dict[str, Script] = {}
        self._next_id = 1
        #: The service's jobs by id, in creation order (the "remote side" tests assert on).
        self.jobs: dict[str, RemoteJob] = {}
        #: Jobs made per voice key (a second one for a voice means a lost answer was repeated).
        self.creates: Counter[str] = Counter()
        #: Objects stored per voice key (a PUT that overwrites counts again).
        self.uploads: Counter[str] = Counter()
        #: Commits that started a training, per voice key.
        self.commits: Counter[str] = Counter()
        #: Polling rounds (bulk: one per await round, however many voices are pending).
        self.poll_rounds = 0
        self.bytes_uploaded = 0

    # -- inspection and set-up ---------------------------------------------------------------

    def describe(self) -> Mapping[str, str]:
        return {"kind": "memory", "batch": self._batch}

    def calls(self, key: str, step: Step) -> int:
        """How many times ``step`` was called for voice ``key`` (successful or not)."""
        return self._calls[(key, step)]

    def jobs_of(self, voice_name: str) -> list[RemoteJob]:
        """The remote jobs that carry ``voice_name``, oldest first."""
        return [j for j in self.jobs.values() if j.voice_name == voice_name]

    def seed(
        self,
        voice_name: str,
        *,
        state: str = CREATING,
        marker: str = "",
        script: Script | None = None,
        batch: str | None = None,
    ) -> RemoteJob:
        """Put a job on the remote side as if an earlier run (or someone else) had made it;
        ``script`` drives its polling (default: the provider's default script)."""
        job = self._new_job(voice_name, marker, batch or self._batch, state=state)
        self._script_of_job[job.job_id] = script or self._default
        return job

    def script(self, key: str) -> Script:
        return self._scripts.get(key, self._default)

    # -- scripted faults ---------------------------------------------------------------------

    def _outcome(self, key: str, step: Step) -> Outcome:
        """The outcome of this call of ``step`` for voice ``key`` (and count the call)."""
        n = self._calls[(key, step)]
        self._calls[(key, step)] += 1
        for outcome in self.script(key).outcomes(step):
            if n < outcome.times:
                return outcome
            n -= outcome.times
        return Outcome.ok()

    def _raise(self, outcome: Outcome, key: str, step: Step) -> None:
        """Raise the error ``outcome`` stands for (LOST_ANSWER is raised by each step, since
        its side effect comes first)."""
        what = outcome.message or f"scripted {outcome.fault} on {step} of {key}"
        match outcome.fault:
            case None | Fault.LOST_ANSWER:
                return
            case Fault.UNAVAILABLE:
                raise ProviderUnavailable(what, status=503)
            case Fault.PROTOCOL:
                raise ProviderProtocolError(what, status=200)
            case Fault.REJECTED:
                raise ProviderRejected(what, status=400)
            case Fault.AUTH:
                raise AuthenticationFailed(what, status=401)
            case Fault.UPLOAD_REJECTED:
                raise UploadRejected(what, status=403)

    # -- create ------------------------------------------------------------------------------

    def _new_job(self, voice_name: str, marker: str, batch: str, *, state: str) -> RemoteJob:
        # Sequential ids keep tests deterministic (and readable in assertion messages).
        job = RemoteJob(
            job_id=f"mem-{self._next_id:04d}",
            batch=batch,
            voice_name=voice_name,
            marker=marker,
            state=state,
        )
        self._next_id += 1
        self.jobs[job.job_id] = job
        return job

    def _find_earlier(
        self, batch: str, voice_name: str, taken: Collection[str]
    ) -> RemoteJob | None:
        """This batch's earlier job for the voice name, the way the Huawei provider looks for
        one: the exact name, in this batch, and never an id another voice of the ledger holds
        (or one this voice gave up before: its history)."""
        jobs = [
            j
            for j in self.jobs.values()
            if j.batch == batch and j.voice_name == voice_name and j.job_id not in taken
        ]
        # The newest is the one a previous run of ours made last.
        return jobs[-1] if jobs else None

    def _adopt(self, state: VoiceState, job: RemoteJob) -> VoiceState:
        remote = state.with_remote(job_id=job.job_id, state=job.state)
        if job.state == CREATING:
            # Not committed: its files may be missing or stale, so everything goes up again.
            return state.advance(Phase.CREATED, remote=remote, uploaded=())
        # Committed already (a final state is finished by the next poll).
        return state.advance(Phase.SUBMITTED, remote=remote)

    async def create(
        self, voice: PreparedVoice, state: VoiceState, save: Save, *, taken: Collection[str] = ()
    ) -> VoiceState:
        # A checkpoint per call: cancellation reaches it and other voices' tasks interleave,
        # as they would around a network call.
        await anyio.lowlevel.checkpoint()
        outcome = self._outcome(voice.key, Step.CREATE)
        if outcome.fault is not Fault.LOST_ANSWER:
            self._raise(outcome, voice.key, Step.CREATE)
        # No idempotency key (as at Huawei): reconcile first, create only when nothing fits.
        earlier = self._find_earlier(state.batch, state.voice_name, {*taken, *state.history})
        if earlier is not None:
            return self._adopt(state, earlier)
        job = self._new_job(state.voice_name, voice.fingerprint, state.batch, state=CREATING)
        self._script_of_job[job.job_id] = self.script(voice.key)
        self.creates[voice.key] += 1
        if outcome.fault is Fault.LOST_ANSWER:
            raise AmbiguousCreate(f"scripted lost answer on create of {voice.key} ({job.job_id})")
        return state.advance(
            Phase.CREATED,
            remote=state.with_remote(job_id=job.job_id, state=CREATING),
            uploaded=(),
        )

    # -- upload ------------------------------------------------------------------------------

    def _job(self, state: VoiceState) -> RemoteJob:
        job_id = state.remote.get("job_id", "")
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"job {job_id or '(none)'} does not exist", status=404)
        return job

    async def upload(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        await anyio.lowlevel.checkpoint()
        outcome = self._outcome(voice.key, Step.UPLOAD)
        job = self._job(state)
        names = [_PACKAGE] + ([_AUTHORIZATION] if voice.authorization is not None else [])
        # A fault other than a lost answer strikes once ``after`` objects of this call are
        # stored, or at the end of the call if it stores fewer (the objects stay stored).
        pending = outcome.fault is not None and outcome.fault is not Fault.LOST_ANSWER
        stored = 0
        for name in names:
            if name in state.uploaded:
                continue  # stored by an earlier call: resume after it
            if pending and stored >= outcome.after:
                self._raise(outcome, voice.key, Step.UPLOAD)
            await anyio.lowlevel.checkpoint()
            job = replace(job, objects={**job.objects, name: voice.fingerprint})
            self.jobs[job.job_id] = job
            self.uploads[voice.key] += 1
            self.bytes_uploaded += self._object_bytes
            stored += 1
            if outcome.fault is Fault.LOST_ANSWER:
                # Stored, but we never heard so: the state does not list it, a retry PUTs again.
                raise ProviderUnavailable(f"scripted lost answer on upload of {voice.key}")
            state = replace(state, uploaded=(*state.uploaded, name))
            await save(state)  # progress inside the stage, as the real providers checkpoint
        if pending:
            self._raise(outcome, voice.key, Step.UPLOAD)
        return state.advance(Phase.UPLOADED)

    # -- submit ------------------------------------------------------------------------------

    async def submit(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        await anyio.lowlevel.checkpoint()
        outcome = self._outcome(voice.key, Step.SUBMIT)
        if outcome.fault is not Fault.LOST_ANSWER:
            self._raise(outcome, voice.key, Step.SUBMIT)
        job = self._job(state)
        # The job's own state says whether an earlier commit (whose answer was lost) landed:
        # commit only a job that is still CREATING, never twice.
        if job.state == CREATING:
            job = replace(job, state=WAITING, commits=job.commits + 1)
            self.jobs[job.job_id] = job
            self.commits[voice.key] += 1
            if outcome.fault is Fault.LOST_ANSWER:
                raise ProviderUnavailable(f"scripted lost answer on submit of {voice.key}")
        return state.advance(Phase.SUBMITTED, remote=state.with_remote(state=job.state))

    # -- await -------------------------------------------------------------------------------

    async def poll(
        self, states: Sequence[VoiceState], voices: Mapping[str, PreparedVoice]
    ) -> list[VoiceState]:
        await anyio.lowlevel.checkpoint()
        self.poll_rounds += 1
        if self.poll_rounds <= self._poll_faults:
            raise ProviderUnavailable(f"scripted poll failure (round {self.poll_rounds})")
        changed: list[VoiceState] = []
        for state in states:
            job_id = state.remote.get("job_id", "")
            job = self.jobs.get(job_id)
            if job is None:
                changed.append(vanished(state, f"job {job_id} no longer exists at the provider"))
                continue
            script = self._script_of_job.get(job_id, self._default)
            if job.state != CREATING:
                # Each round moves a committed job one step along its script.
                remote_state = script.poll[min(job.polls, len(script.poll) - 1)]
                job = replace(job, state=remote_state, polls=job.polls + 1)
                self.jobs[job_id] = job
            changed.extend(self._changed(state, job, script))
        return changed

    def _changed(self, state: VoiceState, job: RemoteJob, script: Script) -> list[VoiceState]:
        """The state a polling round makes of ``job`` ([] when nothing is new)."""
        final = _FINAL.get(job.state)
        if final is None:
            if job.state == state.remote.get("state"):
                return []
            return [replace(state, remote=state.with_remote(state=job.state))]
        status, code = final
        asset_id = (script.asset_id or f"asset-{job.job_id}") if code is None else None
        remote = state.with_remote(state=job.state, asset_id=asset_id)
        findings = state.findings
        last_error = None
        if code is not None:
            last_error = script.failed_reason
            finding = Finding(severity=Severity.ERROR, code=code, file=None, message=last_error)
            findings = (*findings, finding)
        return [
            state.advance(
                Phase.DONE, status=status, remote=remote, findings=findings, last_error=last_error
            )
        ]
