"""The Huawei MetaStudio voice-training provider: the stage-level adapter over ``HuaweiClient``.

create  list this voice's earlier jobs (batch_name + voice_name) and adopt one; create only when
        there is none. Huawei has no idempotency key, so this lookup is what keeps a re-run (or a
        create whose answer was lost) from paying for a second job.
upload  package: one deterministic zip (or one long WAV in a zip) + the authorization letter;
        segment: per sentence PUT wav + txt, confirm, resume from ``confirmed_index``.
        URLs are fetched just before use and refreshed when the store refuses them.
submit  commit; a commit whose answer was lost is recognised by the job's state.
poll    one list call per 100 jobs of the batch, never one GET per job.
"""

from __future__ import annotations

import functools
import mimetypes
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final, Literal

import anyio
import anyio.to_thread
import structlog

from pipeline.config import JobConfig
from pipeline.errors import AmbiguousCreate, ProviderRejected, UploadRejected
from pipeline.providers.base import Save, vanished
from pipeline.providers.http import HttpClient
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.providers.huawei.packaging import Package, package_for
from pipeline.providers.huawei.records import CreateJobBody, JobInfo, UploadAddresses
from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceState, VoiceStatus

log = structlog.get_logger("pipeline.providers.huawei")

#: Final states and what they mean for the voice (reference §5: SPLIT_FAILED and
#: USER_REVIEW_REJECT are undocumented; we stop polling and ask a human).
_FINAL: Final = {
    "SUCCEED": (VoiceStatus.SUCCEEDED, None),
    "FAILED": (VoiceStatus.FAILED, "remote.job_failed"),
    "AUDIT_FAILED": (VoiceStatus.NEEDS_ATTENTION, "remote.audit_failed"),
    "SPLIT_FAILED": (VoiceStatus.NEEDS_ATTENTION, "remote.split_failed"),
    "USER_REVIEW_REJECT": (VoiceStatus.NEEDS_ATTENTION, "remote.review_rejected"),
}
_URL_REFRESHES: Final = 3
_CREATE_TRIES: Final = 4
_PACKAGE: Final = "package"
_AUTHORIZATION: Final = "authorization"


def _letter_type(path: Path) -> str:
    """Content-Type of the authorization letter (undocumented by Huawei; we send the file's own
    type: application/pdf, image/jpeg or image/png)."""
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class HuaweiProvider:
    """Provider protocol implementation for Huawei MetaStudio voice training."""

    def __init__(
        self,
        *,
        config: JobConfig,
        client: HuaweiClient,
        http: HttpClient,
        uploads: anyio.CapacityLimiter,
    ) -> None:
        self._config = config
        self._client = client
        self._http = http
        self._uploads = uploads
        self._packages = config.state_dir / "packages"
        self._addresses: dict[str, UploadAddresses] = {}  # job_id → URLs; memory only (signed)
        self.bytes_uploaded = 0

    def describe(self) -> Mapping[str, str]:
        p = self._config.provider
        return {"kind": p.kind, "edition": p.edition, "upload_mode": p.upload_mode}

    # -- create ------------------------------------------------------------------------------

    async def _find_earlier(
        self, voice: PreparedVoice, voice_name: str, taken: Collection[str]
    ) -> JobInfo | None:
        """This batch's earlier job for the voice, if the provider has one that can only be
        ours: the same voice name (exact), not claimed by another voice of the ledger, and the
        same attributes we send (create type, sex, language, tag) where the service echoes
        them. A job that fails any of these belongs to another speaker and is never adopted."""
        meta = voice.meta
        create_type = self._create_type()
        jobs = [
            j
            async for j in self._client.iter_jobs(
                batch_name=self._config.batch,
                voice_name=voice_name,
                job_type=self._config.provider.job_type,
            )
            if j.voice_name == voice_name  # exact, whatever the server's matching rule is
            and j.job_id not in taken
            and _echoes(j.create_type, create_type)
            and (meta is None or _echoes(j.sex, meta.sex))
            and (meta is None or _echoes(j.language, meta.language))
            and (meta is None or _echoes(j.tag, meta.tag))
        ]
        if not jobs:
            return None
        if len(jobs) > 1:
            log.warning("create.several_earlier_jobs", voice_name=voice_name, jobs=len(jobs))
        # The newest is the one a previous run of ours made last.
        return max(jobs, key=lambda j: (j.create_time or 0, j.job_id))

    def _create_type(self) -> Literal["PACKAGE", "SEGMENT"]:
        return "SEGMENT" if self._config.provider.upload_mode == "segment" else "PACKAGE"

    async def create(
        self, voice: PreparedVoice, state: VoiceState, save: Save, *, taken: Collection[str] = ()
    ) -> VoiceState:
        taken = {*taken, *state.history}
        earlier = await self._find_earlier(voice, state.voice_name, taken)
        if earlier is not None:
            log.info("create.adopted", job_id=earlier.job_id, remote_state=earlier.state)
            return self._adopt(state, earlier)
        meta = voice.meta
        assert meta is not None
        body = CreateJobBody(
            voice_name=state.voice_name,
            batch_name=self._config.batch,
            create_type=self._create_type(),
            sex=meta.sex,
            language=meta.language,
            tag=meta.tag,
            description=meta.description,
            phone=meta.phone,
        )
        # Huawei has no idempotency key. A create whose answer was lost (connection reset, 5xx,
        # timeout after sending) may or may not have made a job, so before trying again we ask
        # the list API. We trust list to be read-after-write consistent (the docs say nothing
        # either way); the short pause covers a gateway that answered before the job was stored.
        for attempt in range(_CREATE_TRIES):
            try:
                created = await self._client.create_job(self._config.provider.job_type, body)
                break
            except AmbiguousCreate:
                if attempt == _CREATE_TRIES - 1:
                    raise
                await anyio.sleep(0.2 * (attempt + 1))
                earlier = await self._find_earlier(voice, state.voice_name, taken)
                if earlier is not None:
                    log.info("create.reconciled", job_id=earlier.job_id)
                    return self._adopt(state, earlier)
                log.info("create.retrying", attempt=attempt + 1)
        self._addresses[created.job_id] = created.addresses
        log.info("create.created", job_id=created.job_id)
        return state.advance(
            Phase.CREATED,
            remote=state.with_remote(job_id=created.job_id, state="CREATING"),
            uploaded=(),
        )

    def _adopt(self, state: VoiceState, job: JobInfo) -> VoiceState:
        remote = state.with_remote(job_id=job.job_id, state=job.state)
        if job.state == "CREATING":
            # Not submitted: files may be missing or stale, so upload everything again.
            return state.advance(Phase.CREATED, remote=remote, uploaded=())
        # Anything else was submitted already (a final state is finished by the next poll).
        return state.advance(Phase.SUBMITTED, remote=remote)

    # -- upload ------------------------------------------------------------------------------

    async def _addresses_for(self, job_id: str, *, fresh: bool = False) -> UploadAddresses:
        if fresh or job_id not in self._addresses:
            self._addresses[job_id] = await self._client.uploading_address(job_id)
        return self._addresses[job_id]

    async def _put(
        self, job_id: str, pick: _UrlPicker, source: Path | Package, content_type: str
    ) -> None:
        """PUT one file or package under the upload limit; refresh the URL when the store
        refuses it."""
        for attempt in range(_URL_REFRESHES + 1):
            url = pick(await self._addresses_for(job_id, fresh=attempt > 0))
            try:
                async with self._uploads:
                    sent = await self._http.put_file(url, source, content_type=content_type)
            except UploadRejected:
                if attempt == _URL_REFRESHES:
                    raise
                log.info("upload.url_refreshed", job_id=job_id, object=pick.kind, index=pick.index)
                continue
            self.bytes_uploaded += sent
            return

    async def upload(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        job_id = state.remote["job_id"]
        if self._config.provider.upload_mode == "segment":
            state = await self._upload_segments(voice, state, save)
            if state.stage is Phase.DONE:
                return state
        elif _PACKAGE not in state.uploaded:
            join = self._config.profile.join_clips
            # Planning stats the members (and CRCs a joined recording): off the event loop.
            # The zip itself is never written: it streams from the cache into the PUT.
            package = await anyio.to_thread.run_sync(
                functools.partial(package_for, voice, join=join)
            )
            await self._put(job_id, _package_url, package, "application/zip")
            state = replace(state, uploaded=(*state.uploaded, _PACKAGE))
            await save(state)
        if _AUTHORIZATION not in state.uploaded:
            assert voice.authorization is not None
            await self._put(
                job_id, _letter_url, voice.authorization, _letter_type(voice.authorization)
            )
            state = replace(state, uploaded=(*state.uploaded, _AUTHORIZATION))
            await save(state)
        return state.advance(Phase.UPLOADED)

    async def _upload_segments(
        self, voice: PreparedVoice, state: VoiceState, save: Save
    ) -> VoiceState:
        job_id = state.remote["job_id"]
        confirmed = set(await self._client.segment_info(job_id))
        text_dir = self._packages / voice.fingerprint
        text_dir.mkdir(parents=True, exist_ok=True)
        for clip in voice.clips:
            i = clip.index
            if i in confirmed:
                continue
            txt = text_dir / f"{i}.txt"
            if not txt.exists():
                txt.write_bytes((clip.text or "").encode("utf-8"))
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._put, job_id, _segment_audio(i), clip.normalized, "audio/wav")
                tg.start_soon(self._put, job_id, _segment_text(i), txt, "text/plain")
            result = await self._client.confirm_segment(job_id, i)
            if not result.confirm_result:
                finding = Finding(
                    severity=Severity.ERROR,
                    code="remote.segment_mismatch",
                    file=clip.source,
                    message=f"sentence {i}: text does not match the speech "
                    f"(unmatched positions {list(result.unmatched_index_hit)})",
                )
                return state.advance(
                    Phase.DONE,
                    status=VoiceStatus.NEEDS_ATTENTION,
                    findings=(*state.findings, finding),
                    last_error=finding.message,
                )
            state = replace(state, uploaded=(*state.uploaded, f"segment:{i}"))
            await save(state)
        return state

    # -- submit ------------------------------------------------------------------------------

    async def submit(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        job_id = state.remote["job_id"]
        job = await self._client.show_job(job_id)
        if job.state == "CREATING":
            try:
                await self._client.commit_job(job_id)
            except ProviderRejected:
                # A commit whose answer was lost and was retried is refused as "not CREATING":
                # the job's state tells whether the first one landed.
                job = await self._client.show_job(job_id)
                if job.state == "CREATING":
                    raise
            else:
                job = await self._client.show_job(job_id)
        log.info("submit.committed", job_id=job_id, remote_state=job.state)
        return state.advance(Phase.SUBMITTED, remote=state.with_remote(state=job.state))

    # -- await -------------------------------------------------------------------------------

    async def poll(
        self, states: Sequence[VoiceState], voices: Mapping[str, PreparedVoice]
    ) -> list[VoiceState]:
        jobs = {j.job_id: j async for j in self._client.iter_jobs(batch_name=self._config.batch)}
        changed: list[VoiceState] = []
        for state in states:
            job_id = state.remote.get("job_id")
            job = jobs.get(job_id or "")
            if job is None:
                changed.append(
                    vanished(state, f"job {job_id} no longer exists at the provider (deleted?)")
                )
                continue
            final = _FINAL.get(job.state)
            if job.state == state.remote.get("state") and final is None:
                continue  # nothing new (a final state is finished below even if already seen)
            remote = state.with_remote(
                state=job.state,
                asset_id=job.asset_id,
                job_failed_code=job.job_failed_code,
                job_failed_reason=job.job_failed_reason,
            )
            if final is None:
                changed.append(replace(state, remote=remote))
                continue
            status, code = final
            findings = list(state.findings)
            last_error = None
            if code == "remote.audit_failed":
                findings.extend(await self._audit_findings(job_id or "", voices, state.key))
                last_error = "audit failed"
            elif code is not None:
                reason = " ".join(x for x in (job.job_failed_code, job.job_failed_reason) if x)
                last_error = reason or job.state
                findings.append(
                    Finding(
                        severity=Severity.ERROR,
                        code=code,
                        file=None,
                        message=reason or f"the provider reports {job.state}",
                    )
                )
            changed.append(
                state.advance(
                    Phase.DONE,
                    status=status,
                    remote=remote,
                    findings=tuple(findings),
                    last_error=last_error,
                )
            )
        return changed

    async def _audit_findings(
        self, job_id: str, voices: Mapping[str, PreparedVoice], key: str
    ) -> list[Finding]:
        result = await self._client.audit_result(job_id)
        voice = voices.get(key)
        sources = {f"{c.index}.wav": c.source for c in voice.clips} if voice else {}
        texts = {f"{c.index}.txt": c.transcript for c in voice.clips} if voice else {}
        out: list[Finding] = []
        for err in result.errors:
            file = (
                sources.get(err.audio_name or "")
                or texts.get(err.text_name or "")
                or (err.audio_name or err.text_name)
            )
            out.append(
                Finding(
                    severity=Severity.ERROR,
                    code="remote.audit_failed",
                    file=file,
                    message=f"{err.error_code}: {err.error_message}",
                )
            )
        if not out:
            out.append(
                Finding(
                    severity=Severity.ERROR,
                    code="remote.audit_failed",
                    file=None,
                    message="the provider's review failed (no per-file reason given)",
                )
            )
        return out


class _UrlPicker:
    """Picks one URL out of a job's upload addresses."""

    def __init__(self, kind: str, index: int = 0) -> None:
        self.kind = kind
        self.index = index

    def __call__(self, a: UploadAddresses) -> str:
        if self.kind == "package":
            url = a.training_data_uploading_url
        elif self.kind == "letter":
            url = a.authorization_letter_uploading_url
        elif self.kind == "audio":
            url = (
                a.audio_uploading_url[self.index]
                if self.index < len(a.audio_uploading_url)
                else None
            )
        else:
            url = a.txt_uploading_url[self.index] if self.index < len(a.txt_uploading_url) else None
        if not url:
            raise ProviderRejected(
                f"the provider gave no {self.kind} upload URL (index {self.index})"
            )
        return url


_package_url = _UrlPicker("package")
_letter_url = _UrlPicker("letter")


def _segment_audio(i: int) -> _UrlPicker:
    return _UrlPicker("audio", i)


def _segment_text(i: int) -> _UrlPicker:
    return _UrlPicker("text", i)


def _echoes(echoed: str | None, sent: str | None) -> bool:
    """Whether a field the list API echoes is consistent with what we send: equal, or one side
    unknown (a field we leave out takes the service's default; a field it leaves out proves
    nothing)."""
    return echoed is None or sent is None or echoed.upper() == sent.upper()
