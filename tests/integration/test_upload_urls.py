"""Upload URLs a provider hands out: https only (plain http only to loopback), and a redirect
to anywhere is refused without contacting the target, over real loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.errors import ProviderProtocolError
from pipeline.providers.http import NO_RETRY, HttpClient, HttpSettings, check_url

SIG = "c2lnbmF0dXJlLXByb2Jl"


@pytest.fixture
def anyio_backend() -> str:
    """aiohttp needs asyncio."""
    return "asyncio"


Server = Callable[[int, dict[str, str]], Awaitable[tuple[str, list[str]]]]


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """Start loopback servers answering every request with a status and headers; each start
    returns its base URL and the list of paths it was asked for."""
    started: list[TestServer] = []

    async def start(status: int, headers: dict[str, str]) -> tuple[str, list[str]]:
        seen: list[str] = []

        async def handler(request: web.Request) -> web.StreamResponse:
            await request.read()
            seen.append(request.path_qs)
            return web.Response(status=status, headers=headers)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        srv = TestServer(app, host="127.0.0.1")
        await srv.start_server()
        started.append(srv)
        return str(srv.make_url("")).rstrip("/"), seen

    yield start
    for srv in started:
        await srv.close()


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    """An open HttpClient with short timeouts."""
    async with HttpClient(HttpSettings(connect_timeout=2.0, read_timeout=2.0)) as http:
        yield http


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A small file to upload."""
    path = tmp_path / "0.wav"
    path.write_bytes(b"RIFF" + bytes(1000))
    return path


@pytest.mark.parametrize(
    "url",
    [
        f"http://example.com/obs/b/0.wav?Signature={SIG}",
        f"http://10.0.0.8/obs/b/0.wav?Signature={SIG}",
        f"http://127.0.0.1.evil.example/obs/b/0.wav?Signature={SIG}",
        f"http://127.0.0.1@evil.example/obs/b/0.wav?Signature={SIG}",
        f"http://localhost.evil.example/obs/b/0.wav?Signature={SIG}",
        f"http://2130706433/obs/b/0.wav?Signature={SIG}",
        f"ftp://127.0.0.1/obs/b/0.wav?Signature={SIG}",
        f"file:///etc/passwd?Signature={SIG}",
        f"/obs/b/0.wav?Signature={SIG}",
    ],
)
@pytest.mark.anyio
async def test_non_https_upload_urls_are_refused(client: HttpClient, clip: Path, url: str) -> None:
    """A pre-signed URL that is not https, nor http to a loopback address, is refused before
    anything is sent, and the refusal does not quote its signature."""
    with pytest.raises(ProviderProtocolError, match="only https") as info:
        await client.put_file(url, clip, content_type="audio/wav", retry=NO_RETRY)
    assert SIG not in str(info.value)
    with pytest.raises(ProviderProtocolError):
        check_url(url)


@pytest.mark.anyio
async def test_loopback_http_is_allowed(client: HttpClient, clip: Path, server: Server) -> None:
    """http:// to 127.0.0.1 or localhost (the emulator) reaches the server."""
    base, seen = await server(200, {})
    port = base.rpartition(":")[2]
    for host in ("127.0.0.1", "localhost"):
        url = f"http://{host}:{port}/obs/b/0.wav?Signature={SIG}"
        check_url(url)
        await client.put_file(url, clip, content_type="audio/wav", retry=NO_RETRY)
    assert len(seen) == 2
    check_url("https://obs.example.com/b/0.wav")  # https is always acceptable


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.anyio
async def test_upload_redirects_are_refused(
    client: HttpClient, clip: Path, server: Server, status: int
) -> None:
    """A store that redirects a PUT (to another host, signature and all) gets a protocol
    error; the target is never contacted and the error text has no signature from either
    URL."""
    target, target_seen = await server(200, {})
    location = f"{target}/elsewhere/0.wav?AccessKeyId=AK&Signature=TARGET{SIG}"
    base, seen = await server(status, {"Location": location})
    url = f"{base}/obs/b/0.wav?Expires=9&Signature={SIG}"
    with pytest.raises(ProviderProtocolError, match="redirect") as info:
        await client.put_file(url, clip, content_type="audio/wav", retry=NO_RETRY)
    assert len(seen) == 1
    assert target_seen == []
    assert SIG not in str(info.value)
    assert "/elsewhere/0.wav" in str(info.value)  # still says where it wanted us to go


@pytest.mark.anyio
async def test_control_calls_refuse_redirects_too(client: HttpClient, server: Server) -> None:
    """A signed control-API call is never sent on to another host either."""
    target, target_seen = await server(200, {})
    base, _ = await server(302, {"Location": f"{target}/v1/steal"})
    with pytest.raises(ProviderProtocolError, match="redirect"):
        await client.request("POST", f"{base}/v1/jobs", body=b"{}", idempotent=False)
    assert target_seen == []
