"""``/customvoice/consents``: the talent's recorded statement, a long-running create.

PUT takes JSON with an ``audioUrl`` (read once, from loopback only; unreadable → 400), POST a
multipart form with one ``audiodata`` file. The referenced project must exist (400 otherwise: a
body field is wrong, the URL is not). Forced outcomes are looked up by ``voiceTalentName``
(``azure.outcomes``). Status: NotStarted 0.5-1.5 s → Running 1.5-2.5 s → terminal, emulated
seconds fixed per consent by the seed and its id. Deleting a consent a personal voice uses is 400
(undocumented, reference §11.6); under ``azure-consent-delete-allowed`` it is deleted and the
voice stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiohttp
from aiohttp import web

from pipeline.emulator.azure.audio import accept_audio
from pipeline.emulator.azure.blob_fetch import (
    BlobFetchError,
    client_session,
    download,
    loopback_url,
)
from pipeline.emulator.azure.bodies import Body, StagedFile, optional_text, required_text
from pipeline.emulator.azure.errors import bad_argument
from pipeline.emulator.azure.listing import page_resources
from pipeline.emulator.azure.operations import Operations
from pipeline.emulator.azure.outcomes import parse_forced, timeline
from pipeline.emulator.azure.records import Consent, check_locale
from pipeline.emulator.azure.state import AzureState

#: The alternative that lets a consent in use be deleted (``alternatives.ALTERNATIVES``).
CONSENT_DELETE_ALLOWED: Final = "azure-consent-delete-allowed"


class Consents:
    """The consent routes."""

    def __init__(self, state: AzureState, operations: Operations) -> None:
        self._state = state
        self._operations = operations

    async def create(self, request: web.Request, version: str) -> web.StreamResponse:
        return await self._operations.create(request, version, "consent", self._build)

    async def _build(
        self, request: web.Request, cid: str, op_id: str, body: Body, final: Path
    ) -> Consent:
        state = self._state
        project_id = state.referenced_project(body)
        talent = required_text(body, "voiceTalentName")
        company = required_text(body, "companyName")
        locale = required_text(body, "locale")
        check_locale(locale)
        if request.method == "POST":
            audio = [f for f in body.files if f.part.lower() == "audiodata"]
            if len(audio) != 1:
                raise bad_argument("audiodata", "Exactly one audiodata file is required.")
            staged = audio[0]
        else:
            url = loopback_url(body.fields.get("audioUrl"), "audioUrl")
            try:
                async with client_session() as session:
                    got = await download(session, url, body.staging / "audiourl.bin")
            except (BlobFetchError, aiohttp.ClientError, TimeoutError) as exc:
                raise bad_argument("audioUrl", f"The audioUrl could not be read: {exc}.") from None
            staged = StagedFile(
                "audioUrl", url.path, got.content_type, got.size, got.sha256, "audiourl.bin"
            )
        stored = accept_audio(
            staged, body.staging, final, "audiodata" if request.method == "POST" else "audioUrl"
        )
        forced = parse_forced(state.ctx.options.forced_outcome(talent))
        now = state.now()
        plan = timeline(
            state.ctx.options.seed,
            "consent",
            cid,
            now,
            now,
            (0.5, 1.5),
            (1.5, 2.5),
            forced.consent_reason,
            forced.consent_stuck,
        )
        return Consent(
            id=cid,
            project_id=project_id,
            voice_talent_name=talent,
            company_name=company,
            locale=locale,
            timeline=plan,
            audio=(stored,),
            operation_id=op_id,
            source="multipart" if request.method == "POST" else "audioUrl",
            display_name=optional_text(body, "displayName"),
            description=optional_text(body, "description"),
        )

    async def get(self, request: web.Request, version: str) -> web.StreamResponse:
        consent = self._state.consent(request.match_info["id"])
        return web.json_response(consent.to_json(self._state.now(), version))

    async def list(self, request: web.Request, version: str) -> web.StreamResponse:
        state = self._state
        return page_resources(
            request,
            state.link_base(request),
            version,
            state.now(),
            state.consents.values(),
            state.ctx.options.azure_max_page_size,
        )

    async def delete(self, request: web.Request, version: str) -> web.StreamResponse:
        state = self._state
        consent = state.consent(request.match_info["id"])
        users = sorted(v.id for v in state.voices.values() if v.consent_id == consent.id)
        if users and not state.ctx.options.playing(CONSENT_DELETE_ALLOWED):
            raise bad_argument(
                "id", f"The consent is used by personal voice(s) {', '.join(users)}."
            )
        state.drop_consent(consent)
        return web.Response(status=204)
