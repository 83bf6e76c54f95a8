"""``/customvoice/personalvoices``: a voice built from prompt audio against a consent.

POST takes a multipart form with ``audiodata`` files, PUT JSON naming a blob container
(``audios``: containerUrl, prefix, extensions). Audio that is not WAV (16/24/44.1/48 kHz,
16/24/32 bit) or MP3 is 400 at request time; blob problems are found after acceptance, like the
real service: an unreadable container → ``InaccessibleCustomerStorage``, no matching blob or
under 5 s in total → ``DataNotEnough``, an unreadable blob → ``Internal``. The consent must
exist, be of the same project and not have ``Failed`` (400 otherwise). A voice created while
its consent is still running starts once the consent ends and fails with
``SpeakerVerificationFailed`` if the consent fails. Status: NotStarted 0.5-1.5 s → Running
1-4 s (blob: 3-10 s), emulated seconds fixed per voice by the seed and its id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web

from pipeline.emulator.azure.audio import accept_audio
from pipeline.emulator.azure.blob_fetch import (
    BlobFetchError,
    blob_url,
    client_session,
    download,
    list_container,
    loopback_url,
)
from pipeline.emulator.azure.bodies import Body, StagedFile, optional_text, required_text
from pipeline.emulator.azure.errors import AzureError, bad_argument
from pipeline.emulator.azure.listing import page_resources
from pipeline.emulator.azure.operations import Operations
from pipeline.emulator.azure.outcomes import parse_forced, timeline
from pipeline.emulator.azure.records import PersonalVoice, StoredAudio, check_id
from pipeline.emulator.azure.state import AzureState

MIN_PROMPT_SECONDS: Final = 5.0


class PersonalVoices:
    """The personal voice routes."""

    def __init__(self, state: AzureState, operations: Operations) -> None:
        self._state = state
        self._operations = operations

    async def create(self, request: web.Request, version: str) -> web.StreamResponse:
        if version == "2023-04-01-preview":
            raise AzureError(404, "personalvoices does not exist in this api-version.")
        return await self._operations.create(request, version, "personalvoice", self._build)

    async def _build(
        self, request: web.Request, vid: str, op_id: str, body: Body, final: Path
    ) -> PersonalVoice:
        state = self._state
        project_id = state.referenced_project(body)
        consent_id = check_id(required_text(body, "consentId"), "consentId")
        consent = state.consents.get(consent_id)
        if consent is None:
            raise bad_argument("consentId", f"The consent '{consent_id}' does not exist.")
        if consent.project_id != project_id:
            raise bad_argument("consentId", f"The consent '{consent_id}' is in another project.")
        if consent.timeline.status_at(state.now())[0] == "Failed":
            raise bad_argument("consentId", f"The consent '{consent_id}' has failed.")
        reason: str | None = None
        if request.method == "POST":
            audio = [f for f in body.files if f.part.lower() == "audiodata"]
            if not audio:
                raise bad_argument("audiodata", "At least one audiodata file is required.")
            stored = [accept_audio(f, body.staging, final, "audiodata") for f in audio]
            source = "multipart"
        else:
            stored, reason = await _fetch_audios(body, final)
            source = "blob"
        if reason is None and sum(a.duration_s for a in stored) < MIN_PROMPT_SECONDS:
            reason = "DataNotEnough"
        data_problem = reason is not None
        forced = parse_forced(state.ctx.options.forced_outcome(consent.voice_talent_name))
        stuck = forced.voice_stuck
        if reason is None:
            reason = forced.voice_reason
            if consent.timeline.outcome == "Failed":
                reason = "SpeakerVerificationFailed"
        now = state.now()
        # a healthy voice waits for its consent; unusable data fails on its own schedule
        begin = now if data_problem else max(now, consent.timeline.finished)
        span = (1.0, 4.0) if source == "multipart" else (3.0, 10.0)
        seed = state.ctx.options.seed
        plan = timeline(seed, "personalvoice", vid, now, begin, (0.5, 1.5), span, reason, stuck)
        return PersonalVoice(
            id=vid,
            project_id=project_id,
            consent_id=consent_id,
            speaker_profile_id=state.new_id(),
            timeline=plan,
            audio=tuple(stored),
            operation_id=op_id,
            source=source,
            locale=consent.locale,
            display_name=optional_text(body, "displayName"),
            description=optional_text(body, "description"),
        )

    async def get(self, request: web.Request, version: str) -> web.StreamResponse:
        voice = self._state.voice(request.match_info["id"])
        return web.json_response(voice.to_json(self._state.now(), version))

    async def list(self, request: web.Request, version: str) -> web.StreamResponse:
        state = self._state
        return page_resources(
            request,
            state.link_base(request),
            version,
            state.now(),
            state.voices.values(),
            state.ctx.options.azure_max_page_size,
        )

    async def delete(self, request: web.Request, version: str) -> web.StreamResponse:
        self._state.drop_voice(self._state.voice(request.match_info["id"]))
        return web.Response(status=204)


async def _fetch_audios(body: Body, final: Path) -> tuple[list[StoredAudio], str | None]:
    """Read ``audios`` blobs into staging; a storage problem becomes a failure reason."""
    audios = body.fields.get("audios")
    if not isinstance(audios, dict):
        raise bad_argument("audios", "audios (containerUrl, prefix, extensions) is required.")
    container = loopback_url(audios.get("containerUrl"), "audios.containerUrl")
    prefix = audios.get("prefix", "")
    extensions = audios.get("extensions")
    if not isinstance(prefix, str):
        raise bad_argument("audios.prefix", "audios.prefix must be a string.")
    if (
        not isinstance(extensions, list)
        or not extensions
        or not all(isinstance(e, str) and e for e in extensions)
    ):
        raise bad_argument("audios.extensions", "audios.extensions must list extensions.")
    stored: list[StoredAudio] = []
    try:
        async with client_session() as session:
            items = await list_container(session, container, prefix, tuple(extensions))
            for index, item in enumerate(items):
                local = f"{index:04d}.bin"
                got = await download(session, blob_url(container, item.name), body.staging / local)
                staged = StagedFile(
                    "blob", item.name, got.content_type, got.size, got.sha256, local
                )
                try:
                    stored.append(accept_audio(staged, body.staging, final, "blob"))
                except AzureError:
                    return stored, "Internal"
    except (BlobFetchError, aiohttp.ClientError, TimeoutError, ValueError):
        return stored, "InaccessibleCustomerStorage"
    return stored, None if stored else "DataNotEnough"
