"""The Huawei MetaStudio voice-training provider: the stage-level adapter over ``HuaweiClient``.

create  list this voice's earlier jobs (voice_name + job_type, with our marker) and adopt one;
        create only when there is none. Huawei has no idempotency key, so this lookup is what
        keeps a re-run (or a create whose answer was lost) from paying for a second job. It never
        depends on the service keeping ``batch_name`` (SetJobBatchName needs a tenant
        permission): the marker is ``X-App-UserId`` = ``vo`` + a hash of batch and voice key,
        which jobs echo as ``app_user_id`` (unless ``[provider] app_user_id`` is set). The job
        id is in the ledger the moment the answer arrives.
upload  package: one deterministic zip (or one long WAV in a zip) + the authorization letter;
        segment: per sentence PUT wav + txt, confirm, resume from ``confirmed_index``; with
        fewer URLs than sentences, the slot is the current sentence's: asked again per index.
        URLs are fetched just before use and refreshed when the store refuses them.
submit  commit; a commit whose answer was lost is recognised by the job's state.
poll    the ledger's job ids: one list call per 100 jobs of the batch, then ``show`` (within
        the rate limit) for each id the list did not answer (batch_name dropped or rewritten);
        only a job that show does not know (404, or 400 confirmed by a list by id) is gone.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final, Literal

import anyio
import anyio.to_thread
import structlog

from pipeline.config import JobConfig
from pipeline.errors import (
    AmbiguousCreate,
    NotFound,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    UploadRejected,
)
from pipeline.providers.base import Save, TenantLimits, vanished
from pipeline.providers.http import HttpClient
from pipeline.providers.huawei import outcomes
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.providers.huawei.packaging import Package, package_for
from pipeline.providers.huawei.records import CreateJobBody, JobInfo, UploadAddresses
from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceState, VoiceStatus

log = structlog.get_logger("pipeline.providers.huawei")

_URL_REFRESHES: Final = 3
_CREATE_TRIES: Final = 4
_PACKAGE: Final = "package"
_AUTHORIZATION: Final = "authorization"
#: Concurrent ``show`` calls of one polling round (the client's rate limit paces them).
_SHOWS: Final = 16


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
        self._batch_list_answers = True  # False once a batch list answered none of our jobs
        self.bytes_uploaded = 0
        self.reachability = http.reachability  #: the run's view of the service (Watched)

    def describe(self) -> Mapping[str, str]:
        p = self._config.provider
        return {"kind": p.kind, "edition": p.edition, "upload_mode": p.upload_mode}

    def marker(self, key: str) -> str | None:
        """The ``X-App-UserId`` this voice's calls carry (None: the job file's own id is sent):
        a job that echoes it as ``app_user_id`` is this voice's of this batch, whatever the
        service did with ``batch_name``."""
        if self._config.provider.app_user_id:
            return None
        digest = hashlib.sha256(f"{self._config.batch}\0{key}".encode()).hexdigest()
        return f"vo{digest[:30]}"

    async def tenant(self) -> TenantLimits:
        """The account's quota for this edition and its duration range (read once per run)."""
        job_type = self._config.provider.job_type
        quotas = await self._client.quotas()
        cfg = await self._client.tenant_duration_cfg()
        limit = cfg.for_job_type(job_type) if job_type in ("ADVANCE", "THIRD_PARTY") else None
        key = {"THIRD_PARTY": "cmww"}.get(job_type, job_type.lower())
        return TenantLimits(
            quota=quotas.for_job_type(job_type),
            quota_name="resource_available_nums."
            + {"THIRD_PARTY": "third_party_cmww"}.get(job_type, job_type.lower()),
            min_total_s=None if limit is None else limit.min_s,
            max_total_s=None if limit is None else limit.max_s,
            duration_source=f"the tenant's duration config ({key}_min/{key}_max)",
        )

    # -- create ------------------------------------------------------------------------------

    async def _find_earlier(
        self, voice: PreparedVoice, voice_name: str, taken: Collection[str]
    ) -> JobInfo | None:
        """This batch's earlier job for the voice, if the provider has one that can only be
        ours: the same voice name (exact), not claimed by another voice of the ledger, our
        marker (``app_user_id``) and the same attributes we send (create type, sex, language,
        tag) where the service echoes them. ``batch_name`` is not asked for (an account may
        drop or rewrite it); without a marker a job naming another batch is not ours. A job
        that fails any of these belongs to another speaker and is never adopted."""
        meta = voice.meta
        create_type = self._create_type()
        marker = self.marker(voice.key)
        jobs = [
            j
            async for j in self._client.iter_jobs(
                voice_name=voice_name,
                job_type=self._config.provider.job_type,
                app_user_id=marker,
            )
            if j.voice_name == voice_name  # exact, whatever the server's matching rule is
            and j.job_id not in taken
            and self._carries_marker(j, marker)
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

    def _carries_marker(self, job: JobInfo, marker: str | None) -> bool:
        """Whether ``job`` is this batch's by what it echoes: our marker as ``app_user_id``
        (then its ``batch_name`` does not matter: an account may drop or rewrite it); without
        an echoed id, a ``batch_name`` that is ours or empty; another id: never."""
        sent = marker or self._config.provider.app_user_id
        if job.app_user_id:
            if not _echoes(job.app_user_id, sent):
                return False
            if marker is not None:
                return True
        return not job.batch_name or job.batch_name == self._config.batch

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
                created = await self._client.create_job(
                    self._config.provider.job_type, body, app_user_id=self.marker(voice.key)
                )
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
        state = state.advance(
            Phase.CREATED,
            remote=state.with_remote(job_id=created.job_id, state="CREATING"),
            uploaded=(),
        )
        await save(state)  # the job id is durable the moment the answer is here
        return state

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
        count = len(voice.clips)
        for clip in voice.clips:
            i = clip.index
            if i in confirmed:
                continue
            txt = text_dir / f"{i}.txt"
            if not txt.exists():
                txt.write_bytes((clip.text or "").encode("utf-8"))
            addresses = await self._addresses_for(job_id)
            if min(len(addresses.audio_uploading_url), len(addresses.txt_uploading_url)) < count:
                # Fewer slots than sentences: they are the current sentence's (the lowest one
                # not confirmed, which is this one), so ask again for every index.
                await self._addresses_for(job_id, fresh=True)
            audio, text = _segment_audio(i, count), _segment_text(i, count)
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._put, job_id, audio, clip.normalized, "audio/wav")
                tg.start_soon(self._put, job_id, text, txt, "text/plain")
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
        marker = self.marker(state.key)
        job = await self._client.show_job(job_id, app_user_id=marker)
        if job.state == "CREATING":
            try:
                await self._client.commit_job(job_id, app_user_id=marker)
            except ProviderRejected:
                # A commit whose answer was lost and was retried is refused as "not CREATING":
                # the job's state tells whether the first one landed.
                job = await self._client.show_job(job_id, app_user_id=marker)
                if job.state == "CREATING":
                    raise
            else:
                job = await self._client.show_job(job_id, app_user_id=marker)
        log.info("submit.committed", job_id=job_id, remote_state=job.state)
        return state.advance(Phase.SUBMITTED, remote=state.with_remote(state=job.state))

    # -- await -------------------------------------------------------------------------------

    async def poll(
        self, states: Sequence[VoiceState], voices: Mapping[str, PreparedVoice]
    ) -> list[VoiceState]:
        wanted = {s.remote["job_id"]: s for s in states if s.remote.get("job_id")}
        jobs: dict[str, JobInfo] = {}
        if self._batch_list_answers:
            async for listed in self._client.iter_jobs(batch_name=self._config.batch):
                if listed.job_id in wanted:
                    jobs[listed.job_id] = listed
            # An account that drops or rewrites batch_name answers none of ours: from now on
            # only show is asked (a later round would cost the same list for nothing).
            self._batch_list_answers = bool(jobs) or not wanted
        gone: set[str] = set()
        limiter = anyio.CapacityLimiter(_SHOWS)

        async def show(job_id: str) -> None:
            async with limiter:
                try:
                    jobs[job_id] = await self._client.show_job(
                        job_id, app_user_id=self.marker(wanted[job_id].key)
                    )
                except NotFound:
                    gone.add(job_id)
                except (ProviderUnavailable, ProviderProtocolError) as exc:
                    # Unchanged this round; the next round asks again.
                    log.warning("poll.show_failed", job_id=job_id, error=str(exc))

        async with anyio.create_task_group() as tg:
            for job_id in wanted.keys() - jobs.keys():
                tg.start_soon(show, job_id)
        changed: list[VoiceState] = []
        for state in states:
            job_id = state.remote.get("job_id") or ""
            found = jobs.get(job_id)
            if found is None:
                if job_id in gone or not job_id:
                    message = f"job {job_id} no longer exists at the provider (deleted?)"
                    changed.append(vanished(state, message))
                continue
            new = await outcomes.finish(self._client, state, found, voices)
            if new is not None:
                changed.append(new)
        return changed


class _UrlPicker:
    """Picks one URL out of a job's upload addresses."""

    def __init__(self, kind: str, index: int = 0, count: int = 0) -> None:
        self.kind = kind
        self.index = index
        self.count = count  #: sentences of the voice: fewer URLs are the current one's slot

    def __call__(self, a: UploadAddresses) -> str:
        if self.kind == "package":
            url = a.training_data_uploading_url
        elif self.kind == "letter":
            url = a.authorization_letter_uploading_url
        else:
            urls = a.audio_uploading_url if self.kind == "audio" else a.txt_uploading_url
            # One URL per sentence: by index. Fewer: the first is the current sentence's slot
            # (the caller asked for fresh addresses for this index).
            position = self.index if len(urls) >= self.count else 0
            url = urls[position] if position < len(urls) else None
        if not url:
            raise ProviderRejected(
                f"the provider gave no {self.kind} upload URL (index {self.index})"
            )
        return url


_package_url = _UrlPicker("package")
_letter_url = _UrlPicker("letter")


def _segment_audio(i: int, count: int) -> _UrlPicker:
    return _UrlPicker("audio", i, count)


def _segment_text(i: int, count: int) -> _UrlPicker:
    return _UrlPicker("text", i, count)


def _echoes(echoed: str | None, sent: str | None) -> bool:
    """Whether a field the list API echoes is consistent with what we send: equal, or one side
    unknown (a field we leave out takes the service's default; a field it leaves out proves
    nothing)."""
    return echoed is None or sent is None or echoed.upper() == sent.upper()
