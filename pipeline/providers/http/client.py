"""The run's one HTTP client: an aiohttp session, control requests and file uploads.

This is the only module that talks to aiohttp for client work, and with :mod:`.errors` the only
place where aiohttp exceptions and HTTP statuses become our error tree (``raise … from exc``).
It never retries a control request itself (the provider clients do, through
:mod:`.control`); ``put_file`` retries an upload per its policy.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Collection, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import BinaryIO, Final, Protocol, Self

import aiohttp
import anyio
import anyio.to_thread

from pipeline.errors import ProviderProtocolError, ProviderUnavailable
from pipeline.providers.http.bodies import FileBody, UploadBody, stream
from pipeline.providers.http.errors import (
    Call,
    describe_exc,
    maybe_sent_error,
    request_id_of,
    status_error,
)
from pipeline.providers.http.reachability import Reachability
from pipeline.providers.http.retry import RetryPolicy, retry_call
from pipeline.providers.http.urls import checked_url, redact_url

_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
_UPLOAD_RETRY: Final = RetryPolicy(attempts=4, max_elapsed_s=900.0, base_delay=1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """Connection pool and timeouts for the run's one session."""

    connections: int = 16  #: TCPConnector(limit=…): match the upload concurrency
    connections_per_host: int = 0  #: 0 = no per-host cap
    connect_timeout: float = 15.0  #: seconds to establish a connection
    #: seconds without a byte from the server once the request body is sent. There is
    #: deliberately no total timeout: a large upload on a slow link may take far longer than
    #: aiohttp's default 300 s and must not be killed for it.
    read_timeout: float = 120.0
    user_agent: str = "voice-onboarding/0.1"
    #: put_file's retry policy when the caller passes none (resets, 5xx, 429 are retried).
    upload_retry: RetryPolicy = _UPLOAD_RETRY
    trust_env: bool = False  #: honour HTTP(S)_PROXY (aiohttp would also read ~/.netrc)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A response read in full: a successful (2xx) one, except from ``HttpClient.probe``."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  #: redacted

    def json(self) -> object:
        """The body parsed as JSON; ProviderProtocolError when it is not JSON."""
        try:
            return json.loads(self.body) if self.body.strip() else None
        except ValueError as exc:
            raise ProviderProtocolError(
                f"expected JSON from {self.url}, got {len(self.body)} bytes that are not",
                status=self.status,
                request_id=request_id_of(self.headers),
            ) from exc


class HttpTransport(Protocol):
    """What provider clients need from the HTTP layer (``HttpClient`` implements it)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] = ...,
        body: bytes | BinaryIO | None = None,
        idempotent: bool = True,
        throttle_codes: Collection[str] = (),
    ) -> HttpResponse: ...

    async def put_file(
        self,
        url: str,
        source: Path | UploadBody,
        *,
        content_type: str,
        extra_headers: Mapping[str, str] = ...,
        retry: RetryPolicy | None = None,
    ) -> int: ...


class HttpClient:
    """One aiohttp ``ClientSession`` for the whole run; ``async with HttpClient(...) as http``."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._stack = AsyncExitStack()
        self._session: aiohttp.ClientSession | None = None
        #: every request's outcome, for riding out (and reporting) an outage
        self.reachability = Reachability()

    async def __aenter__(self) -> Self:
        s = self.settings
        connector = aiohttp.TCPConnector(limit=s.connections, limit_per_host=s.connections_per_host)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
            ),
            headers={"User-Agent": s.user_agent},
            # Cookies would only leak state between calls; none of our APIs uses them.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=s.trust_env,
        )
        self._session = await self._stack.enter_async_context(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session and its connections (idempotent)."""
        self._session = None
        await self._stack.aclose()

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("HttpClient is not open; use `async with HttpClient(...)`")
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] = _NO_HEADERS,
        body: bytes | BinaryIO | None = None,
        idempotent: bool = True,
        throttle_codes: Collection[str] = (),
    ) -> HttpResponse:
        """Send one control-API request and return its 2xx response (no retries here).

        Args:
            url: absolute and already percent-encoded; sent byte for byte as given (the
                signature covers it).
            idempotent: False for a request that must not be repeated blindly (a create
                without an idempotency key): errors after it may have reached the server
                become ``AmbiguousCreate``.
            throttle_codes: provider error codes meaning "throttled" whatever the status
                (Huawei ``APIGW.0308``).
        """
        call = Call(method.upper(), redact_url(url), "control", idempotent, throttle_codes)
        return await self._send(call, url, headers, body)

    async def probe(self, url: str) -> HttpResponse:
        """One GET of ``url`` without credentials, answered with whatever status the server
        gives: proof that the host resolves, connects (for https: completes TLS) and speaks
        HTTP, with the answer's headers (``Date``). ProviderUnavailable when nothing answered."""
        call = Call("GET", redact_url(url), "control", True)
        return await self._send(call, url, _NO_HEADERS, None, any_status=True)

    async def put_file(
        self,
        url: str,
        source: Path | UploadBody,
        *,
        content_type: str,
        extra_headers: Mapping[str, str] = _NO_HEADERS,
        retry: RetryPolicy | None = None,
    ) -> int:
        """PUT a file (or a body that streams like one, e.g. a zip package) to a pre-signed/SAS
        URL with an exact Content-Length; returns the bytes sent.

        The body is reopened on every attempt (a consumed stream cannot be replayed) and read
        in :data:`.bodies.UPLOAD_READ` blocks, from the page cache on the loop and otherwise in a worker
        thread, so the event loop never waits on the disk. A 401/403 raises ``UploadRejected``
        at once (expired URL or signature/Content-Type mismatch: the caller refreshes the URL);
        resets and 5xx are retried per ``retry`` (default ``settings.upload_retry``;
        ``NO_RETRY`` for a single attempt).
        """
        call = Call("PUT", redact_url(url), "upload", True)
        body = FileBody(source) if isinstance(source, Path) else source
        sent = 0

        async def attempt() -> None:
            nonlocal sent
            reader = await anyio.to_thread.run_sync(body.open)
            try:
                size = reader.size
                headers = {
                    **extra_headers,
                    "Content-Type": content_type,
                    # Pre-signed PUTs refuse chunked transfer encoding (S3/OBS answer 501), so
                    # the length is stated (aiohttp then sends the generator's bytes as they are).
                    "Content-Length": str(size),
                }
                await self._send(call, url, headers, stream(reader, size, call.describe()))
                sent = size
            finally:
                await anyio.to_thread.run_sync(reader.close)

        policy = self.settings.upload_retry if retry is None else retry
        await retry_call(policy, attempt, operation="http.put_file")
        return sent

    async def _send(
        self,
        call: Call,
        url: str,
        headers: Mapping[str, str],
        data: object,
        *,
        any_status: bool = False,
    ) -> HttpResponse:
        target = checked_url(url, call.describe())
        session = self._require_session()
        try:
            async with session.request(
                call.method,
                target,
                headers=dict(headers),
                data=data,
                # aiohttp itself resends an idempotent request (GET/PUT/DELETE) once when the
                # connection drops (RFC 9112 §9.3.1); our retry attempts come on top of that.
                # Never follow redirects: a pre-signed PUT or a signed control call sent on
                # to another host would hand it our body (and possibly credentials).
                allow_redirects=False,
            ) as response:
                body = await response.read()
                status = response.status
                response_headers: Mapping[str, str] = response.headers
        except aiohttp.InvalidURL as exc:
            raise ProviderProtocolError(f"{call.describe()}: invalid URL") from exc
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            # Connecting failed: the request never left this host, so it is safe to repeat,
            # even a create.
            self.reachability.failed(f"cannot connect: {_short(exc)}")
            raise ProviderUnavailable(
                f"{call.describe()}: cannot connect ({describe_exc(exc)})"
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Reset, disconnect, read timeout, broken response: the server may have acted.
            self.reachability.failed(_short(exc))
            raise maybe_sent_error(call, f"{call.describe()}: {describe_exc(exc)}") from exc
        if status >= 500 or status == 408:
            self.reachability.failed(f"HTTP {status}")
        else:
            self.reachability.answered()
        if any_status or 200 <= status < 300:
            return HttpResponse(status, response_headers, body, call.url)
        raise status_error(call, status, response_headers, body)


def _short(exc: BaseException) -> str:
    """A few words for what a failed connection met (no URL, so nothing to redact)."""
    os_error = getattr(exc, "os_error", None) or exc
    code = getattr(os_error, "errno", None)
    if isinstance(code, int) and code in errno.errorcode:
        return os.strerror(code).lower()  # not the OSError's text: it names the address
    if isinstance(os_error, socket.gaierror) and os_error.strerror:
        return os_error.strerror.lower()  # "name or service not known"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(exc, TimeoutError | aiohttp.ConnectionTimeoutError):
        return "timed out"
    return type(exc).__name__
