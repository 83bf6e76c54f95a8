"""The shared HTTP layer: one aiohttp session per run, error mapping, retries, rate limits.

This is the only module that imports aiohttp for client work and the only place where aiohttp
exceptions become our error tree (``raise … from exc``):

====================================================  ===========================================
what happened                                         raised
====================================================  ===========================================
connection refused / DNS / connect timeout            ``ProviderUnavailable`` (request never sent)
reset, disconnect, read timeout, 5xx, 408             ``ProviderUnavailable``; ``AmbiguousCreate``
                                                      for a non-idempotent request (it may have
                                                      reached the server)
429, or an error code listed as a throttle code       ``Throttled`` (``retry_after`` from headers)
404                                                   ``NotFound``
401/403 from a control API                            ``AuthenticationFailed``
other 4xx from a control API                          ``ProviderRejected``
other 4xx from an object store (``put_file``)         ``UploadRejected`` (refresh the URL)
3xx (redirects are never followed), garbage           ``ProviderProtocolError``
====================================================  ===========================================

Every URL that reaches a log line or an exception message passes through ``redact_url`` first,
so the signature of a pre-signed (OBS) or SAS (Azure) URL never leaves this module. Plain
``http://`` is refused except to a loopback address (the emulator).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import os
import random
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import BinaryIO, Final, Literal, Protocol, Self, TypeVar
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import aiohttp
import anyio
import anyio.lowlevel
import structlog
from yarl import URL

from pipeline import log as _log
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
from pipeline.pagecache import read_at

T = TypeVar("T")

log = structlog.get_logger(__name__)

#: Query parameters (compared case-insensitively) that carry a signature or a credential:
#: one list for the whole code base, kept beside the log redactor.
SECRET_QUERY_PARAMS: Final = _log.SECRET_QUERY_PARAMS
REDACTED: Final = _log.REDACTED
_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})
_XML_CODE: Final = re.compile(r"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE: Final = re.compile(r"<Message>([^<]{1,500})</Message>")
_REQUEST_ID_HEADERS: Final = (
    "X-Request-Id",
    "x-obs-request-id",
    "x-ms-request-id",
    "apim-request-id",
    "x-amz-request-id",
)


# --------------------------------------------------------------------------- redaction


def redact_url(url: str) -> str:
    """The URL without its secrets: signature/credential query values, userinfo and fragment.

    Host, path and the harmless parameters (``Expires``, ``se``, ``sp`` …) stay, so a log
    line still says which object and which expiry were involved.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rpartition("@")[2]
    kept: list[str] = []
    for item in parts.query.split("&") if parts.query else ():
        raw_key = item.partition("=")[0]
        if unquote_plus(raw_key).lower() in SECRET_QUERY_PARAMS:
            kept.append(f"{raw_key}={REDACTED}")
        else:
            kept.append(item)
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(kept), ""))


def redact_text(text: str) -> str:
    """``text`` (a foreign message) without URL signatures, credentials or the run's secrets.

    The log redactor's ``redact_text`` with the process's known secrets: one implementation.
    """
    return _log.redact_text(text, _log.known_secrets())


# --------------------------------------------------------------------------- retry


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard to try one call: attempt and time budgets, exponential backoff, full jitter."""

    attempts: int = 5  #: total tries, the first included; 1 = no retry
    max_elapsed_s: float = 60.0  #: never start a wait that would end past this budget
    base_delay: float = 0.5  #: the first backoff ceiling, doubled per retry
    max_delay: float = 30.0  #: cap of the backoff ceiling (Retry-After may exceed it)
    jitter: float = 1.0  #: 1.0 = full jitter (uniform 0..ceiling); 0.0 = exact backoff

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), without Retry-After."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling * (1.0 - self.jitter * rand())


#: One try and no waiting; for calls that must not be repeated.
NO_RETRY: Final = RetryPolicy(attempts=1, max_elapsed_s=0.0)


def is_retryable(exc: BaseException) -> bool:
    """Retry only transient provider errors; never an ambiguous create (reconcile instead)."""
    return isinstance(exc, ProviderUnavailable) and not isinstance(exc, AmbiguousCreate)


async def retry_call(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    operation: str,
    retry_on: Callable[[BaseException], bool] = is_retryable,
    rand: Callable[[], float] = random.random,
) -> T:
    """Await ``call()`` until it succeeds or the policy's attempt/time budget runs out.

    Waits are exponential with full jitter ("AWS full jitter": spread clients evenly instead
    of in synchronized waves), except after ``Throttled`` with a ``retry_after``, which is
    waited exactly. The last error is re-raised unchanged.

    We keep this small helper rather than depend on stamina: stamina's jitter is additive (not
    full), Retry-After needs a hook anyway, and a frozen per-call-kind policy value (create,
    commit, poll, upload) is simpler to pass around than decorated callables.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except Exception as exc:
            if not retry_on(exc):
                raise
            if attempt >= policy.attempts:
                _log_gave_up(operation, attempt, exc)
                raise
            retry_after = exc.retry_after if isinstance(exc, Throttled) else None
            delay = (
                max(0.0, retry_after) if retry_after is not None else policy.backoff(attempt, rand)
            )
            elapsed = time.monotonic() - started
            if elapsed + delay > policy.max_elapsed_s:
                _log_gave_up(operation, attempt, exc)
                raise
            log.warning(
                "http.retry_scheduled",
                operation=operation,
                attempt=attempt,
                delay_s=round(delay, 3),
                retry_after=retry_after,
                error=type(exc).__name__,
                status=getattr(exc, "status", None),
                code=getattr(exc, "code", None),
                request_id=getattr(exc, "request_id", None),
                reason=str(exc),  # messages built in this module are already redacted
            )
        await anyio.sleep(delay)


def _log_gave_up(operation: str, attempt: int, exc: Exception) -> None:
    # Only for retryable errors whose budget ran out; other errors are the caller's to report.
    if isinstance(exc, ProviderError):
        log.warning(
            "http.retry_exhausted",
            operation=operation,
            attempts=attempt,
            error=type(exc).__name__,
            status=exc.status,
            code=exc.code,
            request_id=exc.request_id,
        )


# --------------------------------------------------------------------------- rate limiting


class RateLimiter:
    """At most ``max_calls`` acquisitions in any window of ``period`` seconds.

    A sliding log of the last ``max_calls`` start times, not a token bucket: a bucket of
    size N refilled at N/s lets almost 2N calls through within one second (a full bucket
    plus its refill), which is exactly what a per-second gateway quota punishes. Waiters
    queue on a FIFO ``anyio.Lock``, so nobody starves. It cannot see other processes sharing
    the quota, so callers keep reacting to 429 as well (pitfalls §2.4).
    """

    def __init__(self, max_calls: int, period: float = 1.0) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("a rate limit needs max_calls >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._starts: deque[float] = deque(maxlen=max_calls)
        self._lock = anyio.Lock()

    @classmethod
    def per_second(cls, rate: float) -> RateLimiter:
        """A limiter for ``rate`` calls per second (fractional rates widen the window)."""
        if rate <= 0:
            raise ValueError("a rate limit must be > 0 calls per second")
        if rate >= 1:
            return cls(int(rate), 1.0)
        return cls(1, 1.0 / rate)

    async def acquire(self) -> None:
        """Wait until one more call fits in the window, and count it."""
        async with self._lock:
            while len(self._starts) == self.max_calls:
                # The loop re-checks: a timer may fire a hair early on coarse clocks.
                wait = self._starts[0] + self.period - anyio.current_time()
                if wait <= 0:
                    break
                await anyio.sleep(wait)
            self._starts.append(anyio.current_time())

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        return None


# --------------------------------------------------------------------------- client


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
    upload_retry: RetryPolicy = RetryPolicy(attempts=4, max_elapsed_s=900.0, base_delay=1.0)
    trust_env: bool = False  #: honour HTTP(S)_PROXY (aiohttp would also read ~/.netrc)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A successful (2xx) response, read in full."""

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
                request_id=_request_id(self.headers),
            ) from exc


#: Bytes per read of an upload body. Cached blocks are read on the event loop and handed to the
#: socket at once; a block the socket cannot take whole is copied into asyncio's write buffer,
#: so blocks about the size of a socket buffer cost least (measured here, client CPU for
#: 512 MiB: 64 KiB 0.21 s, 256 KiB 0.17 s, 1 MiB 0.21 s, 2 MiB 0.24 s; curl 0.18 s).
UPLOAD_READ: Final = 256 << 10
#: Bytes read on the event loop between two checkpoints. aiohttp only waits when the socket
#: pushes back, which a fast link may never do; anyio's checkpoint costs 0.05-0.1 ms of CPU
#: measured here, too much to take after every block.
_CHECKPOINT_BYTES: Final = 8 << 20


class BodyReader(Protocol):
    """An open upload body: its exact length, the next bytes (b"" at the end), close().

    ``read(n)`` may wait on the disk (it runs in a worker thread); ``read_nowait(n)`` runs on
    the event loop and answers only from the page cache: the next bytes (possibly fewer than
    ``n``), or None when reading them would wait (the caller then uses ``read`` in a thread).
    """

    @property
    def size(self) -> int: ...

    def read(self, n: int, /) -> bytes | bytearray: ...

    def read_nowait(self, n: int, /) -> bytes | bytearray | None: ...

    def close(self) -> None: ...


class UploadBody(Protocol):
    """Something put_file can send, opened afresh for every attempt (a stream is consumed)."""

    def open(self) -> BodyReader: ...


class FileBody:
    """A file on disk as an upload body."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self) -> BodyReader:
        return _FileReader(self.path)


class _FileReader:
    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = os.fstat(self._fd).st_size
        self._position = 0

    def read(self, n: int, /) -> bytearray:
        block = self._read(n, wait=True)
        assert block is not None  # a waiting read always gets its bytes
        return block

    def read_nowait(self, n: int, /) -> bytearray | None:
        return self._read(n, wait=False)

    def _read(self, n: int, *, wait: bool) -> bytearray | None:
        block = bytearray(n)
        got = read_at(self._fd, memoryview(block), self._position, wait=wait)
        if got is None:
            return None
        self._position += got
        del block[got:]
        return block

    def close(self) -> None:
        os.close(self._fd)


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


Purpose = Literal["control", "upload"]


@dataclass(slots=True)
class _Call:
    """What one request was, for error messages (URL already redacted)."""

    method: str
    url: str
    purpose: Purpose
    idempotent: bool
    throttle_codes: Collection[str] = field(default_factory=tuple)

    def describe(self) -> str:
        return f"{self.method} {self.url}"


class HttpClient:
    """One aiohttp ``ClientSession`` for the whole run; ``async with HttpClient(...) as http``."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._stack = AsyncExitStack()
        self._session: aiohttp.ClientSession | None = None

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
        call = _Call(method.upper(), redact_url(url), "control", idempotent, throttle_codes)
        return await self._send(call, url, headers, body)

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
        in :data:`UPLOAD_READ` blocks, from the page cache on the loop and otherwise in a worker
        thread, so the event loop never waits on the disk. A 401/403 raises ``UploadRejected``
        at once (expired URL or signature/Content-Type mismatch: the caller refreshes the URL);
        resets and 5xx are retried per ``retry`` (default ``settings.upload_retry``;
        ``NO_RETRY`` for a single attempt).
        """
        call = _Call("PUT", redact_url(url), "upload", True)
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
                await self._send(call, url, headers, _stream(reader, size, call))
                sent = size
            finally:
                await anyio.to_thread.run_sync(reader.close)

        policy = self.settings.upload_retry if retry is None else retry
        await retry_call(policy, attempt, operation="http.put_file")
        return sent

    async def _send(
        self,
        call: _Call,
        url: str,
        headers: Mapping[str, str],
        data: object,
    ) -> HttpResponse:
        target = _checked_url(url, call)
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
            raise ProviderUnavailable(
                f"{call.describe()}: cannot connect ({_describe_exc(exc)})"
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            # Reset, disconnect, read timeout, broken response: the server may have acted.
            raise _maybe_sent_error(call, f"{call.describe()}: {_describe_exc(exc)}") from exc
        if 200 <= status < 300:
            return HttpResponse(status, response_headers, body, call.url)
        raise _status_error(call, status, response_headers, body)


# --------------------------------------------------------------------------- helpers


async def _stream(reader: BodyReader, size: int, call: _Call) -> AsyncIterator[memoryview]:
    """The body's bytes for aiohttp; exactly ``size`` of them.

    Cached bytes are read right here on the event loop (a page-cache copy costs less than the
    hop to a worker thread, see :mod:`pipeline.pagecache`); only bytes that would wait on the
    disk are read in a thread. Blocks go out as memoryviews: aiohttp slices every chunk to the
    Content-Length, which copies a bytearray but not a view.
    """
    sent = 0
    unchecked = 0  # bytes read on the loop since it last let other tasks run
    while True:
        block = reader.read_nowait(UPLOAD_READ)
        if block is None:
            block = await anyio.to_thread.run_sync(reader.read, UPLOAD_READ)
            unchecked = 0
        else:
            unchecked += len(block)
            if unchecked >= _CHECKPOINT_BYTES:
                # Let other tasks (polls, heartbeats, other uploads) run now and then.
                await anyio.lowlevel.checkpoint()
                unchecked = 0
        if not block:
            break
        sent += len(block)
        if sent > size:
            break
        yield memoryview(block)
    if sent != size:
        # The server would wait for the missing bytes (or take extra ones as the next
        # request): stop here, the connection is dropped and nothing is stored.
        raise ProviderProtocolError(
            f"{call.describe()}: the body is not the {size} bytes announced (the file changed)"
        )


def check_url(url: str) -> None:
    """Refuse a URL we would never send to: not https, and not http to a loopback address."""
    _checked_url(url, _Call("URL", redact_url(url), "control", True))


def _checked_url(url: str, call: _Call) -> URL:
    # encoded=True: send the URL exactly as signed (yarl would otherwise requote it, which
    # can change a pre-signed URL's bytes and break its signature).
    try:
        target = URL(url, encoded=True)
    except (ValueError, TypeError) as exc:
        raise ProviderProtocolError(f"{call.describe()}: invalid URL") from exc
    scheme = (target.scheme or "").lower()
    if scheme == "https":
        return target
    if scheme == "http" and _is_loopback(target.host or ""):
        return target
    raise ProviderProtocolError(
        f"{call.describe()}: refusing a {scheme or 'relative'} URL; only https:// is allowed, "
        "or http:// to a loopback address"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _describe_exc(exc: BaseException) -> str:
    # aiohttp puts the full URL (signature included) into some messages; redact them.
    text = redact_text(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _maybe_sent_error(
    call: _Call,
    message: str,
    *,
    status: int | None = None,
    code: str | None = None,
    request_id: str | None = None,
) -> ProviderUnavailable:
    if call.idempotent:
        return ProviderUnavailable(message, status=status, code=code, request_id=request_id)
    return AmbiguousCreate(
        f"{message} (the request may have been processed; reconcile before repeating it)",
        status=status,
        code=code,
        request_id=request_id,
    )


def _status_error(
    call: _Call, status: int, headers: Mapping[str, str], body: bytes
) -> ProviderError:
    code, detail = _error_fields(body)
    request_id = _request_id(headers)
    message = f"{call.describe()} → HTTP {status}" + (f" {code}" if code else "")
    if detail:
        message += f": {redact_text(detail)[:300]}"
    if status == 429 or (code is not None and code in call.throttle_codes):
        # A throttled request was refused by the gateway, so even a create is safe to repeat.
        return Throttled(
            message,
            retry_after=parse_retry_after(headers),
            status=status,
            code=code,
            request_id=request_id,
        )
    if 300 <= status < 400:
        location = redact_url(headers.get("Location", ""))
        return ProviderProtocolError(
            f"{message}: redirect to {location or '?'} refused",
            status=status,
            code=code,
            request_id=request_id,
        )
    if status >= 500 or status == 408:
        return _maybe_sent_error(call, message, status=status, code=code, request_id=request_id)
    if status in (401, 403):
        if call.purpose == "upload":
            return UploadRejected(message, status=status, code=code, request_id=request_id)
        return AuthenticationFailed(message, status=status, code=code, request_id=request_id)
    if status == 404:
        return NotFound(message, status=status, code=code, request_id=request_id)
    if 400 <= status < 500:
        if call.purpose == "upload":
            return UploadRejected(message, status=status, code=code, request_id=request_id)
        return ProviderRejected(message, status=status, code=code, request_id=request_id)
    return ProviderProtocolError(message, status=status, code=code, request_id=request_id)


def _error_fields(body: bytes) -> tuple[str | None, str | None]:
    """(code, message) from the error bodies we meet: Huawei, Azure, OBS/S3 XML."""
    text = body[:65536].decode("utf-8", errors="replace")
    try:
        payload = json.loads(text)
    except ValueError:
        code_match, msg_match = _XML_CODE.search(text), _XML_MESSAGE.search(text)
        return (
            code_match.group(1) if code_match else None,
            msg_match.group(1) if msg_match else None,
        )
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        payload = payload["error"]  # Azure: {"error": {"code", "message"}}
    if not isinstance(payload, dict):
        return None, None
    code = next((payload[k] for k in ("error_code", "errorCode", "code") if k in payload), None)
    msg = next((payload[k] for k in ("error_msg", "errorMsg", "message") if k in payload), None)
    return (str(code) if code is not None else None, str(msg) if msg is not None else None)


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date) or ``retry-after-ms``."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
