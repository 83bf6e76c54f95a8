"""The Huawei half of the emulator over real loopback HTTP: auth, routes, audit, faults, scale."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import anyio
import anyio.to_thread
import numpy as np
import pytest
import soundfile as sf
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkmetastudio.v1 import (
    CommitVoiceTrainingJobRequest,
    CreateTrainingBasicJobRequest,
    CreateTrainingJobReq,
    DeleteVoiceTrainingJobRequest,
    ListVoiceTrainingJobRequest,
    MetaStudioClient,
    ShowVoiceTrainingJobRequest,
)
from yarl import URL

from pipeline.emulator.context import (
    DEFAULT_HUAWEI_AK,
    DEFAULT_HUAWEI_SK,
    DEFAULT_HUAWEI_TOKEN,
    EmulatorOptions,
)
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.server import Emulator, parse_outcome, serve_forever
from pipeline.errors import ConfigError

PROJECT = "3f0924078d1b471c884a5383d4dec9fa"
OTHER_PROJECT = "0123456789abcdef0123456789abcdef"
LETTER_PDF = b"%PDF-1.4\n% signed authorization letter\n"
LETTER_PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
TERMINAL = frozenset({"SUCCEED", "FAILED", "AUDIT_FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"})


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp runs on asyncio only."""
    return "asyncio"


# -- test data (built in memory; no binary fixtures) ------------------------------------------


@cache
def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_zip(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def sentence_members(count: int = 20, seconds: float = 0.05) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    for index in range(count):
        members[f"{index}.wav"] = wav_bytes(seconds)
        members[f"{index}.txt"] = f"第{index}句 sentence {index}".encode()
    return members


@cache
def good_zip(count: int = 20) -> bytes:
    return make_zip(sentence_members(count))


# -- a small raw client ----------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


class Api:
    """Token-authenticated calls to one tenant of the emulator."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession, project: str = PROJECT):
        self.emu = emu
        self.session = session
        self.project = project

    def url(self, path: str) -> str:
        return f"{self.emu.base_url}/v1/{self.project}/voice-training-manage/{path}"

    def tenant(self, project: str) -> Api:
        return Api(self.emu, self.session, project)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = {"X-Auth-Token": DEFAULT_HUAWEI_TOKEN, "Content-Type": "application/json"}
        sent.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        async with self.session.request(
            method, self.url(path), data=data, params=params, headers=sent
        ) as response:
            text = await response.text()
            return Reply(response.status, json.loads(text) if text else None, response.headers)

    async def create(self, edition: str = "basic", **body: Any) -> dict[str, Any]:
        body.setdefault("voice_name", "voice")
        reply = await self.call("POST", f"user/{edition}-jobs", body=body)
        assert reply.status == 200, reply.body
        return dict(reply.body)

    async def put(self, url: str, data: bytes, content_type: str) -> Reply:
        # A BytesIO goes out with a Content-Length, like a file would.
        async with self.session.put(
            URL(url, encoded=True), data=io.BytesIO(data), headers={"Content-Type": content_type}
        ) as response:
            return Reply(response.status, await response.text(), response.headers)

    async def commit(self, job_id: str, body: Any = None) -> Reply:
        return await self.call("POST", f"user/jobs/{job_id}", body=body)

    async def show(self, job_id: str) -> dict[str, Any]:
        reply = await self.call("GET", f"user/jobs/{job_id}")
        assert reply.status == 200, reply.body
        return dict(reply.body)

    async def wait(self, job_id: str, states: Iterable[str] = TERMINAL) -> dict[str, Any]:
        wanted = frozenset(states)
        with anyio.fail_after(15):
            while True:
                job = await self.show(job_id)
                if job["state"] in wanted:
                    return job
                await anyio.sleep(0.02)

    async def package_job(
        self,
        edition: str = "basic",
        package: bytes | None = None,
        letter: bytes | None = LETTER_PDF,
        **body: Any,
    ) -> str:
        """Create a PACKAGE job, upload its zip and letter, commit; the job_id."""
        created = await self.create(edition, **body)
        zip_reply = await self.put(
            created["training_data_uploading_url"],
            good_zip() if package is None else package,
            "application/zip",
        )
        assert zip_reply.status == 200, zip_reply.body
        if letter is not None:
            letter_url = created["authorization_letter_uploading_url"]
            assert (await self.put(letter_url, letter, "application/pdf")).status == 200
        assert (await self.commit(created["job_id"])).status == 200
        return str(created["job_id"])


def fast(**overrides: Any) -> EmulatorOptions:
    """Options for tests: emulated days pass in well under a second; no throttling."""
    values: dict[str, Any] = {"time_scale": 1e6, "huawei_rate_limits": ()}
    values.update(overrides)
    return EmulatorOptions(**values)


@asynccontextmanager
async def running(
    options: EmulatorOptions | None = None, settings: HuaweiSettings | None = None
) -> AsyncIterator[Api]:
    async with (
        Emulator(options or fast(), huawei_settings=settings) as emu,
        aiohttp.ClientSession() as session,
    ):
        yield Api(emu, session)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    """A fast emulator and a client of its default tenant."""
    async with running() as client:
        yield client


# -- authentication ---------------------------------------------------------------------------


def sdk_signed(
    base_url: str,
    method: str,
    path: str,
    *,
    query: list[tuple[str, Any]] | None = None,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    sk: str = DEFAULT_HUAWEI_SK,
    when: datetime | None = None,
) -> tuple[URL, dict[str, str]]:
    """Sign a request with the official SDK's BasicCredentials/Signer; (URL, headers to send)."""
    header_params = {"Content-Type": "application/json", **(headers or {})}
    if when is not None:
        header_params["X-Sdk-Date"] = when.strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method=method,
        schema="http",
        host=urlsplit(base_url).netloc,
        resource_path=path,
        query_params=list(query or []),
        header_params=header_params,
        body=body,
    )
    signed = BasicCredentials(DEFAULT_HUAWEI_AK, sk, PROJECT).sign_request(request)
    return URL(f"{base_url}{signed.uri}", encoded=True), dict(signed.header_params)


async def send_signed(
    api: Api, url: URL, headers: Mapping[str, str], method: str, body: bytes
) -> Reply:
    async with api.session.request(method, url, headers=headers, data=body or None) as response:
        text = await response.text()
        return Reply(response.status, json.loads(text) if text else None, response.headers)


@pytest.mark.anyio
async def test_sdk_signed_requests_are_accepted(api: Api) -> None:
    """GET with an encoded query and POST with a JSON body, both signed by the SDK, pass."""
    root = f"/v1/{PROJECT}/voice-training-manage"
    body = json.dumps({"voice_name": "签名 voice", "batch_name": "b 1"}).encode()
    url, headers = sdk_signed(
        api.emu.base_url,
        "POST",
        f"{root}/user/basic-jobs",
        body=body,
        headers={"X-App-UserId": "user-1"},
    )
    created = await send_signed(api, url, headers, "POST", body)
    assert created.status == 200, created.body
    query = [("voice_name", "签名 voice"), ("limit", 5), ("state", "CREATING,SUCCEED")]
    url, headers = sdk_signed(api.emu.base_url, "GET", f"{root}/user/jobs", query=query)
    listed = await send_signed(api, url, headers, "GET", b"")
    assert listed.status == 200, listed.body
    assert [job["job_id"] for job in listed.body["jobs"]] == [created.body["job_id"]]
    assert listed.body["jobs"][0]["app_user_id"] == "user-1"


@pytest.mark.anyio
async def test_sdk_unsigned_payload_is_verified(api: Api) -> None:
    """A non-JSON body is signed as UNSIGNED-PAYLOAD; auth passes and the body check answers."""
    root = f"/v1/{PROJECT}/voice-training-manage"
    url, headers = sdk_signed(
        api.emu.base_url,
        "POST",
        f"{root}/user/basic-jobs",
        body=b"voice_name=x",
        headers={"Content-Type": "text/plain"},
    )
    assert headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    reply = await send_signed(api, url, headers, "POST", b"voice_name=x")
    assert (reply.status, reply.body["error_code"]) == (400, "MSS.10000002")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "tamper", ["wrong_secret", "altered_header", "altered_query", "date_16_min_off"]
)
async def test_bad_signatures_are_rejected(api: Api, tamper: str) -> None:
    """A wrong secret, a changed header or query, or a stale X-Sdk-Date is 401 MSS.00000001."""
    path = f"/v1/{PROJECT}/voice-training-manage/user/jobs"
    when = datetime.now(UTC) - timedelta(minutes=16) if tamper == "date_16_min_off" else None
    sk = "not-the-secret" if tamper == "wrong_secret" else DEFAULT_HUAWEI_SK
    url, headers = sdk_signed(
        api.emu.base_url,
        "GET",
        path,
        query=[("limit", 5)],
        headers={"X-App-UserId": "alice"},
        sk=sk,
        when=when,
    )
    if tamper == "altered_header":
        headers["X-App-UserId"] = "mallory"
    if tamper == "altered_query":
        url = url.with_query({"limit": "6"})
    reply = await send_signed(api, url, headers, "GET", b"")
    assert (reply.status, reply.body["error_code"]) == (401, "MSS.00000001")
    assert reply.headers["X-Request-Id"]


@pytest.mark.anyio
async def test_date_within_fifteen_minutes_is_accepted(api: Api) -> None:
    """A client clock 14 minutes off is still inside the gateway's tolerance."""
    path = f"/v1/{PROJECT}/voice-training-manage/quotas"
    url, headers = sdk_signed(
        api.emu.base_url, "GET", path, when=datetime.now(UTC) + timedelta(minutes=14)
    )
    assert (await send_signed(api, url, headers, "GET", b"")).status == 200


@pytest.mark.anyio
async def test_token_and_project_checks(api: Api) -> None:
    """A wrong token, no credentials or a foreign X-Project-Id give 401 MSS.00000001."""
    wrong_token = await api.call("GET", "user/jobs", headers={"X-Auth-Token": "nope"})
    foreign = await api.call("GET", "user/jobs", headers={"X-Project-Id": OTHER_PROJECT})
    async with api.session.get(api.url("user/jobs")) as response:
        anonymous = (response.status, (await response.json())["error_code"])
    assert (wrong_token.status, wrong_token.body["error_code"]) == (401, "MSS.00000001")
    assert (foreign.status, foreign.body["error_code"]) == (401, "MSS.00000001")
    assert anonymous == (401, "MSS.00000001")


def _sdk_round_trip(base_url: str) -> dict[str, Any]:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    client = (
        MetaStudioClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK, PROJECT))
        .with_endpoints([base_url])
        .build()
    )
    body = CreateTrainingJobReq(voice_name="sdk-voice", batch_name="sdk", tag="NEWS")
    created = client.create_training_basic_job(CreateTrainingBasicJobRequest(body=body))
    listed = client.list_voice_training_job(
        ListVoiceTrainingJobRequest(voice_name="sdk-voice", batch_name="sdk", state="CREATING")
    )
    shown = client.show_voice_training_job(ShowVoiceTrainingJobRequest(job_id=created.job_id))
    client.commit_voice_training_job(CommitVoiceTrainingJobRequest(job_id=created.job_id))
    client.delete_voice_training_job(DeleteVoiceTrainingJobRequest(job_id=created.job_id))
    gone: tuple[int, str] | None = None
    try:
        client.show_voice_training_job(ShowVoiceTrainingJobRequest(job_id=created.job_id))
    except ClientRequestException as exc:
        gone = (exc.status_code, exc.error_code)
    return {
        "job_id": created.job_id,
        "listed": [job.job_id for job in listed.jobs],
        "count": listed.count,
        "shown": (shown.voice_name, shown.state, shown.tag),
        "gone": gone,
    }


@pytest.mark.anyio
async def test_official_sdk_client_round_trip(api: Api) -> None:
    """MetaStudioClient creates, lists, shows, commits and deletes a job, AK/SK-signed."""
    result = await anyio.to_thread.run_sync(_sdk_round_trip, api.emu.base_url)
    assert result["listed"] == [result["job_id"]]
    assert result["count"] == 1
    assert result["shown"] == ("sdk-voice", "CREATING", "NEWS")
    assert result["gone"] == (404, "MSS.00000003")
    assert api.emu.huawei.counters() == {
        "create": 1,
        "list": 1,
        "show": 2,
        "commit": 1,
        "delete": 1,
    }


# -- create and the upload URLs ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("edition", "create_type", "urls"),
    [
        ("basic", "PACKAGE", None),
        ("basic", "SEGMENT", 20),
        ("middle", "PACKAGE", None),
        ("middle", "SEGMENT", 100),
        ("advance", "PACKAGE", None),
        ("third-party", None, None),
    ],
)
async def test_create_returns_the_urls_of_its_type(
    api: Api, edition: str, create_type: str | None, urls: int | None
) -> None:
    """PACKAGE gets one zip URL, SEGMENT one audio and one txt URL per sentence; all a letter URL."""
    body = {"create_type": create_type} if create_type else {}
    created = await api.create(edition, **body)
    assert created["authorization_letter_uploading_url"].startswith(api.emu.base_url + "/obs/")
    if urls is None:
        assert "segment_uploading_url" not in created
        assert "Expires=" in created["training_data_uploading_url"]
    else:
        segment = created["segment_uploading_url"]
        assert len(segment["audio_uploading_url"]) == len(segment["txt_uploading_url"]) == urls
        assert segment["audio_uploading_url"][urls - 1].split("?")[0].endswith(f"/{urls - 1}.wav")
        assert "training_data_uploading_url" not in created
    job = await api.show(created["job_id"])
    assert (job["state"], job["sex"], job["language"]) == ("CREATING", "FEMALE", "CN")
    assert job["create_type"] == (create_type or "PACKAGE")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "raw", "code"),
    [
        ("user/advance-jobs", b'{"voice_name": "x", "create_type": "SEGMENT"}', "MSS.10000003"),
        ("user/third-party-jobs", b'{"voice_name": "x", "create_type": "SEGMENT"}', "MSS.10000003"),
        ("user/basic-jobs", b'{"tag": "NEWS"}', "MSS.10000003"),
        ("user/basic-jobs", b'{"voice_name": ""}', "MSS.10000003"),
        ("user/basic-jobs", b'{"voice_name": "x", "sex": "OTHER"}', "MSS.10000003"),
        ("user/basic-jobs", b'{"voice_name": "x", "tag": "SPORTS"}', "MSS.10000003"),
        ("user/basic-jobs", b'{"voice_name": "x", "supported_service": ["3D"]}', "MSS.10000003"),
        ("user/basic-jobs", b'{"voice_name": "x",', "MSS.10000002"),
        ("user/basic-jobs", b'["voice_name"]', "MSS.10000002"),
    ],
)
async def test_create_validation(api: Api, path: str, raw: bytes, code: str) -> None:
    """Bad create bodies are refused with a 400 and the documented code; nothing is created."""
    reply = await api.call("POST", path, raw=raw)
    assert (reply.status, reply.body["error_code"]) == (400, code)
    assert api.emu.huawei.jobs() == []


@pytest.mark.anyio
async def test_unknown_api_and_method(api: Api) -> None:
    """An unknown path is MSS.00010003, a known path with another method MSS.00010004."""
    unknown = await api.call("GET", "user/nothing")
    wrong_method = await api.call("PUT", "user/jobs")
    assert (unknown.status, unknown.body["error_code"]) == (400, "MSS.00010003")
    assert (wrong_method.status, wrong_method.body["error_code"]) == (400, "MSS.00010004")


# -- the object store --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_store_checks_content_type_and_signature(api: Api) -> None:
    """A wrong Content-Type or a tampered Signature/Expires is 403 SignatureDoesNotMatch."""
    created = await api.create(create_type="SEGMENT")
    zip_job = await api.create()
    txt_url = created["segment_uploading_url"]["txt_uploading_url"][0]
    wrong_type = await api.put(txt_url, b"text", "text/plain; charset=utf-8")
    zip_as_octets = await api.put(
        zip_job["training_data_uploading_url"], b"PK", "application/octet-stream"
    )
    tampered = await api.put(txt_url.replace("Signature=", "Signature=A"), b"text", "text/plain")
    later = txt_url.replace("Expires=", "Expires=9")
    extended = await api.put(later, b"text", "text/plain")
    for reply in (wrong_type, zip_as_octets, tampered, extended):
        assert reply.status == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in reply.body
    assert api.emu.huawei.objects(created["job_id"]) == {}
    assert (await api.put(txt_url, "第一句".encode(), "text/plain")).status == 200
    stored = api.emu.huawei.objects(created["job_id"])["segments/0.txt"]
    assert (stored.content_type, stored.size) == ("text/plain", 9)
    assert await anyio.Path(stored.path).read_bytes() == "第一句".encode()


@pytest.mark.anyio
async def test_letter_accepts_pdf_jpeg_png_and_records_which(api: Api) -> None:
    """The letter URL takes any of the three types; the store records the one used."""
    created = await api.create()
    url = created["authorization_letter_uploading_url"]
    assert (await api.put(url, b"GIF89a", "image/gif")).status == 403
    assert (await api.put(url, LETTER_PNG, "image/png")).status == 200
    letter = api.emu.huawei.objects(created["job_id"])["authorization_letter"]
    assert letter.content_type == "image/png"
    shown = await api.show(created["job_id"])
    async with api.session.get(URL(shown["voice_authorization_url"], encoded=True)) as response:
        assert (response.status, await response.read()) == (200, LETTER_PNG)
        assert response.headers["Content-Type"] == "image/png"


@pytest.mark.anyio
async def test_store_refuses_chunked_and_lengthless_bodies(api: Api) -> None:
    """Chunked transfer is 501 NotImplemented; no Content-Length at all is 411."""
    created = await api.create()
    url = URL(created["training_data_uploading_url"], encoded=True)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"PK"

    async with api.session.put(
        url, data=chunks(), headers={"Content-Type": "application/zip"}
    ) as r:
        assert r.status == 501
        assert "<Code>NotImplemented</Code>" in await r.text()
    stream = await anyio.connect_tcp(url.host or "", url.port or 80)
    async with stream:
        request = (
            f"PUT {url.raw_path_qs} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            "Content-Type: application/zip\r\nConnection: close\r\n\r\n"
        )
        await stream.send(request.encode())
        status_line = (await stream.receive()).split(b"\r\n")[0]
    assert status_line.split()[1] == b"411"
    assert api.emu.huawei.objects(created["job_id"]) == {}


# -- commit, audit, state machine ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("edition", "package"),
    [
        ("basic", lambda: good_zip(20)),
        ("middle", lambda: good_zip(100)),
        ("advance", lambda: make_zip({"VoiceClone.wav": wav_bytes(31.0)})),
        ("third-party", lambda: make_zip({"long.wav": wav_bytes(31.0), "notes.md": b"x"})),
    ],
)
async def test_good_package_trains_to_succeed(api: Api, edition: str, package: Any) -> None:
    """A valid zip + letter goes through audit and training to SUCCEED with an asset_id."""
    job_id = await api.package_job(edition, package())
    job = await api.wait(job_id)
    assert job["state"] == "SUCCEED", await api.call("GET", f"user/jobs/{job_id}/audit-result")
    assert job["asset_id"]
    assert job["reject_times"] == 0
    assert job["allocated_resource"]["charge_mode"] == "ONE_TIME"
    logs = await api.call("GET", f"user/jobs/{job_id}/op-logs", params={"limit": "100"})
    actions = [entry["action"] for entry in logs.body["operations"]]
    assert actions[:3] == ["CREATE_JOB", "COMMIT_JOB", "SYSTEM_AUDIT_PASS"]
    assert actions[-1] == "COMPLETE_JOB"
    assert logs.body["count"] == len(actions)
    audit = await api.call("GET", f"user/jobs/{job_id}/audit-result")
    assert audit.body["system_audit_result"]["errors"] == []


def _renamed() -> bytes:
    members = sentence_members()
    members["clip_0.wav"] = members.pop("0.wav")
    return make_zip(members)


def _nineteen() -> bytes:
    return make_zip(sentence_members(19))


def _long_clip() -> bytes:
    members = sentence_members()
    members["3.wav"] = wav_bytes(16.0)
    return make_zip(members)


def _broken_wav_and_empty_text() -> bytes:
    members = sentence_members()
    members["5.wav"] = b"RIFF....not really a wav"
    members["6.txt"] = b"   "
    return make_zip(members)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("package", "letter", "expected"),
    [
        (_renamed, LETTER_PDF, {("0.wav", "MSS.20020012"), ("clip_0.wav", "MSS.20020012")}),
        (_nineteen, LETTER_PDF, {("19.wav", "MSS.20020012")}),
        (_long_clip, LETTER_PDF, {("3.wav", "MSS.20020011")}),
        (
            _broken_wav_and_empty_text,
            LETTER_PDF,
            {("5.wav", "MSS.20020011"), ("6.wav", "MSS.20020012")},
        ),
        (lambda: good_zip(), None, {("authorization_letter", "MSS.20020013")}),
        (lambda: good_zip(), b"not a pdf", {("authorization_letter", "MSS.20020013")}),
        (lambda: b"not a zip", LETTER_PDF, {("training_data.zip", "MSS.20020012")}),
    ],
)
async def test_content_audit_failures(
    api: Api, package: Any, letter: bytes | None, expected: set[tuple[str, str]]
) -> None:
    """Bad names, 19 clips, a 16 s clip, bad files or no letter end AUDIT_FAILED, per file."""
    job_id = await api.package_job("basic", package(), letter)
    job = await api.wait(job_id)
    assert (job["state"], job["reject_times"]) == ("AUDIT_FAILED", 1)
    audit = await api.call("GET", f"user/jobs/{job_id}/audit-result")
    errors = audit.body["system_audit_result"]["errors"]
    assert {(e["audio_name"], e["error_code"]) for e in errors} == expected
    assert all(e["error_message"] for e in errors)
    assert audit.body["system_audit_result"]["audit_time"] > 0


@pytest.mark.anyio
async def test_reupload_after_audit_failed_reaudits(api: Api) -> None:
    """Fixing the data and committing again from AUDIT_FAILED trains; reject_times stays 1."""
    job_id = await api.package_job("basic", _nineteen())
    assert (await api.wait(job_id))["state"] == "AUDIT_FAILED"
    urls = await api.call("GET", f"user/jobs/{job_id}/uploading-address-url")
    fresh = urls.body["package_url"]["training_data_uploading_url"]
    assert (await api.put(fresh, good_zip(), "application/zip")).status == 200
    assert (await api.commit(job_id, {"voice_name": "renamed", "tag": "LIVE"})).status == 200
    job = await api.wait(job_id, {"SUCCEED"})
    assert (job["reject_times"], job["voice_name"], job["tag"]) == (1, "renamed", "LIVE")
    assert api.emu.huawei.quota(PROJECT)["basic"] == 100_000 - 1  # one resource per job


@pytest.mark.anyio
async def test_long_recording_limits(api: Api) -> None:
    """ADVANCE needs exactly one WAV within the tenant's duration limits (advance_min 30 s)."""
    short = await api.package_job("advance", make_zip({"a.wav": wav_bytes(10.0)}))
    two = await api.package_job("advance", make_zip({"a.wav": wav_bytes(1), "b.wav": wav_bytes(1)}))
    for job_id in (short, two):
        assert (await api.wait(job_id))["state"] == "AUDIT_FAILED"
    audit = await api.call("GET", f"user/jobs/{short}/audit-result")
    (error,) = audit.body["system_audit_result"]["errors"]
    assert (error["audio_name"], error["error_code"]) == ("a.wav", "MSS.20020011")
    cfg = await api.call("GET", "user/tenant-duration-cfg")
    assert (cfg.body["tenant_id"], cfg.body["advance_min"]) == (PROJECT, 30)


@pytest.mark.anyio
async def test_states_follow_emulated_time() -> None:
    """At real speed a committed job sits in SYSTEM_AUDITING and its audit is not yet revealed."""
    async with running(fast(time_scale=1.0)) as api:
        job_id = await api.package_job("basic", _nineteen())
        job = await api.show(job_id)
        assert job["state"] == "SYSTEM_AUDITING"
        assert job["reject_times"] == 0
        assert job["lastupdate_time"] >= job["create_time"]
        audit = await api.call("GET", f"user/jobs/{job_id}/audit-result")
        assert audit.body["system_audit_result"] == {"errors": []}
        again = await api.commit(job_id)
        assert (again.status, again.body["error_code"]) == (400, "MSS.20010004")


@pytest.mark.anyio
async def test_quota_is_taken_once_per_job() -> None:
    """The first commit takes a resource; at 0 commits fail; a re-commit needs none."""
    async with running(settings=HuaweiSettings(quota=1)) as api:
        first = await api.create()
        assert (await api.commit(first["job_id"])).status == 200  # nothing uploaded
        assert (await api.wait(first["job_id"]))["state"] == "AUDIT_FAILED"
        second = await api.create()
        refused = await api.commit(second["job_id"])
        assert (refused.status, refused.body["error_code"]) == (400, "MSS.20010005")
        assert (await api.commit(first["job_id"])).status == 200
        quotas = await api.call("GET", "quotas")
        assert quotas.body["resource_available_nums"]["basic"] == 0
        assert quotas.body["resource_available_nums"]["middle"] == 1
        assert quotas.body["count"] == 4
        other = api.tenant(OTHER_PROJECT)
        assert (await other.call("GET", "quotas")).body["resource_available_nums"]["basic"] == 1


# -- segments --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_segment_upload_confirm_and_train(api: Api) -> None:
    """Sentences are confirmed only with both files; all 20 confirmed + letter trains."""
    created = await api.create(create_type="SEGMENT")
    job_id = created["job_id"]
    urls = created["segment_uploading_url"]
    params = {"job_id": job_id, "index": "0"}
    assert (
        await api.put(urls["audio_uploading_url"][0], wav_bytes(0.05), "audio/wav")
    ).status == 200
    half = await api.call("POST", "user/training-segment", params=params)
    assert half.body == {"confirm_result": False, "unmatched_index_hit": []}
    for index in range(20):
        await api.put(urls["audio_uploading_url"][index], wav_bytes(0.05), "audio/wav")
        await api.put(urls["txt_uploading_url"][index], f"句子{index}".encode(), "text/plain")
        params = {"job_id": job_id, "index": str(index)}
        confirmed = await api.call("POST", "user/training-segment", params=params)
        assert confirmed.body["confirm_result"] is True
    info = await api.call("GET", "user/training-segment", params={"job_id": job_id})
    assert info.body["confirmed_index"] == list(range(20))
    await api.put(created["authorization_letter_uploading_url"], LETTER_PDF, "application/pdf")
    assert (await api.commit(job_id)).status == 200
    assert (await api.wait(job_id))["state"] == "SUCCEED"
    late = await api.call("POST", "user/training-segment", params={"job_id": job_id, "index": "1"})
    assert (late.status, late.body["error_code"]) == (400, "MSS.20010004")


@pytest.mark.anyio
async def test_segment_unconfirmed_sentences_fail_audit(api: Api) -> None:
    """Committing with sentences unconfirmed ends AUDIT_FAILED naming each missing index."""
    created = await api.create("middle", create_type="SEGMENT")
    job_id = created["job_id"]
    await api.put(created["authorization_letter_uploading_url"], LETTER_PDF, "application/pdf")
    assert (await api.commit(job_id)).status == 200
    assert (await api.wait(job_id))["state"] == "AUDIT_FAILED"
    audit = await api.call("GET", f"user/jobs/{job_id}/audit-result")
    unconfirmed = [
        e["audio_name"]
        for e in audit.body["system_audit_result"]["errors"]
        if "not confirmed" in e["error_message"]
    ]
    assert unconfirmed == [f"{i}.wav" for i in range(100)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("with_job", "index"), [(False, "0"), (True, "1025"), (True, "-1"), (True, "one"), (True, "")]
)
async def test_confirm_segment_validation(api: Api, with_job: bool, index: str) -> None:
    """job_id and index are required, and index must be an integer in 0–1024."""
    created = await api.create(create_type="SEGMENT")
    params = {"index": index, **({"job_id": created["job_id"]} if with_job else {})}
    reply = await api.call("POST", "user/training-segment", params=params)
    assert (reply.status, reply.body["error_code"]) == (400, "MSS.10000003")


@pytest.mark.anyio
async def test_segment_calls_on_a_package_job_and_unknown_job(api: Api) -> None:
    """Sentence calls on a PACKAGE job are 400; on an unknown job the not-found error."""
    created = await api.create()
    on_package = await api.call(
        "GET", "user/training-segment", params={"job_id": created["job_id"]}
    )
    unknown = await api.call("GET", "user/training-segment", params={"job_id": "nope"})
    assert (on_package.status, on_package.body["error_code"]) == (400, "MSS.10000003")
    assert (unknown.status, unknown.body["error_code"]) == (404, "MSS.00000003")


# -- show, delete, list, misc routes ---------------------------------------------------------------


@pytest.mark.anyio
async def test_delete_then_show_is_not_found(api: Api) -> None:
    """Delete answers 200 with no body and removes the job and its objects."""
    job_id = await api.package_job()
    deleted = await api.call("DELETE", f"user/jobs/{job_id}")
    assert (deleted.status, deleted.body) == (200, None)
    for method in ("GET", "DELETE", "POST"):
        reply = await api.call(method, f"user/jobs/{job_id}")
        assert (reply.status, reply.body["error_code"]) == (404, "MSS.00000003")
    assert api.emu.huawei.job(job_id) is None
    assert api.emu.huawei.store.objects(prefix=f"{PROJECT}/{job_id}/") == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "user/jobs/{job}"),
        ("POST", "user/jobs/{job}"),
        ("DELETE", "user/jobs/{job}"),
        ("GET", "user/jobs/{job}/audit-result"),
        ("GET", "user/jobs/{job}/uploading-address-url"),
        ("GET", "user/jobs/{job}/op-logs"),
        ("POST", "user/training-segment?job_id={job}&index=0"),
    ],
)
async def test_unknown_job_is_not_found_everywhere(api: Api, method: str, path: str) -> None:
    """Every per-job route answers an unknown job_id with 404 MSS.00000003."""
    reply = await api.call(method, path.format(job="26f06524-4f75-4b3a-a853-b649a21aaf66"))
    assert (reply.status, reply.body["error_code"]) == (404, "MSS.00000003")
    assert reply.headers["X-Request-Id"]


@pytest.mark.anyio
async def test_uploading_address_shapes(api: Api) -> None:
    """uploading-address answers in the segment_url/package_url shape of §6.6."""
    package = await api.create()
    segment = await api.create(create_type="SEGMENT")
    package_urls = await api.call("GET", f"user/jobs/{package['job_id']}/uploading-address-url")
    segment_urls = await api.call("GET", f"user/jobs/{segment['job_id']}/uploading-address-url")
    assert set(package_urls.body) == {"package_url", "authorization_letter_uploading_url"}
    assert set(segment_urls.body) == {"segment_url", "authorization_letter_uploading_url"}
    assert len(segment_urls.body["segment_url"]["txt_uploading_url"]) == 20


@pytest.mark.anyio
async def test_list_paging_is_stable_and_total(api: Api) -> None:
    """Pages of a listing cover every job once, in create_time desc then job_id order."""
    for index in range(23):
        await api.create(
            voice_name=f"v{index:02d}", batch_name="paging", tag="NEWS" if index < 3 else None
        )
    seen: list[str] = []
    for offset in range(0, 30, 10):
        page = await api.call(
            "GET",
            "user/jobs",
            params={"offset": str(offset), "limit": "10", "batch_name": "paging"},
        )
        assert page.body["count"] == 23
        seen += [job["job_id"] for job in page.body["jobs"]]
    jobs = api.emu.huawei.jobs(PROJECT)
    expected = [
        j.job_id for j in sorted(jobs, key=lambda j: (j.created_at, j.job_id), reverse=True)
    ]
    assert seen == expected
    ascending = await api.call("GET", "user/jobs", params={"limit": "100", "sort_dir": "asc"})
    assert [job["job_id"] for job in ascending.body["jobs"]] == expected[::-1]
    default = await api.call("GET", "user/jobs")
    assert len(default.body["jobs"]) == 10


@pytest.mark.anyio
async def test_list_filters(api: Api) -> None:
    """state (comma list), voice_name (exact), tag, job_type and batch_name all filter."""
    await api.create(voice_name="alpha", tag="NEWS", batch_name="b1")
    await api.create("middle", voice_name="alpha-2", batch_name="b2")
    done = await api.package_job(voice_name="beta", batch_name="b1")
    await api.wait(done)

    async def count(**params: str) -> int:
        reply = await api.call("GET", "user/jobs", params=params)
        assert reply.status == 200, reply.body
        return int(reply.body["count"])

    assert await count(voice_name="alpha") == 1
    assert await count(voice_name="alph") == 0
    assert await count(state="SUCCEED") == 1
    assert await count(state="CREATING, SUCCEED") == 3
    assert await count(tag="NEWS") == 1
    assert await count(job_type="MIDDLE") == 1
    assert await count(batch_name="b1") == 2
    assert await count(job_id=done) == 1
    assert await count(create_since="2000-01-01T00:00:00Z") == 3
    assert await count(update_until="0") == 0
    assert (await api.tenant(OTHER_PROJECT).call("GET", "user/jobs")).body["count"] == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"offset": "-1"},
        {"limit": "ten"},
        {"state": "DONE"},
        {"job_type": "PLATINUM"},
        {"sort_key": "voice_name"},
        {"sort_dir": "up"},
        {"create_since": "yesterday"},
    ],
)
async def test_list_validation(api: Api, params: dict[str, str]) -> None:
    """Out-of-range paging and bad enums are 400 MSS.10000003."""
    reply = await api.call("GET", "user/jobs", params=params)
    assert (reply.status, reply.body["error_code"]) == (400, "MSS.10000003")


@pytest.mark.anyio
async def test_state_route_and_inspection(api: Api) -> None:
    """GET /_emulator/state and the Python inspection API show jobs, objects, counters, creates."""
    job_id = await api.package_job(voice_name="inspect")
    await api.wait(job_id)
    async with api.session.get(f"{api.emu.base_url}/_emulator/state") as response:
        state = await response.json()
    (job,) = state["huawei"]["tenants"][PROJECT]["jobs"]
    assert (job["job_id"], job["state"]) == (job_id, "SUCCEED")
    assert job["objects"]["training_data.zip"]["content_type"] == "application/zip"
    assert state["huawei"]["uploads"] == {"stored": 2}
    view = api.emu.huawei.job(job_id)
    assert view is not None
    assert view.voice_name == "inspect"
    assert view.asset_id
    (create,) = api.emu.huawei.creates
    assert (create.job_id, create.answered) == (job_id, True)
    assert create.real_time <= time.time()
    assert api.emu.huawei.tenants() == [PROJECT]
    objects = api.emu.huawei.objects(job_id)
    assert await anyio.Path(objects["authorization_letter"].path).read_bytes() == LETTER_PDF


# -- throttling and faults -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_throttling_per_tenant_and_api() -> None:
    """Past 5 shows per second a tenant gets 429 APIGW.0308; other tenants and APIs do not."""
    async with running(fast(huawei_rate_limits=(("show", 5.0),))) as api:
        created = await api.create()
        replies = [await api.call("GET", f"user/jobs/{created['job_id']}") for _ in range(8)]
        statuses = [reply.status for reply in replies]
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [429] * 3
        assert replies[-1].body["error_code"] == "APIGW.0308"
        assert int(replies[-1].headers["Retry-After"]) >= 1
        assert (await api.call("GET", "user/jobs")).status == 200
        other = api.tenant(OTHER_PROJECT)
        assert (await other.call("GET", f"user/jobs/{created['job_id']}")).status == 404
        await anyio.sleep(1.05)
        assert (await api.call("GET", f"user/jobs/{created['job_id']}")).status == 200


@pytest.mark.anyio
async def test_fault_rate_answers_500_503_429() -> None:
    """With fault_rate, control calls get 500/503 (MSS.00000004) and 429 with Retry-After."""
    async with running(fast(fault_rate=0.4, seed=3)) as api:
        replies = [await api.call("GET", "quotas") for _ in range(60)]
    by_status = {reply.status: reply for reply in replies}
    assert set(by_status) == {200, 429, 500, 503}
    assert by_status[500].body["error_code"] == by_status[503].body["error_code"] == "MSS.00000004"
    assert by_status[429].body["error_code"] == "APIGW.0308"
    assert by_status[429].headers["Retry-After"] == "1"


@pytest.mark.anyio
async def test_faulted_creates_leave_no_job_but_lost_answers_do() -> None:
    """A faulted create makes nothing; a lost answer made a job the list API can find."""
    async with running(fast(fault_rate=0.3, seed=11)) as api:
        answered, lost = [], []
        for index in range(40):
            name = f"voice-{index}"
            try:
                reply = await api.call(
                    "POST", "user/basic-jobs", body={"voice_name": name, "batch_name": "f"}
                )
            except aiohttp.ServerDisconnectedError:
                lost.append(name)
                continue
            if reply.status == 200:
                answered.append(name)
        assert lost, "the seed should drop at least one answer"
        made = sorted(job.voice_name for job in api.emu.huawei.jobs())
        assert made == sorted(answered + lost)
        assert sorted(r.voice_name for r in api.emu.huawei.creates if not r.answered) == sorted(
            lost
        )
        for name in lost:
            for _attempt in range(20):  # the list call itself may be faulted
                found = await api.call(
                    "GET", "user/jobs", params={"voice_name": name, "batch_name": "f"}
                )
                if found.status == 200:
                    break
            assert found.body["count"] == 1


@pytest.mark.anyio
async def test_upload_reset_stores_nothing() -> None:
    """A reset mid-body leaves no object (and no part file); a retry stores the whole body."""
    body = bytes(range(256)) * 8192  # 2 MiB: the reset really happens mid-transfer
    async with running(fast(upload_fault_rate=0.5, seed=1)) as api:
        created = await api.create()
        url = created["training_data_uploading_url"]
        outcomes: list[str] = []
        while "reset" not in outcomes or outcomes[-1] != "stored":
            try:
                reply = await api.put(url, body, "application/zip")
                assert reply.status == 200
                outcomes.append("stored")
            except aiohttp.ClientError:
                if "stored" not in outcomes:  # later resets leave the earlier version alone
                    assert api.emu.huawei.objects(created["job_id"]) == {}
                outcomes.append("reset")
        assert "reset" in outcomes
        stored = api.emu.huawei.objects(created["job_id"])["training_data.zip"]
        assert stored.size == len(body)
        assert await anyio.Path(stored.path).read_bytes() == body
        assert list(api.emu.context.storage.rglob("*.part-*")) == []
        # aiohttp retries an idempotent PUT once on a reused connection, so the store may
        # have reset more uploads than the client saw fail.
        assert api.emu.huawei.store.outcomes["reset"] >= outcomes.count("reset")


@pytest.mark.anyio
async def test_url_ttl_expiry_and_refresh() -> None:
    """An upload URL past its url_ttl is 403 "Request has expired"; a fresh one works."""
    async with running(fast(url_ttl=0.2)) as api:
        created = await api.create()
        await anyio.sleep(1.3)
        expired = await api.put(
            created["training_data_uploading_url"], good_zip(), "application/zip"
        )
        assert expired.status == 403
        assert "Request has expired" in expired.body
        urls = await api.call("GET", f"user/jobs/{created['job_id']}/uploading-address-url")
        fresh = urls.body["package_url"]["training_data_uploading_url"]
        assert (await api.put(fresh, good_zip(), "application/zip")).status == 200


@pytest.mark.anyio
async def test_latency_delays_control_calls() -> None:
    """options.latency adds that many real seconds to every control call."""
    async with running(fast(latency=0.25)) as api:
        started = time.monotonic()
        assert (await api.call("GET", "quotas")).status == 200
        assert time.monotonic() - started >= 0.25


@pytest.mark.anyio
async def test_forced_outcomes() -> None:
    """--outcome globs force FAILED, AUDIT_FAILED, SPLIT_FAILED, USER_REVIEW_REJECT, SUCCEED."""
    outcomes = (
        ("fail-*", "FAILED"),
        ("audit-*", "AUDIT_FAILED"),
        ("split-*", "SPLIT_FAILED"),
        ("reject-*", "USER_REVIEW_REJECT"),
        ("ok-*", "SUCCEED"),
    )
    async with running(fast(outcomes=outcomes)) as api:
        jobs = {
            name: await api.package_job(voice_name=name)
            for name in ("fail-1", "audit-1", "split-1", "reject-1")
        }
        junk = await api.create(voice_name="ok-junk")  # nothing uploaded: the audit is skipped
        assert (await api.commit(junk["job_id"])).status == 200
        jobs["ok-junk"] = junk["job_id"]
        final = {name: await api.wait(job_id) for name, job_id in jobs.items()}
    assert {name: job["state"] for name, job in final.items()} == {
        "fail-1": "FAILED",
        "audit-1": "AUDIT_FAILED",
        "split-1": "SPLIT_FAILED",
        "reject-1": "USER_REVIEW_REJECT",
        "ok-junk": "SUCCEED",
    }
    assert final["fail-1"]["job_failed_code"] == "MSS.20030001"
    assert final["fail-1"]["job_failed_reason"]
    assert final["split-1"]["job_failed_code"] == "MSS.20030002"
    assert final["audit-1"]["reject_times"] == 1
    assert "asset_id" not in final["fail-1"]
    assert final["ok-junk"]["asset_id"]


# -- the server entry points ----------------------------------------------------------------------


def test_parse_outcome() -> None:
    """GLOB=STATE splits on the last '='; anything else is a ConfigError."""
    assert parse_outcome("alice*=FAILED") == ("alice*", "FAILED")
    assert parse_outcome(" a=b = SUCCEED ") == ("a=b", "SUCCEED")
    for bad in ("alice", "=FAILED", "alice=", "alice=NOT A STATE", "a=1x"):
        with pytest.raises(ConfigError):
            parse_outcome(bad)


@pytest.mark.anyio
async def test_serve_forever_prints_its_url(capsys: pytest.CaptureFixture[str]) -> None:
    """serve_forever prints 'emulator listening on URL', serves, and stops when cancelled."""
    async with anyio.create_task_group() as group:
        group.start_soon(serve_forever, EmulatorOptions())
        out = ""
        for _attempt in range(500):
            out += capsys.readouterr().out
            if "listening" in out:
                break
            await anyio.sleep(0.01)
        listening = next(ln for ln in out.splitlines() if "listening" in ln)
        url = listening.rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(f"{url}/_emulator/state") as r:
            assert r.status == 200
        group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_storage_option_keeps_objects_on_disk(tmp_path: Path) -> None:
    """With options.storage, uploaded objects are files under that folder."""
    async with running(fast(storage=tmp_path / "objects")) as api:
        job_id = await api.package_job()
        stored = api.emu.huawei.objects(job_id)["training_data.zip"]
    assert stored.path.is_relative_to(tmp_path)
    assert await anyio.Path(stored.path).read_bytes() == good_zip()


# -- scale -------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.slow
async def test_thousand_jobs_reach_terminal_states() -> None:
    """1,000 jobs created, uploaded, committed and listed to SUCCEED within seconds."""
    async with running(fast(time_scale=1e6)) as api:
        limiter = anyio.CapacityLimiter(32)

        async def onboard(index: int) -> None:
            async with limiter:
                await api.package_job(voice_name=f"bulk-{index:04d}", batch_name="bulk")

        async with anyio.create_task_group() as group:
            for index in range(1000):
                group.start_soon(onboard, index)
        with anyio.fail_after(30):
            while True:
                states: list[str] = []
                for offset in range(0, 1000, 100):
                    page = await api.call(
                        "GET",
                        "user/jobs",
                        params={"batch_name": "bulk", "limit": "100", "offset": str(offset)},
                    )
                    states += [job["state"] for job in page.body["jobs"]]
                if all(state in TERMINAL for state in states):
                    break
                await anyio.sleep(0.05)
    assert len(states) == 1000
    assert set(states) == {"SUCCEED"}
