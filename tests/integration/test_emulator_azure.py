"""The Azure Custom Voice emulator over real loopback HTTP: routes, errors, LROs, faults, blobs."""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import time
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import aiohttp
import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.emulator.azure.service import AzureService
from pipeline.emulator.context import DEFAULT_AZURE_KEY, EmulatorOptions
from pipeline.emulator.server import Emulator

GA = "2026-01-01"
PREVIEW = "2024-02-01-preview"
KEY = {"Ocp-Apim-Subscription-Key": DEFAULT_AZURE_KEY}
FAST = 1000.0  #: time scale at which a consent or voice finishes within milliseconds
SAS_SIG = "c2lnbmF0dXJl+/="  # base64-looking, so URL quoting of the SAS is exercised


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests on asyncio (aiohttp needs it)."""
    return "asyncio"


def wav_bytes(seconds: float, rate: int = 24000) -> bytes:
    """A mono PCM16 sine tone of the given length."""
    frames = int(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(frames))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{frames}h", *samples))
    return buf.getvalue()


CONSENT_WAV = wav_bytes(1.0)
PROMPT_WAV = wav_bytes(3.0)


@dataclass
class Azure:
    """A running emulator and a client session with the right key."""

    service: AzureService
    base: str
    http: aiohttp.ClientSession

    def url(self, path: str, version: str | None = GA, **query: str) -> str:
        params = dict(query)
        if version is not None:
            params["api-version"] = version
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.base}/customvoice/{path}" + (f"?{qs}" if qs else "")

    async def call(
        self, method: str, path: str, *, version: str | None = GA, **kwargs: Any
    ) -> tuple[int, dict[str, str], Any]:
        headers = {**KEY, **kwargs.pop("headers", {})}
        query = kwargs.pop("query", {})
        async with self.http.request(
            method, self.url(path, version, **query), headers=headers, **kwargs
        ) as resp:
            raw = await resp.read()
            body = json.loads(raw) if raw else None
            return resp.status, dict(resp.headers), body

    async def project(self, pid: str = "proj1", **extra: str) -> None:
        status, _, body = await self.call(
            "PUT", f"projects/{pid}", json={"kind": "PersonalVoice", **extra}
        )
        assert status == 201, body

    async def consent(
        self,
        cid: str = "consent1",
        *,
        project: str = "proj1",
        talent: str = "Alice Smith",
        headers: dict[str, str] | None = None,
        audio: bytes = CONSENT_WAV,
    ) -> tuple[int, dict[str, str], Any]:
        return await self.call(
            "POST",
            f"consents/{cid}",
            data=consent_form(project, talent, audio),
            headers=headers or {},
        )

    async def voice(
        self,
        vid: str = "voice1",
        *,
        project: str = "proj1",
        consent: str = "consent1",
        audios: Iterable[bytes] = (PROMPT_WAV, PROMPT_WAV),
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        return await self.call(
            "POST",
            f"personalvoices/{vid}",
            data=voice_form(project, consent, audios),
            headers=headers or {},
        )

    async def settle(self, path: str, version: str = GA) -> dict[str, Any]:
        """GET ``path`` until its status is terminal."""
        for _ in range(200):
            status, _, body = await self.call("GET", path, version=version)
            assert status == 200, body
            if body["status"] in ("Succeeded", "Failed"):
                return dict(body)
            await anyio.sleep(0.02)
        raise AssertionError(f"{path} never settled: {body}")


def consent_form(
    project: str, talent: str, audio: bytes, audio_part: str = "audiodata"
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("projectId", project)
    form.add_field("voiceTalentName", talent)
    form.add_field("companyName", "Contoso")
    form.add_field("locale", "en-US")
    form.add_field(audio_part, audio, filename="consent.wav", content_type="audio/wav")
    return form


def voice_form(project: str, consent: str, audios: Iterable[bytes]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("projectId", project)
    form.add_field("consentId", consent)
    for i, audio in enumerate(audios):
        # alternate the two spellings the samples use: names are case-insensitive
        name = "audiodata" if i % 2 == 0 else "audioData"
        form.add_field(name, audio, filename=f"{i}.wav", content_type="audio/wav")
    return form


@asynccontextmanager
async def azure(tmp_path: Path, **options: Any) -> AsyncIterator[Azure]:
    """The whole emulator on a free loopback port, and a client session."""
    # throttling off unless a test asks for it: status polling would trip 50 per 10 s
    defaults = {"time_scale": FAST, "storage": tmp_path, "azure_requests_per_window": 0}
    opts = EmulatorOptions(**{**defaults, **options})
    async with Emulator(opts) as emu, aiohttp.ClientSession() as http:
        yield Azure(emu.azure, emu.base_url, http)


# --- a tiny Azure Blob container, speaking the List Blobs XML -------------------------------


@asynccontextmanager
async def blob_container(
    blobs: dict[str, bytes], *, page_size: int = 2, deny: bool = False
) -> AsyncIterator[str]:
    """Serve ``blobs`` as container ``voices`` of account ``acct``; yields the container SAS URL."""

    def authorized(request: web.Request) -> bool:
        return not deny and request.query.get("sig") == SAS_SIG and request.query.get("sp") == "rl"

    def refuse() -> web.Response:
        xml = "<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code><Message>no</Message></Error>"
        return web.Response(status=403, text=xml, content_type="application/xml")

    async def listing(request: web.Request) -> web.Response:
        if not authorized(request):
            return refuse()
        assert request.query["restype"] == "container"
        assert request.query["comp"] == "list"
        prefix = request.query.get("prefix", "")
        names = sorted(n for n in blobs if n.startswith(prefix))
        start = int(request.query.get("marker") or 0)
        page = names[start : start + page_size]
        items = "".join(
            f"<Blob><Name>{escape(n)}</Name><Properties><Content-Length>{len(blobs[n])}"
            "</Content-Length><Content-Type>audio/wav</Content-Type><BlobType>BlockBlob"
            "</BlobType></Properties></Blob>"
            for n in page
        )
        more = start + page_size < len(names)
        xml = (
            "<?xml version='1.0' encoding='utf-8'?><EnumerationResults "
            "ServiceEndpoint='http://127.0.0.1/acct' ContainerName='voices'>"
            f"<Prefix>{escape(prefix)}</Prefix><Blobs>{items}</Blobs>"
            f"<NextMarker>{start + page_size if more else ''}</NextMarker></EnumerationResults>"
        )
        return web.Response(text=xml, content_type="application/xml")

    async def get_blob(request: web.Request) -> web.Response:
        if not authorized(request):
            return refuse()
        name = request.match_info["name"]
        if name not in blobs:
            return web.Response(status=404)
        return web.Response(body=blobs[name], content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/acct/voices", listing)
    app.router.add_get("/acct/voices/{name:.+}", get_blob)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        sig = SAS_SIG.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        yield f"{server.make_url('/acct/voices')!s}?sv=2022-11-02&sp=rl&sig={sig}"
    finally:
        await server.close()


def error_code(headers: dict[str, str], body: Any) -> str:
    """The error code, checking the header and the body agree."""
    assert headers["x-ms-error-code"] == body["error"]["code"]
    return str(body["error"]["code"])


# --- auth, versions, routing ----------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_or_wrong_key_is_a_gateway_401(tmp_path: Path) -> None:
    """Requests without the right subscription key get the gateway's 401 body."""
    async with azure(tmp_path) as az:
        for headers in ({}, {"Ocp-Apim-Subscription-Key": "wrong"}):
            async with az.http.get(az.url("projects"), headers=headers) as resp:
                body = await resp.json()
            assert resp.status == 401
            assert body["error"]["code"] == "401"
            assert body["error"]["message"].startswith(
                "Access denied due to invalid subscription key"
            )
        assert az.service.counters().unauthorized == 2


@pytest.mark.anyio
async def test_api_version_is_required_and_checked(tmp_path: Path) -> None:
    """A missing or unknown api-version is 400; every known version is accepted."""
    async with azure(tmp_path) as az:
        status, headers, body = await az.call("GET", "projects", version=None)
        assert (status, error_code(headers, body)) == (400, "BadRequest")
        status, headers, body = await az.call("GET", "projects", version="2099-01-01")
        assert (status, error_code(headers, body)) == (400, "BadRequest")
        for version in ("2023-12-01-preview", PREVIEW, GA):
            assert (await az.call("GET", "projects", version=version))[0] == 200


@pytest.mark.anyio
async def test_unknown_routes_and_methods_answer_json(tmp_path: Path) -> None:
    """Unknown paths are a JSON 404 and unsupported methods a JSON 405."""
    async with azure(tmp_path) as az:
        status, headers, body = await az.call("GET", "nonsense/path")
        assert (status, error_code(headers, body)) == (404, "NotFound")
        status, headers, body = await az.call("PATCH", "projects/proj1", json={})
        assert status == 405
        assert error_code(headers, body) == "BadRequest"


@pytest.mark.anyio
async def test_base_models_shape_depends_on_version(tmp_path: Path) -> None:
    """/basemodels is paginated in GA and a bare array before."""
    async with azure(tmp_path) as az:
        _, _, ga = await az.call("GET", "basemodels")
        _, _, preview = await az.call("GET", "basemodels", version=PREVIEW)
        assert "PhoenixV2Neural" in {m["name"] for m in ga["value"]}
        assert isinstance(preview, list)
        assert preview[0]["capabilities"] == ["PersonalVoice"]


# --- projects -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_project_lifecycle(tmp_path: Path) -> None:
    """PUT creates (201), repeats idempotently, GET/list/DELETE work, kind cannot change."""
    async with azure(tmp_path) as az:
        status, _, created = await az.call(
            "PUT", "projects/proj1", json={"kind": "PersonalVoice", "locale": "en-US"}
        )
        assert status == 201
        assert created["kind"] == "PersonalVoice"
        assert created["locale"] == "en-US"
        assert created["createdDateTime"].endswith("Z")
        status, _, again = await az.call(
            "PUT", "projects/proj1", json={"kind": "PersonalVoice", "description": "d"}
        )
        assert status == 201
        assert again["createdDateTime"] == created["createdDateTime"]
        assert again["description"] == "d"
        status, headers, body = await az.call(
            "PUT", "projects/proj1", json={"kind": "ProfessionalVoice"}
        )
        assert status == 400
        assert body["error"]["details"][0]["target"] == "kind"
        _, _, preview = await az.call("GET", "projects/proj1", version=PREVIEW)
        assert "locale" not in preview  # Project.locale is GA-only
        _, _, listed = await az.call("GET", "projects")
        assert [p["id"] for p in listed["value"]] == ["proj1"]
        assert (await az.call("DELETE", "projects/proj1"))[0] == 204
        status, headers, body = await az.call("GET", "projects/proj1")
        assert (status, error_code(headers, body)) == (404, "NotFound")
        assert (await az.call("DELETE", "projects/proj1"))[0] == 404
        assert az.service.counters().creates == {"project": 1}


@pytest.mark.anyio
async def test_project_body_errors(tmp_path: Path) -> None:
    """Missing/unknown kind, non-JSON bodies and wrong content types are refused."""
    async with azure(tmp_path) as az:
        status, headers, body = await az.call("PUT", "projects/proj1", json={})
        assert status == 400
        assert body["error"]["details"][0]["code"] == "BadArgument"
        assert (await az.call("PUT", "projects/proj1", json={"kind": "Nope"}))[0] == 400
        status, _, _ = await az.call(
            "PUT", "projects/proj1", data=b"{", headers={"Content-Type": "application/json"}
        )
        assert status == 400
        status, headers, body = await az.call("PUT", "projects/proj1", data=b"kind=x")
        assert (status, error_code(headers, body)) == (415, "UnsupportedMediaType")
        status, _, _ = await az.call(
            "PUT", "projects/proj1", json={"kind": "PersonalVoice", "locale": "not a locale"}
        )
        assert status == 400


@pytest.mark.anyio
async def test_not_approved_resource_gets_403(tmp_path: Path) -> None:
    """With the approval switch off, project and personal-voice creation are 403."""
    async with azure(tmp_path) as az:
        az.service.approved = False
        status, headers, body = await az.call(
            "PUT", "projects/proj9", json={"kind": "PersonalVoice"}
        )
        assert (status, error_code(headers, body)) == (403, "Forbidden")


@pytest.mark.anyio
@pytest.mark.parametrize("bad", ["ab", "-abc", "abc-", "a" * 65, "ab!c", "ab%20c"])
async def test_path_ids_must_match_the_resource_id_pattern(tmp_path: Path, bad: str) -> None:
    """Ids outside ^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$ are 400 BadArgument."""
    async with azure(tmp_path) as az:
        status, headers, body = await az.call(
            "PUT", f"projects/{bad}", json={"kind": "PersonalVoice"}
        )
        assert (status, error_code(headers, body)) == (400, "BadRequest")
        assert body["error"]["details"][0]["code"] == "BadArgument"
        await az.project()
        status, _, body = await az.consent(bad)
        assert status == 400
        assert body["error"]["details"][0]["target"] == "id"


@pytest.mark.anyio
async def test_operation_id_header_must_match_the_pattern(tmp_path: Path) -> None:
    """A malformed Operation-Id is refused before anything is created."""
    async with azure(tmp_path) as az:
        await az.project()
        status, _, body = await az.consent(headers={"Operation-Id": "bad id!"})
        assert status == 400
        assert body["error"]["details"][0]["target"] == "Operation-Id"
        assert az.service.consents() == []


# --- consents -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_consent_multipart_create_progresses_to_succeeded(tmp_path: Path) -> None:
    """POST consent: 201 NotStarted with operation headers, audio on disk, then Succeeded."""
    async with azure(tmp_path) as az:
        await az.project()
        status, headers, body = await az.call(
            "POST",
            "consents/consent1",
            version=PREVIEW,
            data=consent_form("proj1", "Alice Smith", CONSENT_WAV, audio_part="AudioData"),
        )
        assert status == 201, body
        assert body["status"] == "NotStarted"
        assert body["createdDateTime"] == body["lastActionDateTime"]
        assert {"voiceTalentName", "companyName", "locale", "projectId"} <= body.keys()
        op_id = headers["Operation-Id"]
        uuid.UUID(op_id)  # generated ids are GUIDs, like the service's
        assert headers["Operation-Location"] == (
            f"{az.base}/customvoice/operations/{op_id}?api-version={PREVIEW}"
        )
        (audio,) = az.service.stored_audio("consent", "consent1")
        assert (audio.part, audio.filename, audio.size) == (
            "AudioData",
            "consent.wav",
            len(CONSENT_WAV),
        )
        assert audio.path.read_bytes() == CONSENT_WAV
        assert audio.sha256 == hashlib.sha256(CONSENT_WAV).hexdigest()
        assert audio.duration_s == pytest.approx(1.0)
        settled = await az.settle("consents/consent1")
        assert settled["status"] == "Succeeded"
        assert "properties" not in settled
        assert settled["lastActionDateTime"] > settled["createdDateTime"]
        _, _, op = await az.call("GET", f"operations/{op_id}")
        assert op == {"id": op_id, "status": "Succeeded"}
        assert not list((tmp_path / "azure" / "staging").iterdir())  # nothing left behind


@pytest.mark.anyio
async def test_status_goes_through_not_started_and_running(tmp_path: Path) -> None:
    """At real-time speed a fresh consent is NotStarted, then Running, then Succeeded."""
    async with azure(tmp_path, time_scale=1.0) as az:
        await az.project()
        await az.consent()
        timeline = az.service.consents()[0].timeline
        assert timeline.status_at(timeline.created)[0] == "NotStarted"
        assert timeline.status_at(timeline.started) == ("Running", timeline.started)
        assert timeline.status_at(timeline.finished) == ("Succeeded", timeline.finished)
        assert 2.0 <= timeline.finished - timeline.created <= 4.0  # "takes 2-3 seconds"
        assert az.service.state("consent", "consent1").status in ("NotStarted", "Running")


@pytest.mark.anyio
async def test_consent_request_errors(tmp_path: Path) -> None:
    """Missing fields, unknown projects, junk audio and extra files are 400; JSON to POST is 415."""
    async with azure(tmp_path) as az:
        await az.project()
        form = aiohttp.FormData()
        form.add_field("projectId", "proj1")
        form.add_field("audiodata", CONSENT_WAV, filename="c.wav")
        status, _, body = await az.call("POST", "consents/cons1", data=form)
        assert status == 400
        assert body["error"]["details"][0]["target"] == "voiceTalentName"
        status, _, body = await az.consent("cons1", project="nosuchproject")
        assert status == 400
        assert body["error"]["details"][0]["target"] == "projectId"
        status, _, body = await az.consent("cons1", audio=b"this is not audio at all")
        assert status == 400
        assert body["error"]["details"][0]["target"] == "audiodata"
        status, _, _ = await az.consent("cons1", audio=wav_bytes(0.5, rate=8000))
        assert status == 400  # 8 kHz is not an accepted rate
        form = consent_form("proj1", "Alice", CONSENT_WAV)
        form.add_field("audiodata", CONSENT_WAV, filename="second.wav")
        assert (await az.call("POST", "consents/cons1", data=form))[0] == 400
        status, headers, body = await az.call("POST", "consents/cons1", json={"projectId": "proj1"})
        assert (status, error_code(headers, body)) == (415, "UnsupportedMediaType")
        assert az.service.consents() == []
        assert az.service.counters().creates == {"project": 1}


@pytest.mark.anyio
async def test_consent_json_put_reads_audio_url(tmp_path: Path) -> None:
    """PUT consent with audioUrl: the emulator downloads the audio; audioUrl is never echoed."""
    async with azure(tmp_path) as az, blob_container({"consent.wav": CONSENT_WAV}) as container:
        await az.project()
        base, _, sas = container.partition("?")
        body = {
            "projectId": "proj1",
            "voiceTalentName": "Alice Smith",
            "companyName": "Contoso",
            "locale": "en-US",
            "audioUrl": f"{base}/consent.wav?{sas}",
        }
        status, headers, created = await az.call("PUT", "consents/consent1", json=body)
        assert status == 201, created
        assert "audioUrl" not in created
        assert "Operation-Location" in headers
        (audio,) = az.service.stored_audio("consent", "consent1")
        assert (audio.part, audio.size) == ("audioUrl", len(CONSENT_WAV))
        # outside loopback, or unreachable: refused at request time
        status, _, err = await az.call(
            "PUT", "consents/cons2", json={**body, "audioUrl": "https://example.com/c.wav"}
        )
        assert status == 400
        assert err["error"]["details"][0]["target"] == "audioUrl"
        status, _, _ = await az.call(
            "PUT", "consents/cons3", json={**body, "audioUrl": f"{base}/missing.wav?{sas}"}
        )
        assert status == 400


@pytest.mark.anyio
async def test_forced_consent_failure(tmp_path: Path) -> None:
    """A talent name forced to AudioAndScriptNotMatch gives a Failed consent and operation."""
    async with azure(tmp_path, outcomes=(("Mallory*", "AudioAndScriptNotMatch"),)) as az:
        await az.project()
        _, headers, _ = await az.consent("bad", talent="Mallory Evil")
        await az.consent("good", talent="Alice Smith")
        failed = await az.settle("consents/bad")
        assert failed["status"] == "Failed"
        assert failed["properties"] == {"failureReason": "AudioAndScriptNotMatch"}
        _, _, op = await az.call("GET", f"operations/{headers['Operation-Id']}")
        assert op["status"] == "Failed"
        assert (await az.settle("consents/good"))["status"] == "Succeeded"
        state = az.service.state("consent", "bad")
        assert (state.status, state.failure_reason) == ("Failed", "AudioAndScriptNotMatch")


@pytest.mark.anyio
async def test_forced_stuck_consent_never_finishes(tmp_path: Path) -> None:
    """consent:Running keeps the consent running forever (for deadline tests)."""
    async with azure(tmp_path, outcomes=(("*", "consent:Running"),)) as az:
        await az.project()
        await az.consent()
        await anyio.sleep(0.05)  # = 50 emulated seconds
        _, _, body = await az.call("GET", "consents/consent1")
        assert body["status"] == "Running"


@pytest.mark.anyio
async def test_consent_delete_and_unknown(tmp_path: Path) -> None:
    """DELETE consent is 204, then 404; an unknown consent or operation is 404."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        assert (await az.call("DELETE", "consents/consent1"))[0] == 204
        assert (await az.call("GET", "consents/consent1"))[0] == 404
        assert (await az.call("DELETE", "consents/consent1"))[0] == 404
        assert (await az.call("GET", "operations/nosuchop"))[0] == 404
        assert not (tmp_path / "azure" / "consents" / "consent1").exists()


# --- personal voices ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_personal_voice_multipart_create(tmp_path: Path) -> None:
    """POST personal voice with two files: 201 with speakerProfileId, then Succeeded."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        status, headers, body = await az.voice()
        assert status == 201, body
        assert body["status"] == "NotStarted"
        assert body["consentId"] == "consent1"
        profile = uuid.UUID(body["speakerProfileId"])
        assert str(profile) != body["id"]
        audio = az.service.stored_audio("personalvoice", "voice1")
        assert [(a.part, a.filename) for a in audio] == [
            ("audiodata", "0.wav"),
            ("audioData", "1.wav"),
        ]
        assert all(a.size == len(PROMPT_WAV) and a.path.is_file() for a in audio)
        settled = await az.settle("personalvoices/voice1")
        assert settled["status"] == "Succeeded"
        assert settled["speakerProfileId"] == body["speakerProfileId"]
        _, _, op = await az.call("GET", f"operations/{headers['Operation-Id']}")
        assert op["status"] == "Succeeded"
        # a voice waits for its consent
        consent = az.service.consents()[0].timeline
        assert az.service.personal_voices()[0].timeline.started > consent.finished


@pytest.mark.anyio
async def test_personal_voice_request_errors(tmp_path: Path) -> None:
    """Unknown/foreign/failed consents, missing audio and junk audio are 400."""
    async with azure(tmp_path, outcomes=(("Mallory*", "AudioAndScriptNotMatch"),)) as az:
        await az.project()
        await az.project("proj2")
        await az.consent()
        await az.consent("bad", talent="Mallory")
        await az.settle("consents/bad")
        status, _, body = await az.voice(consent="nosuch")
        assert status == 400
        assert body["error"]["details"][0]["target"] == "consentId"
        status, _, body = await az.voice(project="proj2")
        assert status == 400
        assert body["error"]["details"][0]["target"] == "consentId"
        status, _, body = await az.voice(consent="bad")
        assert status == 400
        assert "failed" in body["error"]["details"][0]["message"]
        status, _, body = await az.voice(audios=())
        assert status == 400
        assert body["error"]["details"][0]["target"] == "audiodata"
        status, _, _ = await az.voice(audios=(b"RIFF....WAVEjunk",))
        assert status == 400
        assert (await az.call("GET", "personalvoices/voice1"))[0] == 404
        assert (await az.call("DELETE", "personalvoices/voice1"))[0] == 404


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("forced", "reason"),
    [
        ("SpeakerVerificationFailed", "SpeakerVerificationFailed"),
        ("personalvoice:TerminateByUser", "TerminateByUser"),
        ("Failed", "Internal"),
    ],
)
async def test_forced_personal_voice_failures(tmp_path: Path, forced: str, reason: str) -> None:
    """Forced outcomes keyed by the consent's talent name fail the voice, not the consent."""
    async with azure(tmp_path, outcomes=(("Bob*", forced),)) as az:
        await az.project()
        await az.consent(talent="Bob Jones")
        await az.voice()
        assert (await az.settle("consents/consent1"))["status"] == "Succeeded"
        voice = await az.settle("personalvoices/voice1")
        assert (voice["status"], voice["properties"]["failureReason"]) == ("Failed", reason)


@pytest.mark.anyio
async def test_voice_on_a_consent_that_later_fails(tmp_path: Path) -> None:
    """A voice created while its consent runs fails with SpeakerVerificationFailed if it fails."""
    # slow enough (2-4 s of consent = 0.4-0.8 s real) that the consent is still running
    async with azure(tmp_path, time_scale=5.0, outcomes=(("*", "AudioAndScriptNotMatch"),)) as az:
        await az.project()
        await az.consent()
        status, _, _ = await az.voice()
        assert status == 201
        voice = await az.settle("personalvoices/voice1")
        assert voice["properties"]["failureReason"] == "SpeakerVerificationFailed"


@pytest.mark.anyio
async def test_too_little_prompt_audio_is_data_not_enough(tmp_path: Path) -> None:
    """Under 5 s of prompt audio fails DataNotEnough (GA), shown as Internal to the preview."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        await az.voice(audios=(wav_bytes(1.0),))
        voice = await az.settle("personalvoices/voice1")
        assert voice["properties"]["failureReason"] == "DataNotEnough"
        preview = await az.settle("personalvoices/voice1", version=PREVIEW)
        assert preview["properties"]["failureReason"] == "Internal"


@pytest.mark.anyio
async def test_delete_rules_and_project_cascade(tmp_path: Path) -> None:
    """A consent in use cannot be deleted; deleting the project removes everything in it."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        await az.voice()
        status, _, body = await az.call("DELETE", "consents/consent1")
        assert status == 400
        assert "voice1" in body["error"]["details"][0]["message"]
        assert (await az.call("DELETE", "projects/proj1", query={"forceDelete": "maybe"}))[0] == 400
        assert (await az.call("DELETE", "projects/proj1"))[0] == 204
        assert az.service.consents() == []
        assert az.service.personal_voices() == []
        assert (await az.call("GET", "personalvoices/voice1"))[0] == 404
        assert not (tmp_path / "azure" / "personalvoices" / "voice1").exists()


# --- personal voices from a blob container --------------------------------------------------


def blob_voice(container: str, prefix: str = "alice/") -> dict[str, Any]:
    return {
        "projectId": "proj1",
        "consentId": "consent1",
        "audios": {"containerUrl": container, "prefix": prefix, "extensions": [".wav"]},
    }


@pytest.mark.anyio
async def test_personal_voice_from_blob_container(tmp_path: Path) -> None:
    """PUT with audios lists the container (paged XML), filters prefix/extension, downloads."""
    blobs = {
        "alice/0.wav": PROMPT_WAV,
        "alice/1.WAV": PROMPT_WAV,
        "alice/sub dir/2.wav": PROMPT_WAV,
        "alice/notes.txt": b"text",
        "bob/0.wav": PROMPT_WAV,
    }
    async with azure(tmp_path) as az, blob_container(blobs) as container:
        await az.project()
        await az.consent()
        status, headers, body = await az.call(
            "PUT", "personalvoices/voice1", json=blob_voice(container)
        )
        assert status == 201, body
        assert "audios" not in body
        assert "Operation-Location" in headers
        audio = az.service.stored_audio("personalvoice", "voice1")
        assert sorted(a.filename for a in audio) == [
            "alice/0.wav",
            "alice/1.WAV",
            "alice/sub dir/2.wav",
        ]
        assert all(a.part == "blob" and a.path.read_bytes() == PROMPT_WAV for a in audio)
        assert (await az.settle("personalvoices/voice1"))["status"] == "Succeeded"


@pytest.mark.anyio
async def test_blob_container_problems_fail_the_voice(tmp_path: Path) -> None:
    """A refused container → InaccessibleCustomerStorage; nothing matching → DataNotEnough."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        async with blob_container({"alice/0.wav": PROMPT_WAV}, deny=True) as container:
            assert (await az.call("PUT", "personalvoices/pv1", json=blob_voice(container)))[
                0
            ] == 201
        async with blob_container({"alice/0.wav": PROMPT_WAV}) as container:
            await az.call("PUT", "personalvoices/pv2", json=blob_voice(container, prefix="carol/"))
        v1 = await az.settle("personalvoices/pv1")
        v2 = await az.settle("personalvoices/pv2")
        assert v1["properties"]["failureReason"] == "InaccessibleCustomerStorage"
        assert v2["properties"]["failureReason"] == "DataNotEnough"
        status, _, body = await az.call(
            "PUT",
            "personalvoices/pv3",
            json=blob_voice("https://acct.blob.core.windows.net/c?sig=x"),
        )
        assert status == 400
        assert body["error"]["details"][0]["target"] == "audios.containerUrl"
        bad = blob_voice("http://127.0.0.1:9/c")
        bad["audios"]["extensions"] = []
        assert (await az.call("PUT", "personalvoices/pv4", json=bad))[0] == 400


# --- idempotency ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_identical_operation_id_retry_replays(tmp_path: Path) -> None:
    """An identical multipart retry (new boundary) replays the first answer; nothing is re-created."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        op = {"Operation-Id": "voice1-create-0001"}
        first = await az.voice(headers=op)
        await anyio.sleep(0.02)  # the resource moves on; the replay still shows the original
        again = await az.voice(headers=op)
        assert first[0] == again[0] == 201
        assert first[2] == again[2]
        for name in ("Operation-Id", "Operation-Location"):
            assert first[1][name] == again[1][name]
        assert az.service.counters().creates["personalvoice"] == 1
        assert az.service.counters().replays == 1
        status, headers, body = await az.voice(headers=op, audios=(PROMPT_WAV, wav_bytes(3.5)))
        assert (status, error_code(headers, body)) == (400, "BadRequest")
        assert "Operation-Id" in body["error"]["message"]


@pytest.mark.anyio
async def test_json_replay_ignores_key_order_and_existing_ids_are_400(tmp_path: Path) -> None:
    """JSON bodies compare canonically; a re-create without the same Operation-Id is 400."""
    blobs = {"alice/0.wav": PROMPT_WAV, "alice/1.wav": PROMPT_WAV}
    async with azure(tmp_path) as az, blob_container(blobs) as container:
        await az.project()
        await az.consent()
        body = blob_voice(container)
        op = {"Operation-Id": "op.voice1"}
        first = await az.call("PUT", "personalvoices/voice1", json=body, headers=op)
        reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
        again = await az.call(
            "PUT",
            "personalvoices/voice1",
            data=reordered,
            headers={**op, "Content-Type": "application/json"},
        )
        assert first[0] == again[0] == 201
        assert first[2] == again[2]
        status, _, err = await az.call("PUT", "personalvoices/voice1", json=body)
        assert status == 400
        assert "already exists" in err["error"]["details"][0]["message"]
        status, _, err = await az.consent(headers={"Operation-Id": "another-op"})
        assert status == 400
        assert "already exists" in err["error"]["details"][0]["message"]


@pytest.mark.anyio
async def test_failed_request_does_not_burn_the_operation_id(tmp_path: Path) -> None:
    """A 400 does not register the Operation-Id, so a corrected retry may reuse it."""
    async with azure(tmp_path) as az:
        await az.project()
        op = {"Operation-Id": "consent1-op"}
        assert (await az.consent(headers=op, audio=b"junk"))[0] == 400
        assert (await az.consent(headers=op))[0] == 201


@pytest.mark.anyio
async def test_concurrent_identical_creates_make_one_resource(tmp_path: Path) -> None:
    """Two identical requests racing with one Operation-Id create one consent, both get 201."""
    async with azure(tmp_path) as az:
        await az.project()
        results: list[int] = []

        async def send() -> None:
            results.append((await az.consent(headers={"Operation-Id": "race-op"}))[0])

        async with anyio.create_task_group() as tg:
            tg.start_soon(send)
            tg.start_soon(send)
        assert results == [201, 201]
        assert len(az.service.consents()) == 1


# --- lists ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_paging_with_next_link(tmp_path: Path) -> None:
    """skip/maxpagesize page a stable order; nextLink is absolute, keeps filter and version."""
    async with azure(tmp_path) as az:
        for i in range(5):
            await az.project(f"proj{i}")
        await az.call("PUT", "projects/pro-x", json={"kind": "ProfessionalVoice"})
        seen: list[str] = []
        url: str | None = az.url(
            "projects", PREVIEW, maxpagesize="2", filter="kind%20eq%20'PersonalVoice'"
        )
        while url is not None:
            async with az.http.get(url, headers=KEY) as resp:
                page = await resp.json()
            seen += [p["id"] for p in page["value"]]
            url = page.get("nextLink")
            if url is not None:
                query = parse_qs(urlsplit(url).query)
                assert url.startswith(az.base)
                assert query["api-version"] == [PREVIEW]
                assert query["maxpagesize"] == ["2"]
                assert query["filter"] == ["kind eq 'PersonalVoice'"]
        assert seen == [f"proj{i}" for i in range(5)]
        _, _, page = await az.call("GET", "projects", query={"skip": "4", "maxpagesize": "10"})
        assert [p["id"] for p in page["value"]] == ["proj4", "pro-x"]
        assert "nextLink" not in page
        for bad in ({"skip": "-1"}, {"maxpagesize": "0"}, {"skip": "x"}):
            assert (await az.call("GET", "projects", query=bad))[0] == 400


@pytest.mark.anyio
async def test_list_filters(tmp_path: Path) -> None:
    """projectId/locale eq and ne, createdDateTime comparisons, and bad filters (400)."""
    async with azure(tmp_path) as az:
        await az.project("proja")
        await az.project("projb")
        await az.consent("cons1", project="proja")
        await anyio.sleep(0.01)  # 10 emulated seconds apart
        await az.consent("cons2", project="projb")
        cut = az.service.consents()[1].timeline.created - 1

        async def ids(flt: str, path: str = "consents") -> list[str]:
            status, _, body = await az.call("GET", path, query={"filter": flt})
            assert status == 200, body
            return [c["id"] for c in body["value"]]

        stamp = (
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut)) + f".{int(cut * 1000) % 1000:03d}Z"
        )
        assert await ids("projectId eq 'proja'") == ["cons1"]
        assert await ids("projectId ne 'proja'") == ["cons2"]
        assert await ids("locale eq 'en-US' and projectId eq 'projb'") == ["cons2"]
        assert await ids(f"createdDateTime gt {stamp}") == ["cons2"]
        assert await ids(f"createdDateTime le {stamp}") == ["cons1"]
        assert await ids("kind eq 'PersonalVoice'", "projects") == ["proja", "projb"]
        for bad in (
            "projectId gt 'proja'",
            "projectId eq pa",
            "colour eq 'red'",
            "projectId eq",
            "createdDateTime gt yesterday",
            "projectId eq 'proja' or locale eq 'x'",
        ):
            status, headers, body = await az.call("GET", "consents", query={"filter": bad})
            assert (status, error_code(headers, body)) == (400, "BadRequest"), bad


# --- throttling and faults ------------------------------------------------------------------


@pytest.mark.anyio
async def test_sliding_window_throttle(tmp_path: Path) -> None:
    """Past the per-key budget calls get 429 TooManyRequests with Retry-After, then recover."""
    async with azure(tmp_path, azure_requests_per_window=3, azure_window_s=1.0) as az:
        statuses = [(await az.call("GET", "projects"))[0] for _ in range(3)]
        status, headers, body = await az.call("GET", "projects")
        assert statuses == [200, 200, 200]
        assert (status, error_code(headers, body)) == (429, "TooManyRequests")
        assert headers["Retry-After"] == "1"  # whole seconds, rounded up
        await anyio.sleep(1.05)
        assert (await az.call("GET", "projects"))[0] == 200
        assert az.service.counters().throttled == 1


@pytest.mark.anyio
async def test_injected_faults_cover_every_status_and_both_retry_after_cases(
    tmp_path: Path,
) -> None:
    """fault_rate=1 answers 500/503/429 (429 with and without Retry-After), seeded."""
    async with azure(tmp_path, fault_rate=1.0, seed=7) as az:
        seen: set[tuple[int, bool]] = set()
        for _ in range(40):
            status, headers, body = await az.call("GET", "projects")
            assert status in (429, 500, 503)
            assert headers["x-ms-error-code"] == body["error"]["code"]
            seen.add((status, "Retry-After" in headers))
        assert {(500, False), (503, False), (429, True), (429, False)} <= seen
        assert sum(az.service.counters().faults.values()) == 40


@pytest.mark.anyio
async def test_lost_response_faults_take_effect(tmp_path: Path) -> None:
    """Some 500s on writes come after the write happened; an Operation-Id retry then replays."""
    async with azure(tmp_path, seed=3, fault_rate=0.5) as az:
        for _ in range(50):
            await az.call("PUT", "projects/proj1", json={"kind": "PersonalVoice"})
            if az.service.projects():
                break
        lost: list[int] = []
        for i in range(30):
            status, _, _ = await az.consent(f"consent{i}", headers={"Operation-Id": f"op-{i}"})
            if status != 201 and any(c.id == f"consent{i}" for c in az.service.consents()):
                assert status == 500
                lost.append(i)
        assert az.service.counters().lost_responses >= len(lost) > 0
        for i in lost:
            for _ in range(50):
                status, headers, _ = await az.consent(
                    f"consent{i}", headers={"Operation-Id": f"op-{i}"}
                )
                if status == 201:
                    assert headers["Operation-Id"] == f"op-{i}"
                    break
            else:
                raise AssertionError("the replay never got through")
        counters = az.service.counters()
        assert counters.creates["consent"] == len(az.service.consents())
        assert counters.replays >= len(lost)


@pytest.mark.anyio
async def test_latency_is_added_to_control_calls(tmp_path: Path) -> None:
    """latency=0.2 delays every call by at least that much real time."""
    async with azure(tmp_path, latency=0.2) as az:
        start = time.monotonic()
        assert (await az.call("GET", "projects"))[0] == 200
        assert time.monotonic() - start >= 0.2


# --- inspection -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_snapshot_is_json_and_counts(tmp_path: Path) -> None:
    """snapshot() reports resources with their current status and the request counters."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        await az.voice()
        await az.settle("personalvoices/voice1")
        snap = json.loads(json.dumps(az.service.snapshot()))
        assert [p["id"] for p in snap["projects"]] == ["proj1"]
        assert snap["consents"][0]["status"] == "Succeeded"
        assert len(snap["personalVoices"][0]["audio"]) == 2
        assert snap["counters"]["creates"] == {"project": 1, "consent": 1, "personalvoice": 1}
        assert snap["counters"]["byRoute"]["POST consents"] == 1


@pytest.mark.anyio
async def test_upload_fault_resets_multipart_uploads(tmp_path: Path) -> None:
    """upload_fault_rate=1 drops every multipart create mid-body; nothing is created."""
    async with azure(tmp_path, upload_fault_rate=1.0) as az:
        await az.project()
        with pytest.raises(aiohttp.ClientError):
            await az.consent(audio=wav_bytes(4.0))
        assert az.service.consents() == []
        assert az.service.counters().upload_resets == 1
        assert (await az.call("GET", "projects/proj1"))[0] == 200  # JSON calls are not uploads


@pytest.mark.anyio
async def test_state_route_includes_azure(tmp_path: Path) -> None:
    """GET /_emulator/state carries the Azure snapshot."""
    async with azure(tmp_path) as az:
        await az.project()
        async with az.http.get(f"{az.base}/_emulator/state") as resp:
            state = await resp.json()
        assert [p["id"] for p in state["azure"]["projects"]] == ["proj1"]


# --- the emulator's own blob endpoint -------------------------------------------------------


def with_query(url: str, **extra: str) -> str:
    base, _, sas = url.partition("?")
    return f"{base}?{sas}&" + "&".join(f"{k}={v}" for k, v in extra.items())


def blob(container_url: str, name: str) -> str:
    base, _, sas = container_url.partition("?")
    return f"{base}/{name}?{sas}"


@pytest.mark.anyio
async def test_emulator_blob_endpoint_put_list_get(tmp_path: Path) -> None:
    """Put Blob, Put Block/Block List, List Blobs and Get Blob on the emulator's container."""
    async with azure(tmp_path) as az:
        sas = az.service.container_sas_url("voices")
        put = {"x-ms-blob-type": "BlockBlob", "Content-Type": "audio/wav"}
        async with az.http.put(blob(sas, "alice/0.wav"), data=PROMPT_WAV, headers=put) as resp:
            assert resp.status == 201
            assert resp.headers["Content-MD5"]
        async with az.http.put(blob(sas, "alice/x.wav"), data=b"x") as resp:
            assert resp.status == 400
            assert resp.headers["x-ms-error-code"] == "MissingRequiredHeader"
        # the same audio again, in two blocks
        ids = ["YmxvY2stMA==", "YmxvY2stMQ=="]
        half = len(PROMPT_WAV) // 2
        for block_id, chunk in zip(ids, (PROMPT_WAV[:half], PROMPT_WAV[half:]), strict=True):
            url = with_query(blob(sas, "alice/1.wav"), comp="block", blockid=block_id)
            async with az.http.put(url, data=chunk) as resp:
                assert resp.status == 201
        block_list = (
            "<?xml version='1.0'?><BlockList>"
            + "".join(f"<Latest>{b}</Latest>" for b in ids)
            + "</BlockList>"
        )
        url = with_query(blob(sas, "alice/1.wav"), comp="blocklist")
        async with az.http.put(
            url, data=block_list, headers={"x-ms-blob-content-type": "audio/wav"}
        ) as resp:
            assert resp.status == 201
        url = with_query(sas, restype="container", comp="list", prefix="alice/", maxresults="1")
        names: list[str] = []
        while True:
            async with az.http.get(url) as resp:
                root = ET.fromstring(await resp.read())
            names += [el.text or "" for el in root.iterfind("Blobs/Blob/Name")]
            marker = root.findtext("NextMarker")
            if not marker:
                break
            url = with_query(sas, restype="container", comp="list", maxresults="1", marker=marker)
        assert names == ["alice/0.wav", "alice/1.wav"]
        async with az.http.get(blob(sas, "alice/1.wav")) as resp:
            assert await resp.read() == PROMPT_WAV
            assert resp.headers["Content-Type"] == "audio/wav"
        assert [b.size for b in az.service.blob_store.blobs("voices")] == [len(PROMPT_WAV)] * 2
        # the Speech side reads the same container
        await az.project()
        await az.consent()
        status, _, body = await az.call("PUT", "personalvoices/voice1", json=blob_voice(sas))
        assert status == 201, body
        assert len(az.service.stored_audio("personalvoice", "voice1")) == 2
        assert (await az.settle("personalvoices/voice1"))["status"] == "Succeeded"


@pytest.mark.anyio
async def test_emulator_blob_endpoint_checks_the_sas(tmp_path: Path) -> None:
    """A tampered, expired or under-privileged SAS is 403; unknown blobs are 404."""
    async with azure(tmp_path) as az:
        put = {"x-ms-blob-type": "BlockBlob"}
        sas = az.service.container_sas_url("voices")
        tampered = sas.replace("sp=racwdl", "sp=rl")
        expired = az.service.container_sas_url("voices", ttl=-1)
        read_only = az.service.container_sas_url("voices", permissions="rl")
        for url, code in (
            (tampered, "AuthenticationFailed"),
            (expired, "AuthenticationFailed"),
            (read_only, "AuthorizationPermissionMismatch"),
            (blob(sas, "x.wav").split("?")[0], "NoAuthenticationInformation"),
        ):
            target = url if "?" not in url else blob(url, "x.wav")
            async with az.http.put(target, data=b"x", headers=put) as resp:
                assert resp.status == 403
                assert resp.headers["x-ms-error-code"] == code
                assert b"<Code>" + code.encode() in await resp.read()
        async with az.http.get(blob(sas, "missing.wav")) as resp:
            assert resp.status == 404
            assert resp.headers["x-ms-error-code"] == "BlobNotFound"
        other = sas.replace("/voices?", "/nosuch?")
        async with az.http.get(blob(other, "a.wav")) as resp:
            assert resp.status == 403  # the signature covers the container name


@pytest.mark.anyio
async def test_emulator_blob_put_resets_under_upload_faults(tmp_path: Path) -> None:
    """upload_fault_rate also drops Put Blob uploads mid-body, leaving no blob."""
    async with azure(tmp_path, upload_fault_rate=1.0) as az:
        sas = az.service.container_sas_url("voices")
        with pytest.raises(aiohttp.ClientError):
            async with az.http.put(
                blob(sas, "a.wav"), data=wav_bytes(4.0), headers={"x-ms-blob-type": "BlockBlob"}
            ):
                pass
        assert az.service.blob_store.blobs("voices") == []


@pytest.mark.anyio
async def test_sas_lifetime_follows_url_ttl(tmp_path: Path) -> None:
    """Minted SAS URLs expire after url_ttl real seconds."""
    async with azure(tmp_path, url_ttl=1.0) as az:
        sas = az.service.container_sas_url("voices")
        put = {"x-ms-blob-type": "BlockBlob"}
        async with az.http.put(blob(sas, "a.wav"), data=b"a", headers=put) as resp:
            assert resp.status == 201
        await anyio.sleep(1.1)  # the expiry has whole-second resolution, like a real SAS
        async with az.http.put(blob(sas, "b.wav"), data=b"b", headers=put) as resp:
            assert resp.status == 403
            assert resp.headers["x-ms-error-code"] == "AuthenticationFailed"


# --- the alternatives the docs leave open ----------------------------------------------------


@pytest.mark.anyio
async def test_replayed_operation_id_never_resurrects_a_deleted_resource(tmp_path: Path) -> None:
    """After a delete the Operation-Id is forgotten: no 201 replay for a resource that is gone,
    its operation is 404, and the same request again is a new create with a new profile."""
    async with azure(tmp_path) as az:
        await az.project()
        await az.consent()
        op = {"Operation-Id": "voice1-create-0001"}
        first = await az.voice(headers=op)
        assert first[0] == 201
        assert (await az.call("DELETE", "personalvoices/voice1"))[0] == 204
        assert (await az.call("GET", "personalvoices/voice1"))[0] == 404
        assert (await az.call("GET", "operations/voice1-create-0001"))[0] == 404
        again = await az.voice(headers=op)
        counters = az.service.counters()
        assert again[0] == 201
        assert counters.replays == 0  # answered by a create, not from the forgotten record
        assert counters.creates["personalvoice"] == 2
        assert again[2]["speakerProfileId"] != first[2]["speakerProfileId"]
        (voice,) = az.service.personal_voices()
        assert voice.speaker_profile_id == again[2]["speakerProfileId"]
        # a consent deleted (here with its project) forgets its Operation-Id too
        consent_op = {"Operation-Id": "consent2-op"}
        assert (await az.consent("consent2", headers=consent_op))[0] == 201
        assert (await az.call("DELETE", "projects/proj1"))[0] == 204
        status, headers, body = await az.consent("consent2", headers=consent_op)
        assert (status, error_code(headers, body)) == (400, "BadRequest")  # no project: no 201
        assert az.service.consents() == []


@pytest.mark.anyio
async def test_foreign_host_links_name_another_host_and_refuse_requests_there(
    tmp_path: Path,
) -> None:
    """azure-foreign-host-links: nextLink and Operation-Location name localhost for 127.0.0.1;
    a request that follows one is refused 421 and counted, with the key it carried."""
    async with azure(tmp_path, plays=frozenset({"azure-foreign-host-links"})) as az:
        assert az.base.startswith("http://127.0.0.1:")
        foreign = az.base.replace("127.0.0.1", "localhost")
        await az.project()
        status, headers, _ = await az.consent()
        assert status == 201
        assert headers["Operation-Location"].startswith(f"{foreign}/customvoice/operations/")
        await az.consent("consent2")
        status, _, body = await az.call("GET", "consents", query={"maxpagesize": "1"})
        assert status == 200
        assert body["nextLink"].startswith(f"{foreign}/customvoice/consents?skip=1")
        async with az.http.get(body["nextLink"], headers=KEY) as resp:
            assert resp.status == 421
        async with az.http.get(headers["Operation-Location"]) as resp:
            assert resp.status == 421
        counters = az.service.counters()
        assert (counters.misdirected, counters.keys_sent_elsewhere) == (2, 1)


@pytest.mark.anyio
async def test_default_links_stay_on_the_emulators_host(tmp_path: Path) -> None:
    """In the default mode the links name the host the client was configured with."""
    async with azure(tmp_path) as az:
        await az.project()
        _, headers, _ = await az.consent()
        assert headers["Operation-Location"].startswith(f"{az.base}/customvoice/operations/")
        async with az.http.get(headers["Operation-Location"], headers=KEY) as resp:
            assert resp.status == 200


@pytest.mark.anyio
async def test_project_put_refused_for_an_existing_project(tmp_path: Path) -> None:
    """azure-project-put-refused: the first PUT creates, a second is 400 "already exists"."""
    async with azure(tmp_path, plays=frozenset({"azure-project-put-refused"})) as az:
        await az.project()
        status, headers, body = await az.call(
            "PUT", "projects/proj1", json={"kind": "PersonalVoice"}
        )
        assert (status, error_code(headers, body)) == (400, "BadRequest")
        assert "already exists" in body["error"]["details"][0]["message"]
        assert (await az.call("GET", "projects/proj1"))[0] == 200
        assert az.service.counters().creates["project"] == 1


@pytest.mark.anyio
async def test_consent_in_use_can_be_deleted_when_played(tmp_path: Path) -> None:
    """azure-consent-delete-allowed: a consent a voice uses is deleted; the voice stays."""
    async with azure(tmp_path, plays=frozenset({"azure-consent-delete-allowed"})) as az:
        await az.project()
        await az.consent()
        assert (await az.voice())[0] == 201
        assert (await az.call("DELETE", "consents/consent1"))[0] == 204
        assert [v.id for v in az.service.personal_voices()] == ["voice1"]
        assert az.service.consents() == []


@pytest.mark.anyio
async def test_page_size_cap_is_an_option(tmp_path: Path) -> None:
    """azure_max_page_size bounds a page whatever maxpagesize asks."""
    async with azure(tmp_path, azure_max_page_size=1) as az:
        await az.project("proj1")
        await az.project("proj2")
        status, _, body = await az.call("GET", "projects", query={"maxpagesize": "50"})
        assert status == 200
        assert len(body["value"]) == 1
        assert "skip=1" in body["nextLink"]
