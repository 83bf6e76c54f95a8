"""The Azure AI Speech personal voice provider: the stage-level adapter over ``AzureClient``.

create  ensure the project (one PUT per run), create the consent from ``consent.wav`` with the
        talent, company and locale of ``voice.toml``, and wait for it (every ~1 s, bounded) —
        all waiting voices share one list call per round (``ConsentWatch``) instead of one GET
        each. A consent that fails verification ends the voice as ``needs_attention``.
upload  multipart mode: nothing (the audio goes with the personal-voice create). blob-SAS
        mode: PUT every normalized clip to ``<batch>/<personal voice id>/NNNN.wav`` in the
        customer's container, concurrently under the upload limit, recording each blob in the
        ledger so a resumed run uploads nothing twice.
submit  create the personal voice: multipart POST with the clips, or JSON PUT naming the blobs.
poll    list the project's personal voices page by page (``nextLink``), never one GET per voice.
verify  (``voice-onboard status --verify``) succeeded voices whose consent or personal voice was
        deleted since become ``needs_attention`` (``verify.deleted_since``).

Idempotency: every id and ``Operation-Id`` is derived from the batch, the voice key and the
voice's content fingerprint (``voice_ids``), so any retry (a lost answer, a crash, a re-run)
addresses the same resources, and Azure replays an identical request under a used
``Operation-Id``. The runner writes an intent (``creating``/``submitting``) before each create;
the provider records the resource id in the ledger *before* sending, so a later call that finds
it recorded looks the resource up (GET) before creating.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import anyio
import structlog

from pipeline.config import Credentials, JobConfig
from pipeline.errors import (
    AuthenticationFailed,
    ConfigError,
    NotFound,
    ProviderError,
    ProviderRejected,
)
from pipeline.providers.azure.blob import BlobContainer
from pipeline.providers.azure.client import AzureClient
from pipeline.providers.azure.consents import ConsentWatch
from pipeline.providers.azure.ids import VoiceIds, blob_name, blob_prefix, voice_ids
from pipeline.providers.azure.records import AudioFile, BlobSource, Consent, PersonalVoice
from pipeline.providers.azure.verify import deleted_since
from pipeline.providers.base import Save, vanished
from pipeline.providers.http import HttpClient
from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceState, VoiceStatus

log = structlog.get_logger("pipeline.providers.azure")

T = TypeVar("T")
#: Looks a resource up by id: the resource, or None when it does not exist.
_Finder = Callable[[str], Awaitable[T | None]]


class AzureProvider:
    """Provider protocol implementation for Azure AI Speech personal voice."""

    def __init__(
        self,
        *,
        config: JobConfig,
        client: AzureClient,
        http: HttpClient,
        uploads: anyio.CapacityLimiter,
        credentials: Credentials,
        consent_poll_s: float | None = None,
        consent_wait_s: float = 300.0,
        blob_single_put_max: int = 4 * 1024 * 1024,
        blob_block_size: int = 1024 * 1024,
    ) -> None:
        """
        Args:
            uploads: the run's upload limiter; bounds blob PUTs and multipart creates alike
                (both carry the audio).
            credentials: ``azure_blob_sas_url`` is required in blob-SAS mode.
            consent_poll_s: seconds between consent checks; default the smaller of 1 s (what
                the official samples use, reference §2.5) and the job's ``[await]
                poll_interval``.
            consent_wait_s: give up waiting for a consent after this long; the voice is
                deferred (it stays ``creating``) and the next run picks the consent up.
        """
        self._config = config
        self._client = client
        self._uploads = uploads
        self._project = config.provider.project
        self._batch = config.batch
        self._consent_poll_s = (
            consent_poll_s
            if consent_poll_s is not None
            else min(1.0, config.await_.poll_interval_s)
        )
        self._consent_wait_s = consent_wait_s
        self._consents = ConsentWatch(client, self._project, self._consent_poll_s)
        self._blob: BlobContainer | None = None
        if config.provider.upload_mode == "blob-sas":
            if not credentials.azure_blob_sas_url:
                raise ConfigError(
                    f"{config.path}: upload_mode = blob-sas needs AZURE_BLOB_CONTAINER_SAS_URL"
                )
            try:
                self._blob = BlobContainer(
                    http,
                    credentials.azure_blob_sas_url,
                    retry=client.retry["upload"],
                    single_put_max=blob_single_put_max,
                    block_size=blob_block_size,
                )
            except (ValueError, ProviderError):
                # the message would quote the URL; the variable's name is enough
                raise ConfigError(
                    "AZURE_BLOB_CONTAINER_SAS_URL is not a container URL with a SAS query "
                    "(https://, or http:// to a loopback address)"
                ) from None
        self._project_lock = anyio.Lock()
        self._project_ready = False
        #: audio bytes sent (multipart creates and blob PUTs), for the runner's progress
        self.bytes_uploaded = 0
        self.reachability = http.reachability  #: the run's view of the service (Watched)

    def describe(self) -> Mapping[str, str]:
        p = self._config.provider
        return {
            "kind": p.kind,
            "api_version": self._client.api_version,
            "project": p.project,
            "upload_mode": p.upload_mode,
        }

    def ids(self, state: VoiceState) -> VoiceIds:
        return voice_ids(self._batch, state.key, state.fingerprint)

    # -- create ------------------------------------------------------------------------------

    async def _ensure_project(self) -> None:
        # Once per run, not per voice: every voice would otherwise spend a request of the
        # 50-per-10-s budget on it. The lock makes the first voice do it while others wait.
        async with self._project_lock:
            if not self._project_ready:
                await self._client.put_project(
                    self._project,
                    description="Personal voices onboarded by voice-onboarding",
                )
                self._project_ready = True
                log.info("azure.project_ready", project=self._project)

    async def create(
        self, voice: PreparedVoice, state: VoiceState, save: Save, *, taken: Collection[str] = ()
    ) -> VoiceState:
        # Ids are derived from batch, folder and content fingerprint: another voice's can
        # never come back here, so ``taken`` needs no check.
        await self._ensure_project()
        ids = self.ids(state)
        consent: Consent | None = None
        if state.remote.get("consent_id") == ids.consent_id:
            # Recorded before an earlier create was sent: it may exist; look before creating.
            consent = await self._client.find_consent(ids.consent_id)
            if consent is not None:
                log.info("create.adopted", consent_id=consent.id, remote_state=consent.status)
        else:
            state = replace(state, remote=state.with_remote(consent_id=ids.consent_id))
            await save(state)
        if consent is None:
            consent = await self._create_consent(voice, state, ids)
        consent = await self._consents.wait(consent, self._consent_wait_s)
        remote = state.with_remote(
            consent_id=consent.id, state=consent.status, failure_reason=consent.failure_reason
        )
        if consent.status == "Failed":
            reason = consent.failure_reason or "no reason given"
            finding = Finding(
                severity=Severity.ERROR,
                code="remote.consent_failed",
                file=voice.consent_source,
                message=f"consent {consent.id} failed verification: {reason}",
            )
            log.info("create.consent_failed", consent_id=consent.id, reason=reason)
            return state.advance(
                Phase.DONE,
                status=VoiceStatus.NEEDS_ATTENTION,
                remote=remote,
                findings=(*state.findings, finding),
                last_error=finding.message,
            )
        return state.advance(Phase.CREATED, remote=remote)

    async def _create_consent(
        self, voice: PreparedVoice, state: VoiceState, ids: VoiceIds
    ) -> Consent:
        meta = voice.meta
        # Pre-flight rejects such a voice (voice.missing_consent / voice.missing_talent); this
        # only keeps one odd voice from stopping the batch if that ever changes.
        if (
            meta is None
            or voice.consent is None
            or not (meta.talent_name and meta.company_name and meta.locale)
        ):
            raise ProviderRejected(
                "a consent needs consent.wav and talent_name, company_name, locale in voice.toml"
            )
        try:
            async with self._uploads:
                created = await self._client.create_consent(
                    ids.consent_id,
                    operation_id=ids.consent_operation_id,
                    project_id=self._project,
                    voice_talent_name=meta.talent_name,
                    company_name=meta.company_name,
                    locale=meta.locale,
                    audio=AudioFile("consent.wav", voice.consent),
                    description=f"{self._batch}/{state.key}",
                )
        except ProviderRejected as exc:
            existing = await self._adopt_after_refusal(
                exc, self._client.find_consent, ids.consent_id
            )
            if existing is None:
                raise
            return existing
        self.bytes_uploaded += voice.consent.stat().st_size
        log.info("create.consent_created", consent_id=created.resource.id)
        return created.resource

    async def _adopt_after_refusal(
        self, exc: ProviderRejected, find: _Finder[T], resource_id: str
    ) -> T | None:
        """After a refused create: the resource, if it exists under our id, else None.

        Our ids carry the content hash, so a resource under one is ours. It can exist while the
        create is refused when the ledger lost our record of it, or when the service no longer
        keeps the Operation-Id for a replay (its lifetime is undocumented, reference §11.8).
        """
        if isinstance(exc, AuthenticationFailed | NotFound):
            return None
        found = await find(resource_id)
        if found is not None:
            log.info("create.adopted_after_refusal", resource_id=resource_id, code=exc.code)
        return found

    # -- upload ------------------------------------------------------------------------------

    async def upload(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        if self._blob is None:
            return state.advance(Phase.UPLOADED)  # multipart: the audio goes with the create
        blob = self._blob
        ids = self.ids(state)
        todo = [
            (clip.normalized, name)
            for clip in voice.clips
            if (name := blob_name(self._batch, ids.personal_voice_id, clip.index))
            not in state.uploaded
        ]
        lock = anyio.Lock()
        current = state
        errors: list[ProviderError] = []

        async def one(path: Path, name: str) -> None:
            nonlocal current
            try:
                async with self._uploads:
                    size = await blob.put_file(name, path)
            except ProviderError as exc:
                # Collected, not raised: a task group would wrap it in an ExceptionGroup the
                # runner does not catch, and the other clips may as well finish (and be kept).
                errors.append(exc)
                return
            self.bytes_uploaded += size
            async with lock:
                current = replace(current, uploaded=(*current.uploaded, name))
                await save(current)

        async with anyio.create_task_group() as tg:
            for path, name in todo:
                tg.start_soon(one, path, name)
        if errors:
            raise errors[0]
        log.info(
            "upload.blobs_stored",
            blobs=len(todo),
            prefix=blob_prefix(self._batch, ids.personal_voice_id),
        )
        return current.advance(Phase.UPLOADED)

    # -- submit ------------------------------------------------------------------------------

    async def submit(self, voice: PreparedVoice, state: VoiceState, save: Save) -> VoiceState:
        ids = self.ids(state)
        pv: PersonalVoice | None = None
        if state.remote.get("personal_voice_id") == ids.personal_voice_id:
            pv = await self._client.find_personal_voice(ids.personal_voice_id)
            if pv is not None:
                log.info("submit.adopted", personal_voice_id=pv.id, remote_state=pv.status)
        else:
            state = replace(
                state, remote=state.with_remote(personal_voice_id=ids.personal_voice_id)
            )
            await save(state)
        if pv is None:
            pv = await self._create_voice(voice, state, ids)
        return state.advance(
            Phase.SUBMITTED,
            remote=state.with_remote(
                personal_voice_id=pv.id,
                speaker_profile_id=pv.speaker_profile_id,
                state=pv.status,
                failure_reason=None,
            ),
        )

    async def _create_voice(
        self, voice: PreparedVoice, state: VoiceState, ids: VoiceIds
    ) -> PersonalVoice:
        # recorded by create; the derived id is the same unless the inputs changed since
        consent_id = state.remote.get("consent_id") or ids.consent_id
        description = f"{self._batch}/{state.key}"
        try:
            if self._blob is None:
                audio = [AudioFile(f"{c.index:04d}.wav", c.normalized) for c in voice.clips]
                async with self._uploads:
                    created = await self._client.create_personal_voice(
                        ids.personal_voice_id,
                        operation_id=ids.personal_voice_operation_id,
                        project_id=self._project,
                        consent_id=consent_id,
                        audio=audio,
                        display_name=state.voice_name,
                        description=description,
                    )
                self.bytes_uploaded += sum(a.path.stat().st_size for a in audio)
            else:
                # The service lists and reads the container itself, so containerUrl must carry
                # the SAS (read + list, reference §6.4); it is sent in the body only, never
                # logged (BlobSource's repr and every error message redact it).
                created = await self._client.create_personal_voice_from_blobs(
                    ids.personal_voice_id,
                    operation_id=ids.personal_voice_operation_id,
                    project_id=self._project,
                    consent_id=consent_id,
                    source=BlobSource(
                        container_url=self._blob.container_url,
                        prefix=blob_prefix(self._batch, ids.personal_voice_id),
                        extensions=(".wav",),
                    ),
                    display_name=state.voice_name,
                    description=description,
                )
        except ProviderRejected as exc:
            existing = await self._adopt_after_refusal(
                exc, self._client.find_personal_voice, ids.personal_voice_id
            )
            if existing is None:
                raise
            return existing
        log.info("submit.created", personal_voice_id=created.resource.id)
        return created.resource

    # -- verify ------------------------------------------------------------------------------

    async def verify(self, states: Sequence[VoiceState]) -> list[VoiceState]:
        """Succeeded voices whose consent or personal voice was deleted since (``verify``)."""
        return await deleted_since(self._client, self._project, states)

    # -- await -------------------------------------------------------------------------------

    async def poll(
        self, states: Sequence[VoiceState], voices: Mapping[str, PreparedVoice]
    ) -> list[VoiceState]:
        listed = {v.id: v async for v in self._client.iter_personal_voices(self._project)}
        changed: list[VoiceState] = []
        for state in states:
            pv_id = state.remote.get("personal_voice_id", "")
            pv = listed.get(pv_id)
            if pv is None and pv_id:
                # Not in the list (created after the list was read, or a list that lags):
                # one GET for this voice tells.
                pv = await self._client.find_personal_voice(pv_id)
            if pv is None:
                changed.append(
                    vanished(state, f"personal voice {pv_id or '?'} no longer exists (deleted?)")
                )
                continue
            update = self._polled(state, pv)
            if update is not None:
                changed.append(update)
        return changed

    def _polled(self, state: VoiceState, pv: PersonalVoice) -> VoiceState | None:
        remote = state.with_remote(
            speaker_profile_id=pv.speaker_profile_id,
            state=pv.status,
            failure_reason=pv.failure_reason,
        )
        if pv.status == "Succeeded":
            return state.advance(Phase.DONE, status=VoiceStatus.SUCCEEDED, remote=remote)
        if pv.status == "Failed":
            reason = pv.failure_reason or "no reason given"
            finding = Finding(
                severity=Severity.ERROR,
                code="remote.job_failed",
                file=None,
                message=f"personal voice {pv.id} failed: {reason}",
            )
            return state.advance(
                Phase.DONE,
                status=VoiceStatus.FAILED,
                remote=remote,
                findings=(*state.findings, finding),
                last_error=finding.message,
            )
        if pv.status == state.remote.get("state"):
            return None
        # NotStarted → Running, or a status this client does not know (modelAsString):
        # recorded, and polling goes on until the await deadline.
        return replace(state, remote=remote)
