"""The runner's state machine through the in-memory provider, with a real SQLite ledger.

Drives the real stages (``stages.send``, ``stages.await_``, ``stages.results``) against
``providers.memory.MemoryProvider``, whose scripts make every branch reachable in milliseconds:
retries within a voice's tries, deferral and resume, lost answers, rejections, the circuit
breaker, inputs changed before and after submission, claimed job ids, polling to the deadline.
The only thing patched is the module constant that paces a voice's tries (to 0 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.config import JobConfig, load_job
from pipeline.errors import CircuitOpen, DeadlineExceeded
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.providers.memory import CREATING, MemoryProvider, Outcome, Script, Step
from pipeline.records import (
    Finding,
    Phase,
    PreparedVoice,
    Severity,
    VoiceMeta,
    VoiceSource,
    VoiceState,
    VoiceStatus,
)
from pipeline.stages import send
from pipeline.stages.await_ import await_batch
from pipeline.stages.discover import discover
from pipeline.stages.results import collect_results, outcome
from pipeline.stages.send import Breaker, Claims, drive_voice, initial_state, send_all
from pipeline.stages.stream import Progress

pytestmark = pytest.mark.anyio

BATCH = "t"
TRIES = send._VOICE_TRIES
STEPS = (Step.CREATE, Step.UPLOAD, Step.SUBMIT)
#: Where a voice stops when a step keeps failing: the intent stages are durable before the call.
STOPS_AT = {Step.CREATE: Phase.CREATING, Step.UPLOAD: Phase.CREATED, Step.SUBMIT: Phase.SUBMITTING}


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    """A voice's tries pause ``_VOICE_PAUSE_S × try``; the state machine is the same at 0 s."""
    monkeypatch.setattr(send, "_VOICE_PAUSE_S", 0.0)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqliteLedger]:
    """A real SQLite ledger of batch ``t`` in the test's folder."""
    async with SqliteLedger(tmp_path / "var" / "ledger.sqlite3", BATCH) as led:
        yield led


@pytest.fixture
def job(write_job: Callable[..., Path]) -> Callable[..., JobConfig]:
    """A loaded job file (emulator endpoint) with the given [await] deadline and interval."""

    def load(*, deadline: str = "1h", interval: str = "1ms", extra: str = "") -> JobConfig:
        path = write_job(
            extra=f'[await]\ndeadline = "{deadline}"\npoll_interval = "{interval}"\n{extra}'
        )
        return load_job(path)

    return load


def voice(
    key: str,
    *,
    fingerprint: str | None = None,
    name: str | None = None,
    authorization: Path | None = None,
    findings: tuple[Finding, ...] = (),
) -> PreparedVoice:
    """A prepared voice without audio (the memory provider never reads files)."""
    return PreparedVoice(
        key=key,
        meta=VoiceMeta(voice_name=name or f"Voice {key}"),
        clips=(),
        authorization=authorization,
        consent=None,
        fingerprint=fingerprint or f"fp-{key}",
        findings=findings,
    )


def source(key: str) -> VoiceSource:
    """A discovered voice folder (for collect_results' view of the inbox)."""
    return VoiceSource(
        key=key,
        folder=Path("inbox") / key,
        meta=VoiceMeta(voice_name=f"Voice {key}"),
        wavs=(),
        transcript_files=(),
        authorization=None,
        consent=None,
    )


async def drive(
    v: PreparedVoice,
    ledger: SqliteLedger,
    provider: MemoryProvider,
    breaker: Breaker | None = None,
) -> VoiceState:
    """drive_voice, then the ledger's state of the voice."""
    await drive_voice(v, ledger, provider, breaker or Breaker(100))
    state = await ledger.get(v.key)
    assert state is not None
    return state


async def stages_of(ledger: SqliteLedger, key: str) -> list[Phase]:
    return [e.stage for e in await ledger.events(key)]


# -- create, upload, submit ------------------------------------------------------------------


async def test_create_upload_submit_succeed(ledger: SqliteLedger, tmp_path: Path) -> None:
    """A voice goes prepared → creating → created → uploaded → submitting → submitted."""
    provider = MemoryProvider()
    v = voice("a", authorization=tmp_path / "letter.pdf")
    state = await drive(v, ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.status is VoiceStatus.PENDING
    assert state.uploaded == ("package", "authorization")
    assert state.attempts == 0
    assert state.last_error is None
    [job] = provider.jobs.values()
    assert state.remote["job_id"] == job.job_id
    assert job.marker == "fp-a"
    assert set(job.objects) == {"package", "authorization"}
    assert (provider.creates["a"], provider.uploads["a"], provider.commits["a"]) == (1, 2, 1)
    assert provider.bytes_uploaded == 2 * 1024
    assert await stages_of(ledger, "a") == [
        Phase.PREPARED,
        Phase.CREATING,
        Phase.CREATED,
        Phase.UPLOADED,
        Phase.SUBMITTING,
        Phase.SUBMITTED,
    ]
    assert outcome(state) is VoiceStatus.PENDING


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("fault", [Outcome.unavailable, Outcome.protocol])
async def test_fault_recovered_within_tries(
    ledger: SqliteLedger, step: Step, fault: Callable[[int], Outcome]
) -> None:
    """A step that fails on all but the voice's last try still gets the voice submitted."""
    provider = MemoryProvider({"a": Script.on(step, fault(TRIES - 1))})
    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.attempts == TRIES - 1
    assert provider.calls("a", step) == TRIES
    assert len(provider.jobs) == 1
    assert provider.commits["a"] == 1


@pytest.mark.parametrize("step", STEPS)
async def test_unavailable_past_tries_defers_then_resumes(ledger: SqliteLedger, step: Step) -> None:
    """Past its tries a voice stays where it stopped (deferred); a later drive resumes it."""
    provider = MemoryProvider({"a": Script.on(step, Outcome.unavailable(TRIES))})
    breaker = Breaker(100)
    state = await drive(voice("a"), ledger, provider, breaker)
    assert state.stage is STOPS_AT[step]
    assert state.status is VoiceStatus.PENDING
    assert state.attempts == TRIES
    assert state.last_error == f"scripted unavailable on {step} of a"
    assert outcome(state) is VoiceStatus.DEFERRED
    assert provider.calls("a", step) == TRIES
    assert breaker.consecutive == 1

    state = await drive(voice("a"), ledger, provider, breaker)
    assert state.stage is Phase.SUBMITTED
    assert state.attempts == TRIES  # the recovered try adds nothing
    assert breaker.consecutive == 0
    assert len(provider.jobs) == 1
    assert (provider.creates["a"], provider.commits["a"]) == (1, 1)


async def test_resume_does_not_redo_finished_steps(ledger: SqliteLedger) -> None:
    """A voice deferred at submit resumes with the commit alone: nothing created or put twice."""
    provider = MemoryProvider({"a": Script(submit=(Outcome.unavailable(TRIES),))})
    await drive(voice("a"), ledger, provider)
    await drive(voice("a"), ledger, provider)
    assert provider.calls("a", Step.CREATE) == 1
    assert provider.calls("a", Step.UPLOAD) == 1
    assert provider.uploads["a"] == 1


async def test_lost_create_answer_is_reconciled(ledger: SqliteLedger) -> None:
    """A create whose answer was lost is adopted by the next try: exactly one remote job."""
    provider = MemoryProvider({"a": Script(create=(Outcome.lost_answer(),))})
    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert provider.calls("a", Step.CREATE) == 2
    [job] = provider.jobs_of("Voice a")
    assert state.remote["job_id"] == job.job_id
    assert provider.creates["a"] == 1
    assert state.attempts == 1


async def test_lost_create_answers_past_tries_are_adopted_next_run(ledger: SqliteLedger) -> None:
    """A voice left at ``creating`` with a job made remotely adopts that job on the next run."""
    script = Script(create=(Outcome.lost_answer(), Outcome.unavailable(TRIES - 1)))
    provider = MemoryProvider({"a": script})
    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.CREATING
    assert "job_id" not in state.remote
    [job] = provider.jobs.values()
    assert job.state == CREATING

    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.remote["job_id"] == job.job_id
    assert provider.creates["a"] == 1
    assert len(provider.jobs) == 1


async def test_lost_upload_answer_puts_again(ledger: SqliteLedger) -> None:
    """An upload whose answer was lost is put again (a PUT overwrites); the voice goes on."""
    provider = MemoryProvider({"a": Script(upload=(Outcome.lost_answer(),))})
    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.uploaded == ("package",)
    assert provider.uploads["a"] == 2
    assert len(provider.jobs) == 1


async def test_upload_resumes_after_stored_objects(ledger: SqliteLedger, tmp_path: Path) -> None:
    """An upload that fails midway keeps what it stored; the retry stores only the rest."""
    provider = MemoryProvider({"a": Script(upload=(Outcome.unavailable(after=1),))})
    v = voice("a", authorization=tmp_path / "letter.pdf")
    state = await drive(v, ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert provider.calls("a", Step.UPLOAD) == 2
    assert provider.uploads["a"] == 2  # package once, letter once
    assert state.attempts == 1


async def test_lost_submit_answer_commits_once(ledger: SqliteLedger) -> None:
    """A commit whose answer was lost is recognised by the job's state, never sent twice."""
    provider = MemoryProvider({"a": Script(submit=(Outcome.lost_answer(),))})
    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert provider.calls("a", Step.SUBMIT) == 2
    assert provider.commits["a"] == 1
    assert state.remote["state"] == "WAITING"


@pytest.mark.parametrize("step", STEPS)
async def test_provider_rejected_fails_the_voice(ledger: SqliteLedger, step: Step) -> None:
    """ProviderRejected ends the voice as failed with a remote.error finding, not retried."""
    provider = MemoryProvider({"a": Script.on(step, Outcome.rejected("bad request"))})
    breaker = Breaker(100)
    breaker.consecutive = 5
    state = await drive(voice("a"), ledger, provider, breaker)
    assert state.stage is Phase.DONE
    assert state.status is VoiceStatus.FAILED
    assert [f.code for f in state.findings] == ["remote.error"]
    assert state.findings[0].severity is Severity.ERROR
    assert state.last_error == "bad request"
    assert state.attempts == 1
    assert provider.calls("a", step) == 1
    assert outcome(state) is VoiceStatus.FAILED
    assert breaker.consecutive == 0  # the provider answered: not a reachability failure


async def test_upload_rejected_fails_with_upload_failed(ledger: SqliteLedger) -> None:
    """UploadRejected ends the voice as failed with a remote.upload_failed finding."""
    provider = MemoryProvider({"a": Script(upload=(Outcome.upload_rejected("URL expired"),))})
    state = await drive(voice("a"), ledger, provider)
    assert (state.stage, state.status) == (Phase.DONE, VoiceStatus.FAILED)
    assert [f.code for f in state.findings] == ["remote.upload_failed"]
    assert state.last_error == "URL expired"
    assert provider.commits["a"] == 0


@pytest.mark.parametrize("step", STEPS)
async def test_authentication_failed_opens_the_circuit(ledger: SqliteLedger, step: Step) -> None:
    """Refused credentials stop the run at once (CircuitOpen), the voice left where it was."""
    provider = MemoryProvider({"a": Script.on(step, Outcome.auth())})
    with pytest.raises(CircuitOpen, match="credentials"):
        await drive_voice(voice("a"), ledger, provider, Breaker(100))
    state = await ledger.get("a")
    assert state is not None
    assert state.stage is STOPS_AT[step]
    assert state.attempts == 1
    assert state.last_error == f"scripted auth on {step} of a"
    assert provider.calls("a", step) == 1
    assert [e.detail for e in await ledger.events("a")][-1] == "credentials rejected"


# -- the circuit breaker ----------------------------------------------------------------------


async def test_breaker_opens_after_limit_consecutive_voices(ledger: SqliteLedger) -> None:
    """The breaker opens on the limit-th voice in a row that the provider would not take."""
    down = Script(create=(Outcome.unavailable(TRIES),))
    provider = MemoryProvider(default=down)
    breaker = Breaker(2)
    await drive_voice(voice("a"), ledger, provider, breaker)
    assert breaker.consecutive == 1
    with pytest.raises(CircuitOpen, match="2 voices in a row"):
        await drive_voice(voice("b"), ledger, provider, breaker)
    state = await ledger.get("b")
    assert state is not None
    assert (state.stage, state.attempts) == (Phase.CREATING, TRIES)
    assert provider.jobs == {}


async def test_breaker_resets_on_a_voice_that_goes_through(ledger: SqliteLedger) -> None:
    """A voice that gets through resets the count: failures must be consecutive."""
    down = Script(create=(Outcome.unavailable(TRIES),))
    provider = MemoryProvider({"a": down, "c": down})
    breaker = Breaker(2)
    await drive_voice(voice("a"), ledger, provider, breaker)
    await drive_voice(voice("b"), ledger, provider, breaker)
    assert breaker.consecutive == 0
    await drive_voice(voice("c"), ledger, provider, breaker)  # would raise if not reset
    assert breaker.consecutive == 1


# -- inputs that change -------------------------------------------------------------------------


@pytest.mark.parametrize("stage", [Phase.CREATED, Phase.UPLOADED])
async def test_changed_before_submission_reuploads_to_the_same_job(
    ledger: SqliteLedger, stage: Phase
) -> None:
    """New files before submission go back to ``created`` and up again into the same job."""
    provider = MemoryProvider()
    job = provider.seed("Voice a", marker="fp-old")
    old = VoiceState(
        batch=BATCH,
        key="a",
        fingerprint="fp-old",
        voice_name="Voice a",
        stage=stage,
        status=VoiceStatus.PENDING,
        remote={"job_id": job.job_id, "state": CREATING},
        uploaded=("package",),
    )
    await ledger.put(old)
    state = await initial_state(voice("a", fingerprint="fp-new"), ledger)
    assert (state.stage, state.uploaded, state.fingerprint) == (Phase.CREATED, (), "fp-new")
    state = await drive(voice("a", fingerprint="fp-new"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.remote["job_id"] == job.job_id
    assert provider.jobs[job.job_id].objects == {"package": "fp-new"}
    assert provider.calls("a", Step.CREATE) == 0
    assert provider.commits["a"] == 1
    details = [e.detail for e in await ledger.events("a")]
    assert "input changed before submission; re-uploading" in details


async def test_changed_while_creating_takes_the_new_fingerprint(ledger: SqliteLedger) -> None:
    """New files while the create was pending: the voice goes on with the new fingerprint."""
    provider = MemoryProvider({"a": Script(create=(Outcome.unavailable(TRIES),))})
    await drive(voice("a", fingerprint="fp-old"), ledger, provider)
    state = await drive(voice("a", fingerprint="fp-new"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.fingerprint == "fp-new"
    [job] = provider.jobs.values()
    assert job.marker == "fp-new"
    assert job.objects == {"package": "fp-new"}


@pytest.mark.parametrize("poll", [(), ("SUCCEED",)], ids=["submitted", "done"])
async def test_changed_after_submission_warns_and_sends_nothing(
    ledger: SqliteLedger, job: Callable[..., JobConfig], poll: tuple[str, ...]
) -> None:
    """New files after submission keep the earlier job and say so once; nothing is re-sent."""
    provider = MemoryProvider()
    await drive(voice("a"), ledger, provider)
    if poll:
        await await_batch(job(), ledger, provider, {}, Progress())
    before = await ledger.get("a")
    assert before is not None
    for _ in range(2):
        state = await drive(voice("a", fingerprint="fp-changed"), ledger, provider)
    assert (state.stage, state.status, state.remote) == (before.stage, before.status, before.remote)
    assert state.fingerprint == "fp-a"
    notes = [f for f in state.findings if f.code == "voice.changed_after_submit"]
    assert len(notes) == 1
    assert notes[0].severity is Severity.WARNING
    assert [provider.calls("a", s) for s in STEPS] == [1, 1, 1]
    assert len(provider.jobs) == 1


async def test_forced_retry_suffix_is_the_same_content(ledger: SqliteLedger) -> None:
    """A ``retry --force`` fingerprint (``~retry<n>``) is unchanged input, not a new version."""
    provider = MemoryProvider()
    queued = VoiceState(
        batch=BATCH,
        key="a",
        fingerprint="fp-a~retry1",
        voice_name="Voice a",
        stage=Phase.PREPARED,
        status=VoiceStatus.PENDING,
    )
    await ledger.put(queued)
    state = await drive(voice("a"), ledger, provider)
    assert state.fingerprint == "fp-a~retry1"
    assert state.stage is Phase.SUBMITTED


async def test_previously_rejected_voice_starts_afresh(ledger: SqliteLedger) -> None:
    """A voice rejected by an earlier pre-flight and passing now is sent from the start."""
    bad = Finding(severity=Severity.ERROR, code="audio.clipping", file="a/1.wav", message="clip")
    rejected = VoiceState(
        batch=BATCH,
        key="a",
        fingerprint="fp-old",
        voice_name="Voice a",
        stage=Phase.DONE,
        status=VoiceStatus.REJECTED,
        findings=(bad,),
        last_error="clipping",
    )
    await ledger.put(rejected)
    provider = MemoryProvider()
    state = await drive(voice("a"), ledger, provider)
    assert (state.stage, state.status) == (Phase.SUBMITTED, VoiceStatus.PENDING)
    assert (state.findings, state.last_error, state.fingerprint) == ((), None, "fp-a")
    assert provider.creates["a"] == 1
    details = [e.detail for e in await ledger.events("a")]
    assert "passes the pre-flight now" in details


# -- reconciling creates: adopt ours, never another voice's -------------------------------------


@pytest.mark.parametrize("remote_state", [CREATING, "TRAINING"])
async def test_create_adopts_this_voices_unrecorded_job(
    ledger: SqliteLedger, remote_state: str
) -> None:
    """A job made for the voice but never recorded (crash after create) is adopted, not doubled."""
    provider = MemoryProvider()
    job = provider.seed("Voice a", state=remote_state)
    await ledger.put(
        VoiceState(
            batch=BATCH,
            key="a",
            fingerprint="fp-a",
            voice_name="Voice a",
            stage=Phase.CREATING,
            status=VoiceStatus.PENDING,
        )
    )
    state = await drive(voice("a"), ledger, provider)
    assert state.stage is Phase.SUBMITTED
    assert state.remote["job_id"] == job.job_id
    assert provider.creates["a"] == 0
    # A committed job is only awaited; an uncommitted one gets its files and its commit.
    expected = (1, 1) if remote_state == CREATING else (0, 0)
    assert (provider.calls("a", Step.UPLOAD), provider.commits["a"]) == expected


@pytest.mark.parametrize("shared_claims", [False, True], ids=["ledger", "claims"])
async def test_job_held_by_another_voice_is_never_adopted(
    ledger: SqliteLedger, shared_claims: bool
) -> None:
    """A same-named job that another voice of the ledger holds is never adopted."""
    provider = MemoryProvider()
    theirs = provider.seed("Same name", state="TRAINING")
    await ledger.put(
        VoiceState(
            batch=BATCH,
            key="other",
            fingerprint="fp-other",
            voice_name="Same name",
            stage=Phase.SUBMITTED,
            status=VoiceStatus.PENDING,
            remote={"job_id": theirs.job_id, "state": "TRAINING"},
        )
    )
    claims = Claims.of(await ledger.all()) if shared_claims else None
    v = voice("a", name="Same name")
    await drive_voice(v, ledger, provider, Breaker(100), claims=claims)
    state = await ledger.get("a")
    assert state is not None
    assert state.stage is Phase.SUBMITTED
    assert state.remote["job_id"] != theirs.job_id
    assert provider.creates["a"] == 1
    assert len(provider.jobs_of("Same name")) == 2
    assert provider.jobs[theirs.job_id].state == "TRAINING"


async def test_job_in_the_voices_history_is_never_adopted(ledger: SqliteLedger) -> None:
    """A job the voice gave up (``retry`` moved it to history) is not taken back."""
    provider = MemoryProvider()
    old = provider.seed("Voice a", state="FAILED")
    await ledger.put(
        VoiceState(
            batch=BATCH,
            key="a",
            fingerprint="fp-a~retry1",
            voice_name="Voice a",
            stage=Phase.PREPARED,
            status=VoiceStatus.PENDING,
            history=(old.job_id,),
        )
    )
    state = await drive(voice("a"), ledger, provider)
    assert state.remote["job_id"] != old.job_id
    assert provider.creates["a"] == 1


# -- send_all over a real inbox -------------------------------------------------------------------


async def test_send_all_sends_prepared_voices_and_skips_rejected(
    write_job: Callable[..., Path], tmp_path: Path
) -> None:
    """send_all prepares the inbox, drives every voice that passes and none that is rejected."""
    from pipeline.commands.sample_data import write_inbox

    path = write_job(provider='kind = "azure-personal-voice"\nendpoint = "emulator"')
    write_inbox(tmp_path / "inbox", voices=1, profile="azure-personal")
    (tmp_path / "inbox" / "broken").mkdir()  # no voice.toml: rejected by the pre-flight
    config = load_job(path)
    sources = discover(config.inbox).voices
    provider = MemoryProvider()
    prepared: dict[str, PreparedVoice] = {}
    progress = Progress()
    async with SqliteLedger(config.ledger_path, config.batch) as led:
        await send_all(config, led, provider, sources, prepared, progress)
        states = {s.key: s for s in await led.all()}
        results = {r.voice: r for r in await collect_results(led, prepared, sources)}
    assert set(prepared) == {"broken", "voice-001"}
    assert prepared["broken"].rejected
    assert set(states) == {"voice-001"}
    assert states["voice-001"].stage is Phase.SUBMITTED
    assert provider.creates == {"voice-001": 1}
    assert progress.voices_submitted == 1
    assert progress.bytes_uploaded == provider.bytes_uploaded > 0
    assert results["voice-001"].status is VoiceStatus.PENDING
    assert results["broken"].status is VoiceStatus.REJECTED


# -- await ----------------------------------------------------------------------------------------


async def submitted(
    ledger: SqliteLedger, provider: MemoryProvider, *keys: str
) -> dict[str, PreparedVoice]:
    """Drive each voice to ``submitted``; the prepared voices by key."""
    voices = {k: voice(k) for k in keys}
    for v in voices.values():
        assert (await drive(v, ledger, provider)).stage is Phase.SUBMITTED
    return voices


async def test_await_polls_until_every_voice_is_terminal(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """Polling goes on until each voice is done: succeeded, failed or needs attention."""
    provider = MemoryProvider(
        {
            "ok": Script(poll=("TRAINING", "TRAINING", "SUCCEED"), asset_id="asset-1"),
            "bad": Script(poll=("FAILED",), failed_reason="bad audio"),
            "audit": Script(poll=("TRAINING", "AUDIT_FAILED")),
        }
    )
    voices = await submitted(ledger, provider, "ok", "bad", "audit")
    progress = Progress()
    await await_batch(job(), ledger, provider, voices, progress)
    states = {s.key: s for s in await ledger.all()}
    assert {k: s.stage for k, s in states.items()} == dict.fromkeys(voices, Phase.DONE)
    assert states["ok"].status is VoiceStatus.SUCCEEDED
    assert states["ok"].remote["asset_id"] == "asset-1"
    assert states["ok"].remote["state"] == "SUCCEED"
    assert states["bad"].status is VoiceStatus.FAILED
    assert [f.code for f in states["bad"].findings] == ["remote.job_failed"]
    assert states["bad"].last_error == "bad audio"
    assert states["audit"].status is VoiceStatus.NEEDS_ATTENTION
    assert [f.code for f in states["audit"].findings] == ["remote.audit_failed"]
    assert provider.poll_rounds == 3
    assert progress.voices_done == 3
    results = {r.voice: r.status for r in await collect_results(ledger, voices)}
    assert results == {
        "audit": VoiceStatus.NEEDS_ATTENTION,
        "bad": VoiceStatus.FAILED,
        "ok": VoiceStatus.SUCCEEDED,
    }


async def test_await_records_intermediate_remote_states(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """A round that only moves the remote state is recorded (status asks for it)."""
    provider = MemoryProvider({"a": Script(poll=("TRAINING", "SUCCEED"))})
    voices = await submitted(ledger, provider, "a")
    await await_batch(job(), ledger, provider, voices, Progress(), once=True)
    state = await ledger.get("a")
    assert state is not None
    assert (state.stage, state.remote["state"]) == (Phase.SUBMITTED, "TRAINING")


async def test_await_deadline_raises_and_leaves_voices_pending(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """A deadline that passes with voices still training raises DeadlineExceeded."""
    provider = MemoryProvider(default=Script(poll=("TRAINING",)))
    voices = await submitted(ledger, provider, "a", "b")
    # The first round ends past a 1 ms deadline (the next one would start after a 1 h pause),
    # so the deadline is decided without waiting for it.
    config = job(deadline="1ms", interval="1h")
    with pytest.raises(DeadlineExceeded, match="2 voices pending"):
        await await_batch(config, ledger, provider, voices, Progress())
    assert provider.poll_rounds == 1
    for state in await ledger.all():
        assert state.stage is Phase.SUBMITTED
        assert outcome(state) is VoiceStatus.PENDING


async def test_await_once_does_one_round(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """``once`` polls a single round and returns with voices still pending, no error."""
    provider = MemoryProvider(default=Script(poll=("TRAINING", "SUCCEED")))
    voices = await submitted(ledger, provider, "a")
    config = job(deadline="1ms", interval="1h")  # once never waits for the deadline
    await await_batch(config, ledger, provider, voices, Progress(), once=True)
    assert provider.poll_rounds == 1
    await await_batch(config, ledger, provider, voices, Progress(), once=True)
    state = await ledger.get("a")
    assert state is not None
    assert state.status is VoiceStatus.SUCCEEDED


async def test_await_rides_out_failed_polls(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """A polling round the provider fails is logged and the next round goes on."""
    provider = MemoryProvider(default=Script(poll=("SUCCEED",)), poll_faults=2)
    voices = await submitted(ledger, provider, "a")
    await await_batch(job(), ledger, provider, voices, Progress())
    state = await ledger.get("a")
    assert state is not None
    assert state.status is VoiceStatus.SUCCEEDED
    assert provider.poll_rounds == 3


async def test_await_fails_a_voice_whose_job_vanished(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """A submitted voice whose remote job was deleted fails with remote.job_failed."""
    provider = MemoryProvider()
    voices = await submitted(ledger, provider, "a")
    provider.jobs.clear()
    await await_batch(job(), ledger, provider, voices, Progress())
    state = await ledger.get("a")
    assert state is not None
    assert (state.stage, state.status) == (Phase.DONE, VoiceStatus.FAILED)
    assert [f.code for f in state.findings] == ["remote.job_failed"]


async def test_await_with_nothing_submitted_does_not_poll(
    ledger: SqliteLedger, job: Callable[..., JobConfig]
) -> None:
    """Voices short of ``submitted`` are not polled; with none submitted await returns."""
    provider = MemoryProvider({"a": Script(upload=(Outcome.unavailable(TRIES),))})
    await drive(voice("a"), ledger, provider)
    await await_batch(job(), ledger, provider, {}, Progress())
    assert provider.poll_rounds == 0


# -- results --------------------------------------------------------------------------------------


async def test_collect_results_pending_only_once_submitted(ledger: SqliteLedger) -> None:
    """pending needs a submission; short of it (or never reached) a voice is deferred."""
    provider = MemoryProvider(
        {
            "creating": Script(create=(Outcome.unavailable(TRIES),)),
            "created": Script(upload=(Outcome.unavailable(TRIES),)),
            "submitting": Script(submit=(Outcome.unavailable(TRIES),)),
        }
    )
    keys = ("creating", "created", "submitting", "submitted")
    prepared = {k: voice(k) for k in keys}
    for v in prepared.values():
        await drive(v, ledger, provider)
    bad = Finding(severity=Severity.ERROR, code="audio.silent", file=None, message="silent")
    prepared["rejected"] = voice("rejected", findings=(bad,))
    prepared["unsent"] = voice("unsent")  # prepared, the run cut short before it was driven
    sources = [source(k) for k in (*prepared, "unreached")]
    results = {r.voice: r for r in await collect_results(ledger, prepared, sources)}
    assert {k: r.status for k, r in results.items()} == {
        "creating": VoiceStatus.DEFERRED,
        "created": VoiceStatus.DEFERRED,
        "submitting": VoiceStatus.DEFERRED,
        "submitted": VoiceStatus.PENDING,
        "rejected": VoiceStatus.REJECTED,
        "unsent": VoiceStatus.DEFERRED,
        "unreached": VoiceStatus.DEFERRED,
    }
    assert results["created"].last_error == "scripted unavailable on upload of created"
    assert results["created"].remote["job_id"]  # ids do not make a voice pending
    assert results["unreached"].voice_name == "Voice unreached"
    assert results["unreached"].last_error == "the run ended before its pre-flight"
    assert results["unsent"].last_error is None


async def test_collect_results_never_sent_and_gone_is_rejected(ledger: SqliteLedger) -> None:
    """A deferred voice whose folder left the inbox is rejected with voice.gone."""
    provider = MemoryProvider({"a": Script(create=(Outcome.unavailable(TRIES),))})
    await drive(voice("a"), ledger, provider)
    [gone] = await collect_results(ledger, {}, [])
    assert gone.status is VoiceStatus.REJECTED
    assert "voice.gone" in [f.code for f in gone.findings]
    [from_ledger] = await collect_results(ledger, {}, None)  # no inbox view: just the ledger
    assert from_ledger.status is VoiceStatus.DEFERRED


@pytest.mark.parametrize(
    ("stage", "status", "expected"),
    [
        (Phase.PREPARED, VoiceStatus.PENDING, VoiceStatus.DEFERRED),
        (Phase.CREATING, VoiceStatus.PENDING, VoiceStatus.DEFERRED),
        (Phase.CREATED, VoiceStatus.PENDING, VoiceStatus.DEFERRED),
        (Phase.UPLOADED, VoiceStatus.PENDING, VoiceStatus.DEFERRED),
        (Phase.SUBMITTING, VoiceStatus.PENDING, VoiceStatus.DEFERRED),
        (Phase.SUBMITTED, VoiceStatus.PENDING, VoiceStatus.PENDING),
        (Phase.DONE, VoiceStatus.SUCCEEDED, VoiceStatus.SUCCEEDED),
        (Phase.DONE, VoiceStatus.FAILED, VoiceStatus.FAILED),
        (Phase.DONE, VoiceStatus.NEEDS_ATTENTION, VoiceStatus.NEEDS_ATTENTION),
    ],
)
def test_outcome_of_each_stage(stage: Phase, status: VoiceStatus, expected: VoiceStatus) -> None:
    """outcome: terminal as recorded, pending once submitted, deferred before that."""
    state = VoiceState(
        batch=BATCH, key="a", fingerprint="f", voice_name="A", stage=stage, status=status
    )
    assert outcome(state) is expected
    assert outcome(replace(state, remote={"job_id": "x"})) is expected
