"""HuaweiClient against the emulator over real loopback HTTP: auth, paging, limits, retries."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Literal

import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from pipeline.emulator.context import (
    DEFAULT_HUAWEI_AK,
    DEFAULT_HUAWEI_SK,
    DEFAULT_HUAWEI_TOKEN,
    EmulatorOptions,
)
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.huawei.plays import NARROW_LIMITS
from pipeline.emulator.server import Emulator
from pipeline.errors import (
    AmbiguousCreate,
    AuthenticationFailed,
    NotFound,
    ProviderProtocolError,
    ProviderRejected,
    UploadRejected,
)
from pipeline.providers.http import Connection, HttpClient, HttpSettings, RetryPolicies, RetryPolicy
from pipeline.providers.huawei.auth import AkSkAuth, Auth, TokenAuth
from pipeline.providers.huawei.client import HuaweiClient, RateLimits
from pipeline.providers.huawei.records import CreateJobBody

PROJECT = "3f0924078d1b471c884a5383d4dec9fa"
QUICK = RetryPolicy(attempts=10, max_elapsed_s=20.0, base_delay=0.001, max_delay=0.01)
QUICK_POLICIES = RetryPolicies(create=QUICK, commit=QUICK, poll=QUICK, upload=QUICK)
#: The emulator's gateway throttling switched off, for tests that count our own limiter.
NO_THROTTLE = EmulatorOptions(huawei_rate_limits=())
UNLIMITED = RateLimits.uniform(write=10_000, read=10_000)
TOKEN = TokenAuth(DEFAULT_HUAWEI_TOKEN)

Start = Callable[..., Awaitable[tuple[Emulator, HuaweiClient]]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """Start an emulator and a HuaweiClient on one HttpClient; both close after the test."""
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(HttpClient(HttpSettings(read_timeout=10.0)))

        async def start(
            options: EmulatorOptions = NO_THROTTLE,
            *,
            settings: HuaweiSettings | None = None,
            auth: Auth = TOKEN,
            rate_limits: RateLimits = UNLIMITED,
            retry: RetryPolicies = QUICK_POLICIES,
        ) -> tuple[Emulator, HuaweiClient]:
            emu = await stack.enter_async_context(Emulator(options, huawei_settings=settings))
            client = HuaweiClient(
                Connection(http, emu.base_url, retry=retry),
                project_id=PROJECT,
                auth=auth,
                rate_limits=rate_limits,
            )
            return emu, client

        yield start


def body(
    voice: str, batch: str = "nightly", create_type: Literal["PACKAGE", "SEGMENT"] = "PACKAGE"
) -> CreateJobBody:
    """A create body for one voice."""
    return CreateJobBody(voice_name=voice, batch_name=batch, create_type=create_type)


def busiest_window(times: list[float], window: float) -> int:
    """The most timestamps that fall into any half-open window of ``window`` seconds."""
    times = sorted(times)
    return max((sum(1 for t in times if s <= t < s + window) for s in times), default=0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "auth",
    [
        TOKEN,
        AkSkAuth(DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK),
        AkSkAuth(DEFAULT_HUAWEI_AK, DEFAULT_HUAWEI_SK, security_token="temp-token"),
    ],
    ids=["token", "aksk", "aksk-temporary"],
)
async def test_auth_accepted_and_payloads_parsed(start: Start, auth: Auth) -> None:
    """Token and AK/SK requests pass the gateway; every call's answer parses into records."""
    emu, client = await start(auth=auth)
    # Unicode, a space and '+' in query values prove the signed query matches what is sent.
    created = await client.create_job(
        "BASIC", body("声音 a+b", batch="batch 1", create_type="SEGMENT")
    )
    assert len(created.audio_uploading_url) == 20
    assert len(created.txt_uploading_url) == 20
    assert created.authorization_letter_uploading_url
    job = await client.show_job(created.job_id)
    assert (job.state, job.voice_name, job.batch_name, job.job_type, job.create_type) == (
        "CREATING", "声音 a+b", "batch 1", "BASIC", "SEGMENT",
    )  # fmt: skip
    listed = [j.job_id async for j in client.iter_jobs(batch_name="batch 1", voice_name="声音 a+b")]
    assert listed == [created.job_id]
    addresses = await client.uploading_address(created.job_id)
    assert len(addresses.audio_uploading_url) == 20
    confirm = await client.confirm_segment(created.job_id, 0)
    assert confirm.confirm_result is False  # nothing uploaded yet
    assert await client.segment_info(created.job_id) == ()
    assert (await client.audit_result(created.job_id)).errors == ()
    assert (await client.quotas()).for_job_type("BASIC") == emu.huawei.quota(PROJECT)["basic"]
    limit = (await client.tenant_duration_cfg()).for_job_type("BASIC")
    assert limit is not None
    assert limit.max_s is not None
    await client.delete_job(created.job_id)
    with pytest.raises(NotFound):
        await client.show_job(created.job_id)
    assert all(call.status == 200 for call in emu.huawei.calls[:-1])


@pytest.mark.anyio
@pytest.mark.parametrize(
    "auth",
    [TokenAuth("not-the-token"), AkSkAuth(DEFAULT_HUAWEI_AK, "not-the-secret-key")],
    ids=["token", "aksk"],
)
async def test_bad_credentials_fail_once(start: Start, auth: Auth) -> None:
    """Rejected credentials raise AuthenticationFailed and are not retried."""
    emu, client = await start(auth=auth)
    with pytest.raises(AuthenticationFailed) as info:
        await client.quotas()
    assert info.value.code == "MSS.00000001"
    assert emu.huawei.counters() == {"quotas": 1}


@pytest.mark.anyio
async def test_iter_jobs_pages_over_more_than_100(start: Start) -> None:
    """iter_jobs walks every page (offset += limit) and yields each job of the batch once."""
    emu, client = await start()
    made: list[str] = []

    async def make(i: int) -> None:
        made.append((await client.create_job("BASIC", body(f"voice-{i:03d}", "big"))).job_id)

    async with anyio.create_task_group() as tg:
        for i in range(130):
            tg.start_soon(make, i)
    await client.create_job("BASIC", body("elsewhere", "other"))
    seen = [job.job_id async for job in client.iter_jobs(batch_name="big")]
    assert sorted(seen) == sorted(made)
    assert emu.huawei.counters()["list"] == 2
    page = await client.list_jobs(batch_name="big", offset=120, limit=100)
    assert (page.count, len(page.jobs)) == (130, 10)


@pytest.mark.anyio
async def test_throttled_creates_wait_and_succeed(start: Start) -> None:
    """429 APIGW.0308 from the gateway is retried after Retry-After; no job is made twice."""
    options = EmulatorOptions(huawei_rate_limits=(("create", 2.0),))
    emu, client = await start(options)
    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(client.create_job, "BASIC", body(f"v{i}"))
    voices = Counter(view.voice_name for view in emu.huawei.jobs())
    assert voices == {f"v{i}": 1 for i in range(4)}
    throttled = [c for c in emu.huawei.calls if c.status == 429]
    assert throttled
    assert {c.error_code for c in throttled} == {"APIGW.0308"}
    retries = [e for e in logs if e["event"] == "http.retry_scheduled"]
    assert len(retries) == len(throttled)
    assert all(e["retry_after"] >= 1.0 and e["code"] == "APIGW.0308" for e in retries)


@pytest.mark.anyio
async def test_client_rate_limit_keeps_the_window(start: Start) -> None:
    """With a client limit of 5/s the server never sees more than 5 shows in a second."""
    emu, client = await start(rate_limits=RateLimits.uniform(write=100, read=5))
    job = await client.create_job("BASIC", body("rated"))
    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(client.show_job, job.job_id)
    shows = [c.real_time for c in emu.huawei.calls if c.kind == "show"]
    assert len(shows) == 12
    # Arrival times carry a little network jitter, hence the slightly shorter window.
    assert busiest_window(shows, 0.9) <= 5


@pytest.mark.anyio
async def test_ambiguous_create_is_never_repeated(start: Start) -> None:
    """Creates that fail after sending raise AmbiguousCreate; listing reconciles; no duplicates."""
    options = EmulatorOptions(huawei_rate_limits=(), fault_rate=0.4, seed=7)
    settings = HuaweiSettings(lost_answer_share=1.0, fault_retry_after_s=0)
    emu, client = await start(options, settings=settings)
    ambiguous: list[str] = []
    for i in range(20):
        voice = f"flaky-{i}"
        try:
            await client.create_job("BASIC", body(voice, "flaky"))
        except AmbiguousCreate:
            ambiguous.append(voice)
    lost = {r.voice_name for r in emu.huawei.creates if not r.answered}
    assert lost, "the seed should make the emulator drop at least one create answer"
    assert lost <= set(ambiguous)
    per_voice = Counter(r.voice_name for r in emu.huawei.creates)
    assert max(per_voice.values()) == 1  # never created twice
    for voice in ambiguous:
        found = [j.voice_name async for j in client.iter_jobs(batch_name="flaky", voice_name=voice)]
        assert found == ([voice] if voice in per_voice else [])


@pytest.mark.anyio
async def test_upload_to_presigned_url(start: Start, tmp_path: Path) -> None:
    """put_file stores the zip; a wrong Content-Type is UploadRejected with nothing secret."""
    emu, client = await start()
    created = await client.create_job("BASIC", body("uploader"))
    url = created.training_data_uploading_url
    assert url is not None
    package = tmp_path / "package.zip"
    package.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive
    await client.put_file(url, package, content_type="application/zip")
    stored = emu.huawei.objects(created.job_id)["training_data.zip"]
    assert (stored.size, stored.content_type) == (22, "application/zip")
    signature = url.rpartition("Signature=")[2]
    with capture_logs() as logs, pytest.raises(UploadRejected) as info:
        await client.put_file(url, package, content_type="application/octet-stream")
    assert info.value.status == 403
    assert signature not in str(info.value)
    assert signature not in repr(logs)
    assert signature not in repr(created)


@pytest.mark.anyio
async def test_upload_resets_are_retried(start: Start, tmp_path: Path) -> None:
    """Uploads cut mid-body by the store are sent again until one is stored."""
    emu, client = await start(EmulatorOptions(huawei_rate_limits=(), upload_fault_rate=0.6, seed=3))
    created = await client.create_job("BASIC", body("resets"))
    url = created.training_data_uploading_url
    assert url is not None
    package = tmp_path / "package.zip"
    package.write_bytes(bytes(200_000))
    for _ in range(3):
        await client.put_file(url, package, content_type="application/zip")
    outcomes = emu.huawei.store.outcomes
    assert outcomes["stored"] == 3
    assert outcomes.get("reset", 0) >= 1
    assert emu.huawei.objects(created.job_id)["training_data.zip"].size == 200_000


@pytest.mark.anyio
async def test_commit_then_second_commit_is_rejected(start: Start) -> None:
    """A commit moves the job on; committing again is refused by the provider."""
    _, client = await start()
    created = await client.create_job("MIDDLE", body("committer"))
    await client.commit_job(created.job_id)
    assert (await client.show_job(created.job_id)).state != "CREATING"
    with pytest.raises(ProviderRejected):
        await client.commit_job(created.job_id)


# --------------------------------------------------------------------------- edge parsing


@pytest.fixture
async def garbage() -> AsyncIterator[HuaweiClient]:
    """A HuaweiClient whose server answers 200 with payloads of the wrong shape."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            return web.json_response({"job_id": 42})
        if request.path.endswith("/user/jobs"):
            return web.json_response({"count": 1, "jobs": {"not": "a list"}})
        return web.Response(text="<html>gateway</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        HttpClient() as http,
    ):
        yield HuaweiClient(
            Connection(http, str(server.make_url("")), retry=QUICK_POLICIES),
            project_id=PROJECT,
            auth=TokenAuth("t"),
        )


@pytest.mark.anyio
async def test_unexpected_payloads(garbage: HuaweiClient) -> None:
    """Wrong shapes raise ProviderProtocolError; an unreadable create answer is ambiguous."""
    with pytest.raises(AmbiguousCreate, match="job_id"):
        await garbage.create_job("BASIC", body("x"))
    with pytest.raises(ProviderProtocolError, match="not an array"):
        await garbage.list_jobs()
    with pytest.raises(ProviderProtocolError, match="JSON"):
        await garbage.show_job("j")


def test_refuses_plain_http_to_a_remote_host() -> None:
    """A base URL of http:// to a non-loopback host is refused at construction."""
    with pytest.raises(ProviderProtocolError):
        HuaweiClient(
            Connection(HttpClient(), "http://metastudio.example.com"), project_id="p",
            auth=TokenAuth("t"),
        )  # fmt: skip
    with pytest.raises(ValueError, match="edition"):
        anyio.run(
            HuaweiClient(
                Connection(HttpClient(), "https://h"), project_id="p", auth=TokenAuth("t")
            ).create_job,
            "PREMIUM",
            body("x"),
        )


# --- the emulator playing Huawei alternatives (end to end: test_huawei_alternatives) ---


def _playing(name: str) -> EmulatorOptions:
    return EmulatorOptions(huawei_rate_limits=(), plays=frozenset({name}), time_scale=1e6)


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("huawei-batch-name-dropped", None),
        ("huawei-batch-name-rewritten", "nightly-" + PROJECT[:6]),
    ],
)
@pytest.mark.anyio
async def test_batch_name_not_kept(start: Start, name: str, kept: str | None) -> None:
    """show/list answer another (or no) batch_name; a list by ours finds nothing, by voice it does."""
    _, client = await start(_playing(name))
    created = await client.create_job("BASIC", body("v1"), app_user_id="vo-marker")
    job = await client.show_job(created.job_id)
    assert job.batch_name == kept
    assert job.app_user_id == "vo-marker"
    assert [j async for j in client.iter_jobs(batch_name="nightly")] == []
    assert [j.job_id async for j in client.iter_jobs(voice_name="v1")] == [created.job_id]


@pytest.mark.anyio
async def test_one_segment_url_is_the_current_sentence(start: Start) -> None:
    """One audio and one txt slot, for the lowest sentence not confirmed yet."""
    emu, client = await start(_playing("huawei-one-segment-url"))
    created = await client.create_job("BASIC", body("v1", create_type="SEGMENT"))
    assert len(created.audio_uploading_url) == 1
    assert "segments/0.wav" in created.audio_uploading_url[0]
    again = await client.uploading_address(created.job_id)
    assert len(again.audio_uploading_url) == len(again.txt_uploading_url) == 1
    assert emu.huawei.job(created.job_id) is not None


@pytest.mark.anyio
async def test_unknown_job_400_is_still_not_found(start: Start) -> None:
    """A 400 for an unknown job id becomes NotFound once a list by that id finds nothing."""
    _, client = await start(_playing("huawei-unknown-job-400"))
    with pytest.raises(NotFound) as caught:
        await client.show_job("00000000-0000-0000-0000-000000000000")
    assert caught.value.status == 400
    created = await client.create_job("BASIC", body("v1"))
    assert (await client.show_job(created.job_id)).state == "CREATING"


@pytest.mark.anyio
async def test_zero_quota_and_narrow_durations(start: Start) -> None:
    """The tenant calls report no resource left, and the narrow duration range."""
    _, client = await start(_playing("huawei-zero-quota"))
    assert (await client.quotas()).for_job_type("BASIC") == 0
    _, narrow = await start(_playing("huawei-narrow-durations"))
    limit = (await narrow.tenant_duration_cfg()).for_job_type("ADVANCE")
    assert limit is not None
    assert (limit.min_s, limit.max_s) == (NARROW_LIMITS.advance_min, NARROW_LIMITS.advance_max)
