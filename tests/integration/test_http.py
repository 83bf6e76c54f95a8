"""The shared HTTP layer over real loopback HTTP: error mapping, retries, uploads, redaction."""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from pipeline.errors import (
    AmbiguousCreate,
    AuthenticationFailed,
    NotFound,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    ProviderUnavailable,
    Throttled,
    UploadRejected,
)
from pipeline.providers.http import (
    NO_RETRY,
    BodyReader,
    HttpClient,
    HttpSettings,
    RateLimiter,
    RetryPolicy,
    parse_retry_after,
    redact_url,
    retry_call,
)
from pipeline.providers.huawei.packaging import Member, Package

FAST = RetryPolicy(attempts=5, max_elapsed_s=10.0, base_delay=0.01, max_delay=0.05)
SECRET_SIG = "c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """What a scripted server received."""

    requests: list[dict[str, object]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[tuple[str, Seen]]]]:
    """Start a loopback aiohttp server whose every request runs ``handler``."""
    servers: list[TestServer] = []

    async def start(handler: Handler) -> tuple[str, Seen]:
        seen = Seen()

        async def record(request: web.Request) -> web.StreamResponse:
            seen.requests.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "headers": dict(request.headers),
                    "t": anyio.current_time(),
                }
            )
            return await handler(request)

        app = web.Application(client_max_size=16 << 20)  # uploads of several MiB
        app.router.add_route("*", "/{tail:.*}", record)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("")).rstrip("/"), seen

    yield start
    for server in servers:
        await server.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    """An open HttpClient with short timeouts."""
    async with HttpClient(HttpSettings(connect_timeout=2.0, read_timeout=2.0)) as client:
        yield client


def scripted(*responses: web.StreamResponse | Callable[[], web.StreamResponse]) -> Handler:
    """A handler answering with the given responses in turn (the last one repeats)."""
    queue = list(responses)

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        return item() if callable(item) else item

    return handler


def error(status: int, code: str = "MSS.00000003", **headers: str) -> Callable[[], web.Response]:
    """A Huawei-style error response factory."""
    return lambda: web.json_response(
        {"error_code": code, "error_msg": "nope"},
        status=status,
        headers={"X-Request-Id": "req-1", **headers},
    )


def ok() -> web.Response:
    """A 200 with a small JSON body."""
    return web.json_response({"ok": True})


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.anyio
async def test_retries_500_and_503_then_succeeds(serve, http: HttpClient) -> None:
    """5xx answers are retried until the server recovers."""
    base, seen = await serve(scripted(error(500), error(503), ok))
    response = await retry_call(FAST, lambda: http.request("GET", base + "/x"), operation="t")
    assert response.json() == {"ok": True}
    assert seen.count == 3


@pytest.mark.anyio
async def test_retry_after_is_honoured(serve, http: HttpClient) -> None:
    """A 429 with Retry-After waits at least that long before the next attempt."""
    base, seen = await serve(scripted(error(429, "APIGW.0308", **{"Retry-After": "0.3"}), ok))
    await retry_call(FAST, lambda: http.request("GET", base + "/x"), operation="t")
    assert seen.count == 2
    t0, t1 = (float(str(r["t"])) for r in seen.requests)
    assert t1 - t0 >= 0.29


@pytest.mark.anyio
async def test_attempt_budget_stops_retries(serve, http: HttpClient) -> None:
    """After ``attempts`` tries the last error is raised unchanged."""
    base, seen = await serve(scripted(error(503)))
    policy = RetryPolicy(attempts=3, max_elapsed_s=10.0, base_delay=0.01)
    with pytest.raises(ProviderUnavailable) as info:
        await retry_call(policy, lambda: http.request("GET", base + "/x"), operation="t")
    assert seen.count == 3
    assert info.value.status == 503
    assert info.value.request_id == "req-1"


@pytest.mark.anyio
async def test_time_budget_stops_retries(serve, http: HttpClient) -> None:
    """A wait that would end past max_elapsed_s is not started."""
    base, seen = await serve(scripted(error(429, **{"Retry-After": "0.3"})))
    policy = RetryPolicy(attempts=100, max_elapsed_s=0.5, base_delay=0.01)
    with pytest.raises(Throttled) as info:
        await retry_call(policy, lambda: http.request("GET", base + "/x"), operation="t")
    assert seen.count == 2  # 0.3 s fits the budget once, not twice
    assert info.value.retry_after == pytest.approx(0.3)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "MSS.00000003", ProviderRejected),
        (401, "MSS.00000001", AuthenticationFailed),
        (403, "APIGW.0301", AuthenticationFailed),
        (404, "MSS.00000404", NotFound),
        (400, "APIGW.0308", Throttled),
        (429, "APIGW.0308", Throttled),
        (502, "APIGW.0201", ProviderUnavailable),
    ],
)
async def test_status_mapping(serve, http: HttpClient, status, code, expected) -> None:
    """Each control-API status lands on its branch of the error tree, with code and id."""
    base, _ = await serve(scripted(error(status, code)))
    with pytest.raises(expected) as info:
        await http.request("GET", base + "/x", throttle_codes={"APIGW.0308"})
    assert type(info.value) is expected
    assert (info.value.status, info.value.code, info.value.request_id) == (status, code, "req-1")


@pytest.mark.anyio
async def test_redirects_are_not_followed(serve, http: HttpClient) -> None:
    """A 3xx is refused as a protocol error and its target is never requested."""
    target, target_seen = await serve(scripted(ok))
    base, _ = await serve(scripted(lambda: web.Response(status=307, headers={"Location": target})))
    with pytest.raises(ProviderProtocolError, match="redirect"):
        await http.request("GET", base + "/x")
    assert target_seen.count == 0


@pytest.mark.anyio
async def test_plain_http_only_to_loopback(http: HttpClient) -> None:
    """http:// to a non-loopback host is refused before anything is sent."""
    with pytest.raises(ProviderProtocolError, match="only https"):
        await http.request("GET", "http://example.com/x")
    with pytest.raises(ProviderProtocolError, match="only https"):
        await http.request("GET", "ftp://127.0.0.1/x")


@pytest.mark.anyio
async def test_connection_refused_is_retryable_even_for_create(http: HttpClient) -> None:
    """A refused connection means nothing was sent: plain ProviderUnavailable, not ambiguous."""
    url = f"http://127.0.0.1:{closed_port()}/create"
    with pytest.raises(ProviderUnavailable) as info:
        await http.request("POST", url, body=b"{}", idempotent=False)
    assert not isinstance(info.value, AmbiguousCreate)


async def drop_after_body(request: web.Request) -> web.StreamResponse:
    """Read the whole request, then drop the connection without answering."""
    await request.read()
    assert request.transport is not None
    request.transport.abort()
    return web.Response()


@pytest.mark.anyio
async def test_dropped_connection_after_create_is_ambiguous(serve, http: HttpClient) -> None:
    """A non-idempotent request cut off after sending raises AmbiguousCreate, never retried."""
    base, seen = await serve(drop_after_body)
    with pytest.raises(AmbiguousCreate):
        await retry_call(
            FAST,
            lambda: http.request("POST", base + "/create", body=b"{}", idempotent=False),
            operation="t",
        )
    assert seen.count == 1
    # The same failure on an idempotent request is an ordinary, retryable one.
    with pytest.raises(ProviderUnavailable) as info:
        await http.request("GET", base + "/show")
    assert not isinstance(info.value, AmbiguousCreate)


@pytest.mark.anyio
async def test_read_timeout_is_unavailable(serve) -> None:
    """A server that stays silent past read_timeout raises ProviderUnavailable."""

    async def slow(request: web.Request) -> web.StreamResponse:
        await anyio.sleep(2)
        return ok()

    base, _ = await serve(slow)
    async with HttpClient(HttpSettings(read_timeout=0.2)) as client:
        with pytest.raises(ProviderUnavailable):
            await client.request("GET", base + "/x")
        with pytest.raises(AmbiguousCreate):
            await client.request("POST", base + "/x", body=b"{}", idempotent=False)


@pytest.mark.anyio
async def test_5xx_on_create_is_ambiguous(serve, http: HttpClient) -> None:
    """A 500 after a create may hide a created job: AmbiguousCreate; a 429 does not."""
    base, _ = await serve(scripted(error(500), error(429)))
    with pytest.raises(AmbiguousCreate):
        await http.request("POST", base + "/c", body=b"{}", idempotent=False)
    with pytest.raises(Throttled):
        await http.request("POST", base + "/c", body=b"{}", idempotent=False)


# --------------------------------------------------------------------------- uploads


def upload_sink(*, resets: int = 0, refuse: bool = False) -> tuple[Handler, list[bytes]]:
    """A PUT handler storing bodies; the first ``resets`` requests are cut mid-body."""
    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if len(bodies) < resets:
            bodies.append(await request.content.read(1000))  # part of the body, then drop
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if refuse:
            await request.read()
            return web.Response(
                status=403,
                content_type="application/xml",
                text="<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature "
                f"we calculated does not match</Message><SignatureProvided>{SECRET_SIG}"
                "</SignatureProvided></Error>",
            )
        bodies.append(await request.read())
        return web.Response(status=200)

    return handler, bodies


BIG = bytes(range(256)) * 10_000  # 2.5 MiB: several UPLOAD_READ blocks, so the body streams


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """A 300 KiB file with varied bytes."""
    path = tmp_path / "0.wav"
    path.write_bytes(BIG)
    return path


@pytest.mark.anyio
async def test_put_file_sends_content_length_not_chunked(serve, http, big_file: Path) -> None:
    """put_file states the exact Content-Length and never uses chunked encoding."""
    handler, bodies = upload_sink()
    base, seen = await serve(handler)
    await http.put_file(base + "/obs/b/0.wav?Expires=1", big_file, content_type="audio/wav")
    headers = seen.requests[0]["headers"]
    assert isinstance(headers, dict)
    assert headers["Content-Length"] == str(len(BIG))
    assert "Transfer-Encoding" not in headers
    assert headers["Content-Type"] == "audio/wav"
    assert bodies == [BIG]


class ShortBody:
    """An upload body that announces more bytes than it has (a file cut short under us)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> BodyReader:
        class Reader:
            size = len(BIG) + 10
            handle = self.path.open("rb")

            def read(self, n: int, /) -> bytes:
                return self.handle.read(n)

            def read_nowait(self, n: int, /) -> bytes:
                return self.handle.read(n)

            def close(self) -> None:
                self.handle.close()

        return Reader()


class PatchyCacheBody:
    """An upload body whose cached reads come in odd sizes, with every third one missing (the
    bytes are "on the disk"): put_file must stitch the two paths together in order."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.waits = 0

    def open(self) -> BodyReader:
        body = self

        class Reader:
            size = len(body.data)
            position = 0
            calls = 0

            def read(self, n: int, /) -> bytes:
                body.waits += 1
                return self._take(n)

            def read_nowait(self, n: int, /) -> bytes | None:
                self.calls += 1
                return None if self.calls % 3 == 0 else self._take(min(n, 7919))

            def _take(self, n: int) -> bytes:
                block = body.data[self.position : self.position + n]
                self.position += len(block)
                return block

            def close(self) -> None:
                pass

        return Reader()


@pytest.mark.anyio
async def test_put_file_streams_a_package(serve, http, tmp_path: Path, big_file: Path) -> None:
    """A Package goes out as exactly its bytes, with its size as Content-Length; put_file
    returns the bytes sent."""
    handler, bodies = upload_sink()
    base, seen = await serve(handler)
    package = Package([Member.of_file("0.wav", big_file), Member.of_bytes("0.txt", b"hi")])
    sent = await http.put_file(base + "/obs/b/p.zip", package, content_type="application/zip")
    expected = io.BytesIO()
    package.write_to(expected)
    assert bodies == [expected.getvalue()]
    assert sent == package.size == len(expected.getvalue())
    headers = seen.requests[0]["headers"]
    assert isinstance(headers, dict)
    assert headers["Content-Length"] == str(package.size)


@pytest.mark.anyio
async def test_put_file_mixes_cached_and_waiting_reads(serve, http) -> None:
    """Blocks read on the loop and blocks read in a worker thread go out in order, whole."""
    handler, bodies = upload_sink()
    base, _ = await serve(handler)
    body = PatchyCacheBody(BIG)
    sent = await http.put_file(base + "/obs/b/0.wav", body, content_type="audio/wav")
    assert bodies == [BIG]
    assert sent == len(BIG)
    assert body.waits > 0  # the worker-thread path did run


@pytest.mark.anyio
async def test_put_file_sends_a_file_not_in_the_page_cache(
    serve, http, big_file: Path, evict: Callable[[Path], None]
) -> None:
    """A file that has to come from the disk is read in a worker thread and sent whole."""
    handler, bodies = upload_sink()
    base, _ = await serve(handler)
    evict(big_file)
    await http.put_file(base + "/obs/b/0.wav", big_file, content_type="audio/wav")
    assert bodies == [BIG]


@pytest.mark.anyio
async def test_put_file_body_shorter_than_announced_fails(serve, http, big_file: Path) -> None:
    """A body that ends before its announced length fails the upload (never hangs, never
    stores a short object)."""
    handler, bodies = upload_sink()
    base, _ = await serve(handler)
    with pytest.raises(ProviderError, match=r"not the \d+ bytes announced"):
        with anyio.fail_after(30):
            await http.put_file(
                base + "/obs/b/0.wav", ShortBody(big_file), content_type="audio/wav", retry=FAST
            )
    assert bodies == []


@pytest.mark.anyio
async def test_put_file_reopens_the_file_on_retry(serve, http, big_file: Path) -> None:
    """After resets mid-body the retry sends the whole file again from a fresh handle."""
    # aiohttp itself resends an idempotent PUT once on a dropped connection (RFC 9112 §9.3),
    # so two resets are needed before our own retry (with a reopened file) is exercised.
    handler, bodies = upload_sink(resets=2)
    base, seen = await serve(handler)
    await http.put_file(base + "/obs/b/0.wav", big_file, content_type="audio/wav", retry=FAST)
    assert seen.count == 3
    assert bodies[-1] == BIG


@pytest.mark.anyio
async def test_put_file_reset_without_retry_is_unavailable(serve, http, big_file: Path) -> None:
    """A reset upload with no retry budget raises ProviderUnavailable."""
    handler, _ = upload_sink(resets=2)
    base, _ = await serve(handler)
    url = f"{base}/o?Signature={SECRET_SIG}"
    with pytest.raises(ProviderUnavailable) as info:
        await http.put_file(url, big_file, content_type="audio/wav", retry=NO_RETRY)
    assert SECRET_SIG not in str(info.value)


@pytest.mark.anyio
async def test_put_file_403_is_upload_rejected_and_redacted(serve, http, big_file: Path) -> None:
    """A 403 from the store raises UploadRejected at once, with no signature in its text."""
    handler, _ = upload_sink(refuse=True)
    base, seen = await serve(handler)
    url = f"{base}/obs/b/0.wav?AccessKeyId=AKX&Expires=99&Signature={SECRET_SIG}"
    with capture_logs() as logs, pytest.raises(UploadRejected) as info:
        await http.put_file(url, big_file, content_type="audio/wav", retry=FAST)
    assert seen.count == 1  # not retried: the caller refreshes the URL instead
    assert info.value.code == "SignatureDoesNotMatch"
    assert SECRET_SIG not in str(info.value)
    assert "AKX" not in str(info.value)
    assert "Expires=99" in str(info.value)
    assert SECRET_SIG not in repr(logs)


@pytest.mark.anyio
async def test_retry_logs_are_redacted(serve, http, big_file: Path) -> None:
    """http.retry_scheduled lines carry fields but no URL signature."""
    base, _ = await serve(scripted(error(503), ok))
    url = f"{base}/obs/b/0.wav?Signature={SECRET_SIG}&Expires=5"
    with capture_logs() as logs:
        await http.put_file(url, big_file, content_type="audio/wav", retry=FAST)
    events = [e for e in logs if e["event"] == "http.retry_scheduled"]
    assert len(events) == 1
    assert events[0]["status"] == 503
    assert events[0]["attempt"] == 1
    assert SECRET_SIG not in repr(logs)
    assert "Signature=REDACTED" in str(events[0]["reason"])


# --------------------------------------------------------------------------- pure helpers


def test_redact_url_variants() -> None:
    """Signature and credential parameters are replaced; host, path and the rest are kept."""
    obs = redact_url("https://b.obs.example/k/0.wav?AccessKeyId=AK&Expires=9&Signature=s%2Bg")
    assert obs == "https://b.obs.example/k/0.wav?AccessKeyId=REDACTED&Expires=9&Signature=REDACTED"
    sas = redact_url("https://a.blob.core.windows.net/c/x.wav?sv=2022&sp=rw&se=2030&sig=abc%3D")
    assert sas == "https://a.blob.core.windows.net/c/x.wav?sv=2022&sp=rw&se=2030&sig=REDACTED"
    s3 = redact_url("https://s3/x?X-Amz-Credential=c&X-Amz-Signature=s&X-Amz-Expires=60")
    assert s3 == "https://s3/x?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Expires=60"
    assert redact_url("https://user:pw@h/p?a=1#frag") == "https://h/p?a=1"


def test_parse_retry_after_forms() -> None:
    """Retry-After accepts seconds and HTTP-dates; retry-after-ms wins; garbage is None."""
    now = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"Retry-After": "Thu, 01 Jan 2026 00:00:05 GMT"}, now=now) == 5.0
    assert parse_retry_after({"Retry-After": "Wed, 31 Dec 2025 00:00:00 GMT"}, now=now) == 0.0
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_capped_full_jitter() -> None:
    """Backoff ceilings double up to max_delay; full jitter spreads below the ceiling."""
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=1.0)
    assert [policy.backoff(n, rand=lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [
        0.5, 1.0, 2.0, 4.0, 4.0,
    ]  # fmt: skip
    assert policy.backoff(3, rand=lambda: 0.75) == pytest.approx(0.5)
    assert RetryPolicy(jitter=0.0).backoff(2, rand=lambda: 0.9) == 1.0


@pytest.mark.anyio
async def test_rate_limiter_sliding_window() -> None:
    """Concurrent callers never get more than max_calls starts into any one window."""
    limiter = RateLimiter(max_calls=5, period=0.4)
    stamps: list[float] = []

    async def caller() -> None:
        for _ in range(4):
            await limiter.acquire()
            stamps.append(anyio.current_time())

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(caller)
    stamps.sort()
    assert len(stamps) == 20
    # Sliding-window maximum over a slightly shorter window (scheduling jitter after acquire).
    window = 0.4 * 0.9
    busiest = max(sum(1 for t in stamps if s <= t < s + window) for s in stamps)
    assert busiest <= 5
    # And it does let a full window through: the first five start together.
    assert stamps[4] - stamps[0] < 0.2


def test_rate_limiter_per_second() -> None:
    """Fractional rates become one call per widened window."""
    assert (RateLimiter.per_second(20).max_calls, RateLimiter.per_second(20).period) == (20, 1.0)
    assert (RateLimiter.per_second(0.5).max_calls, RateLimiter.per_second(0.5).period) == (1, 2.0)
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter.per_second(0)
