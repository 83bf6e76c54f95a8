"""A typed client for Azure AI Speech personal voice (Custom Voice REST, reference §4–§6).

Each method is one REST call under ``{endpoint}/customvoice``: it takes a slot in the key's
request window, sends through the shared ``HttpClient`` with ``Ocp-Apim-Subscription-Key`` and
``api-version``, retries per its call kind, and parses the answer at the edge into frozen records
(anything unexpected is a ``ProviderProtocolError``). Stage logic (ids, waiting, adopting) lives
in ``pipeline.providers.azure``.

Idempotency: consents and personal voices are created under caller-chosen ids with a
caller-chosen ``Operation-Id``. Azure replays an identical request that repeats an
``Operation-Id`` and refuses a different one (reference §2.1), so a create whose answer was lost
is simply sent again, byte for byte: creates are retried like reads here. Multipart bodies use a
boundary derived from the ``Operation-Id`` so every attempt, in this run or the next, sends the
same bytes; they are spooled to a file and streamed from it (audio never sits in memory whole).

Rate limit: 50 requests per 10 s per Speech resource (reference §8). ``RequestWindow`` counts a
request from the moment it is started until ``window`` seconds after its answer arrived; that
bound holds at the server whatever the network or connection-pool delays (see its docstring),
so a lone client never meets the service's limiter. Others sharing the key can still cause 429s:
they are retried (``Retry-After`` when given, backoff when not) and pause the whole window.

Error bodies ``{"error": {"code", "message", "details"}}`` are read by the HTTP layer: the Azure
``code`` lands in ``ProviderError.code`` and the message in the exception text; ``TooManyRequests``
is treated as throttling whatever the status.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final, Generic, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import anyio
import anyio.to_thread
import structlog

from pipeline.config import JobConfig
from pipeline.errors import (
    NotFound,
    ProviderProtocolError,
    ProviderUnavailable,
    Throttled,
)
from pipeline.providers.http import (
    HttpResponse,
    HttpTransport,
    RetryPolicy,
    check_url,
    redact_url,
    retry_call,
)

log = structlog.get_logger(__name__)

DEFAULT_API_VERSION: Final = "2024-02-01-preview"
#: Versions whose routes and fields this client knows (reference §1.2, §10).
API_VERSIONS: Final = frozenset({"2023-12-01-preview", DEFAULT_API_VERSION, "2026-01-01"})
#: Azure ``ErrorCode`` meaning "throttled", whatever the HTTP status says.
THROTTLE_CODES: Final = frozenset({"TooManyRequests"})
#: Terminal statuses of consents and personal voices (reference §2.4).
TERMINAL: Final = frozenset({"Succeeded", "Failed"})
#: The Blob REST version sent with blob-SAS uploads (any version the account's SAS accepts).
BLOB_API_VERSION: Final = "2021-08-06"
_PREFIX: Final = "customvoice"
_JSON: Final = "application/json"
_COPY_CHUNK: Final = 64 * 1024
#: Azure's own cap on list pages is undocumented; 100 is its default (reference §1.6).
PAGE_SIZE: Final = 100

#: Creates (PUT project, POST/PUT consent and personal voice): safe to repeat with the same
#: Operation-Id. Attempts include 429s, hence generous; time is bounded per attempt by waits.
CREATE_RETRY: Final = RetryPolicy(attempts=10, max_elapsed_s=900.0)
#: GETs and lists.
READ_RETRY: Final = RetryPolicy(attempts=10, max_elapsed_s=900.0)
#: Blob PUTs to the customer's container.
UPLOAD_RETRY: Final = RetryPolicy(attempts=5, max_elapsed_s=900.0, base_delay=1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicies:
    """The retry policy of each call kind (the caller tunes them; tests shrink them)."""

    create: RetryPolicy = CREATE_RETRY
    read: RetryPolicy = READ_RETRY
    upload: RetryPolicy = UPLOAD_RETRY


# --------------------------------------------------------------------------- rate limiting


class RequestWindow:
    """At most ``max_calls`` requests per ``period`` seconds, counted the safe way.

    A request holds its slot from the moment it starts until ``period`` seconds after it
    *finished*. Why: the server stamps a request when it arrives, which is after we started it
    (connection pool, TLS, a slow body) and before we saw its answer. Take any ``period``-long
    span of server arrivals and the request among them that we started last: every other one
    had started before it and had arrived, hence finished, less than ``period`` before it
    started, so all of them still held slots then. A plain sliding log of start times (a
    token bucket even more so) lets a delayed request land in the next window and earn a 429.

    ``pause`` holds every new request back after a 429 (another client shares the key, or the
    service is autoscaling). Waiters queue FIFO on a lock, so none starves.
    """

    def __init__(
        self,
        max_calls: int,
        period: float,
        *,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError("a request window needs max_calls >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._lock = anyio.Lock()
        self._released = anyio.Event()

    def _expire(self, now: float) -> None:
        while self._finished and self._finished[0] + self.period <= now:
            self._finished.popleft()

    async def acquire(self) -> None:
        """Wait for a free slot and take it; pair with ``release``."""
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                if now < self._paused_until:
                    await anyio.sleep(self._paused_until - now)
                    continue
                if self._in_flight + len(self._finished) < self.max_calls:
                    self._in_flight += 1
                    return
                if self._finished:
                    await anyio.sleep(self._finished[0] + self.period - now)
                else:
                    # every slot is a request still running: its end starts the clock
                    released = self._released
                    await released.wait()

    def release(self) -> None:
        """The request has its answer (or failed): its slot frees ``period`` seconds from now."""
        self._in_flight -= 1
        self._finished.append(self._clock())
        released, self._released = self._released, anyio.Event()
        released.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with window.slot():`` around one request."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def pause(self, seconds: float) -> None:
        """Start no request for ``seconds`` (extends, never shortens, a pause in force)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))


# --------------------------------------------------------------------------- records

R = TypeVar("R")
_Identified = TypeVar("_Identified", "Consent", "PersonalVoice")


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """A project (reference §4); it has no status."""

    id: str
    kind: str
    display_name: str | None = None
    description: str | None = None
    locale: str | None = None
    created: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """A consent: the talent's recorded statement (reference §5.2)."""

    id: str
    project_id: str
    voice_talent_name: str
    company_name: str
    locale: str
    status: str  #: NotStarted | Running | Succeeded | Failed; unknown values are kept
    failure_reason: str | None = None  #: AudioAndScriptNotMatch, Internal …
    display_name: str | None = None
    description: str | None = None
    created: str | None = None
    last_action: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalVoice:
    """A personal voice (reference §6.2)."""

    id: str
    project_id: str
    consent_id: str
    speaker_profile_id: str | None  #: a UUID, present from creation on
    status: str
    failure_reason: str | None = None  #: SpeakerVerificationFailed, DataNotEnough …
    display_name: str | None = None
    description: str | None = None
    created: str | None = None
    last_action: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """``GET /operations/{id}``: only an id and a status (reference §2.3)."""

    id: str
    status: str


@dataclass(frozen=True, slots=True)
class Created(Generic[R]):
    """A create's answer: the resource as created and its long-running operation."""

    resource: R
    operation_id: str | None
    operation_location: str | None


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of a list; ``next_link`` is the absolute URL of the next, if any."""

    items: tuple[R, ...]
    next_link: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlobSource:
    """``audios`` of a JSON personal-voice create: blobs of a container, selected by prefix.

    ``container_url`` carries the SAS (read + list) the service needs, so ``repr`` redacts it.
    """

    container_url: str = field(repr=False)
    prefix: str
    extensions: tuple[str, ...] = (".wav",)

    def __repr__(self) -> str:
        return (
            f"BlobSource(container_url={redact_url(self.container_url)!r}, "
            f"prefix={self.prefix!r}, extensions={self.extensions!r})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "containerUrl": self.container_url,
            "prefix": self.prefix,
            "extensions": list(self.extensions),
        }


@dataclass(frozen=True, slots=True)
class AudioFile:
    """One file part of a multipart create: the name the service sees and where it is."""

    filename: str
    path: Path
    content_type: str = "audio/wav"


# --------------------------------------------------------------------------- multipart


def _boundary(seed: str) -> str:
    # Deterministic so a retry is byte-identical (Operation-Id replay compares the request);
    # 32 hex digits of a hash never occur by chance inside the audio.
    return "voiceonboarding" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def _disposition_value(text: str) -> str:
    # Form names and file names are ours (ASCII); quote marks and line breaks would break
    # the header, so refuse them rather than escape them differently from the server.
    if any(c in text for c in '"\r\n'):
        raise ValueError(f"unsafe multipart name {text!r}")
    return text


def write_multipart(
    target: BinaryIO,
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, AudioFile]],
    boundary: str,
) -> None:
    """Write a ``multipart/form-data`` body to ``target``: text fields (UTF-8), then the file
    parts copied from disk in 64 KiB pieces (never a whole file in memory). Blocking."""
    dash = f"--{boundary}\r\n".encode()
    for name, value in fields:
        target.write(dash)
        target.write(
            f'Content-Disposition: form-data; name="{_disposition_value(name)}"\r\n'.encode()
        )
        target.write(b"Content-Type: text/plain; charset=utf-8\r\n\r\n")
        target.write(value.encode("utf-8"))
        target.write(b"\r\n")
    for name, audio in files:
        target.write(dash)
        target.write(
            (
                f'Content-Disposition: form-data; name="{_disposition_value(name)}"; '
                f'filename="{_disposition_value(audio.filename)}"\r\n'
                f"Content-Type: {audio.content_type}\r\n\r\n"
            ).encode()
        )
        with audio.path.open("rb") as source:
            shutil.copyfileobj(source, target, _COPY_CHUNK)
        target.write(b"\r\n")
    target.write(f"--{boundary}--\r\n".encode())


def _spool_multipart(
    folder: Path | None,
    fields: Sequence[tuple[str, str]],
    files: Sequence[tuple[str, AudioFile]],
    boundary: str,
) -> Path:
    """The body written to a temporary file (the caller deletes it). Blocking."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="azure-", suffix=".multipart", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            write_multipart(out, fields, files, boundary)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- the client


class AzureClient:
    """Typed calls to the Custom Voice API over a shared ``HttpTransport``."""

    def __init__(
        self,
        http: HttpTransport,
        *,
        base_url: str,
        key: str,
        config: JobConfig | None = None,
        api_version: str | None = None,
        requests: int | None = None,
        window_s: float | None = None,
        retry: RetryPolicies | None = None,
        throttle_pause_s: float = 1.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        """
        Args:
            http: the run's HTTP layer (``HttpClient``).
            base_url: the Speech resource endpoint, e.g.
                ``https://eastus.api.cognitive.microsoft.com``, or the emulator's loopback URL.
            key: the Speech resource key (``AZURE_SPEECH_KEY``).
            config: the job; gives ``provider.api_version`` and ``limits.azure_requests`` per
                ``limits.azure_window_s``. The explicit arguments below override it.
            throttle_pause_s: how long every request is held back after a 429 without
                ``Retry-After`` (the header is undocumented for this API).
            page_size: ``maxpagesize`` of list calls.
        """
        if not key:
            raise ValueError("an Azure Speech key is required")
        check_url(base_url)
        version = api_version or (config.provider.api_version if config else DEFAULT_API_VERSION)
        if version not in API_VERSIONS:
            raise ValueError(f"unsupported api-version {version!r}; one of {sorted(API_VERSIONS)}")
        limits = config.limits if config else None
        self._http = http
        self._base = base_url.rstrip("/")
        self._key = key
        self.api_version = version
        self.window = RequestWindow(
            requests or (limits.azure_requests if limits else 50),
            window_s or (limits.azure_window_s if limits else 10.0),
        )
        self.retry = retry or RetryPolicies()
        self._throttle_pause_s = throttle_pause_s
        self._page_size = page_size
        # Multipart bodies are spooled beside the run's other scratch files when we know
        # where that is; else in the system's temporary folder.
        self._spool = config.state_dir / "spool" if config else None
        self.throttled = 0  #: 429 answers seen (for logs and tests)
        self.requests = 0  #: requests sent, retries included

    # -- plumbing --------------------------------------------------------------------------

    def url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        """The absolute URL of ``/customvoice/{path}`` with ``api-version`` and ``query``."""
        items = [*query, ("api-version", self.api_version)]
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in items)
        return f"{self._base}/{_PREFIX}/{path}?{qs}"

    def _same_origin(self, url: str) -> str:
        """``url`` (a nextLink) if it points at our endpoint; the key must go nowhere else."""
        base, link = urlsplit(self._base), urlsplit(url)
        if (link.scheme, link.netloc.lower()) != (base.scheme, base.netloc.lower()):
            raise ProviderProtocolError(
                f"nextLink points at another host ({redact_url(url)}); not following it"
            )
        if "api-version=" not in link.query:
            query = f"{link.query}&api-version={quote(self.api_version)}".lstrip("&")
            return urlunsplit((link.scheme, link.netloc, link.path, query, ""))
        return url

    async def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        policy: RetryPolicy,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        body_file: Path | None = None,
    ) -> HttpResponse:
        sent = {"Ocp-Apim-Subscription-Key": self._key, **(headers or {})}

        async def send() -> HttpResponse:
            # idempotent=True for creates too: an identical repeat of an Operation-Id is
            # replayed by the service, never executed twice.
            if body_file is None:
                return await self._http.request(
                    method,
                    url,
                    headers=sent,
                    body=body,
                    idempotent=True,
                    throttle_codes=THROTTLE_CODES,
                )
            # A fresh handle per attempt: a consumed file payload cannot be replayed.
            handle = await anyio.to_thread.run_sync(body_file.open, "rb")
            try:
                # HttpTransport.request is typed for bytes, but HttpClient hands the body to
                # aiohttp unchanged, and aiohttp streams a file object in 64 KiB reads (as
                # put_file relies on). Bytes would mean whole multi-MB bodies in memory and
                # aiohttp's "large body" warning. Drop this cast once request() takes
                # ``bytes | BinaryIO`` (asked of http.py's owner).
                return await self._http.request(
                    method,
                    url,
                    headers=sent,
                    body=handle,
                    idempotent=True,
                    throttle_codes=THROTTLE_CODES,
                )
            finally:
                handle.close()

        async def attempt() -> HttpResponse:
            # Every attempt is a request to the service, so each one takes its own slot.
            async with self.window.slot():
                self.requests += 1
                try:
                    return await send()
                except Throttled as exc:
                    self.throttled += 1
                    pause = exc.retry_after
                    self.window.pause(self._throttle_pause_s if pause is None else pause)
                    raise

        return await retry_call(policy, attempt, operation=f"azure.{operation}")

    async def _json(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        policy: RetryPolicy,
        query: Sequence[tuple[str, str]] = (),
        payload: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Mapping[str, object], HttpResponse]:
        sent = dict(headers or {})
        body = None
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
            sent["Content-Type"] = _JSON
        response = await self._call(
            operation, method, self.url(path, query), policy=policy, headers=sent, body=body
        )
        return _obj(response.json(), operation), response

    async def _form(
        self,
        operation: str,
        path: str,
        *,
        operation_id: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, AudioFile]],
    ) -> tuple[Mapping[str, object], HttpResponse]:
        boundary = _boundary(operation_id)
        body = await anyio.to_thread.run_sync(
            _spool_multipart, self._spool, fields, files, boundary
        )
        try:
            size = (await anyio.to_thread.run_sync(body.stat)).st_size
            headers = {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size),
                "Operation-Id": operation_id,
            }
            response = await self._call(
                operation,
                "POST",
                self.url(path),
                policy=self.retry.create,
                headers=headers,
                body_file=body,
            )
        finally:
            await anyio.to_thread.run_sync(lambda: body.unlink(missing_ok=True))
        return _obj(response.json(), operation), response

    # -- projects --------------------------------------------------------------------------

    async def put_project(
        self,
        project_id: str,
        *,
        kind: str = "PersonalVoice",
        display_name: str | None = None,
        description: str | None = None,
    ) -> Project:
        """Create the project, or confirm it exists (PUT is create-or-update; reference §11.5)."""
        payload: dict[str, object] = {"kind": kind}
        if display_name is not None:
            payload["displayName"] = display_name
        if description is not None:
            payload["description"] = description
        obj, _ = await self._json(
            "put_project",
            "PUT",
            f"projects/{_seg(project_id)}",
            policy=self.retry.create,
            payload=payload,
        )
        return _project(obj)

    # -- consents --------------------------------------------------------------------------

    async def create_consent(
        self,
        consent_id: str,
        *,
        operation_id: str,
        project_id: str,
        voice_talent_name: str,
        company_name: str,
        locale: str,
        audio: AudioFile,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Created[Consent]:
        """``POST /consents/{id}`` multipart with the consent recording (reference §5.3)."""
        fields = [
            ("projectId", project_id),
            ("voiceTalentName", voice_talent_name),
            ("companyName", company_name),
            ("locale", locale),
        ]
        fields += _optional_fields(display_name, description)
        obj, response = await self._form(
            "create_consent",
            f"consents/{_seg(consent_id)}",
            operation_id=operation_id,
            fields=fields,
            files=[("audiodata", audio)],
        )
        return Created(_created(obj, "consent", _consent), *_operation_headers(response))

    async def get_consent(self, consent_id: str) -> Consent:
        """``GET /consents/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_consent", "GET", f"consents/{_seg(consent_id)}", policy=self.retry.read
        )
        return _consent(obj)

    async def find_consent(self, consent_id: str) -> Consent | None:
        """The consent, or None when it does not exist."""
        try:
            return await self.get_consent(consent_id)
        except NotFound:
            return None

    async def list_consents(
        self,
        project_id: str | None = None,
        *,
        created_since: datetime | None = None,
        next_link: str | None = None,
    ) -> Page[Consent]:
        """One page of consents (of ``project_id``, created at or after ``created_since``), or
        the page at ``next_link``."""
        return await self._list_page("consents", _consent, project_id, created_since, next_link)

    async def iter_consents(
        self, project_id: str, *, created_since: datetime | None = None
    ) -> AsyncIterator[Consent]:
        """Every consent of the project (created at or after ``created_since``), page by page."""
        async for consent in self._iterate("consents", _consent, project_id, created_since):
            yield consent

    # -- personal voices -------------------------------------------------------------------

    async def create_personal_voice(
        self,
        voice_id: str,
        *,
        operation_id: str,
        project_id: str,
        consent_id: str,
        audio: Sequence[AudioFile],
        display_name: str | None = None,
        description: str | None = None,
    ) -> Created[PersonalVoice]:
        """``POST /personalvoices/{id}`` multipart, one ``audiodata`` part per file (§6.3)."""
        if not audio:
            raise ValueError("a personal voice needs at least one audio file")
        fields = [("projectId", project_id), ("consentId", consent_id)]
        fields += _optional_fields(display_name, description)
        obj, response = await self._form(
            "create_personal_voice",
            f"personalvoices/{_seg(voice_id)}",
            operation_id=operation_id,
            fields=fields,
            files=[("audiodata", a) for a in audio],
        )
        return Created(_created(obj, "personal voice", _voice), *_operation_headers(response))

    async def create_personal_voice_from_blobs(
        self,
        voice_id: str,
        *,
        operation_id: str,
        project_id: str,
        consent_id: str,
        source: BlobSource,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Created[PersonalVoice]:
        """``PUT /personalvoices/{id}`` with ``audios`` naming blobs (§6.4)."""
        payload: dict[str, object] = {
            "projectId": project_id,
            "consentId": consent_id,
            "audios": source.to_json(),
        }
        if display_name is not None:
            payload["displayName"] = display_name
        if description is not None:
            payload["description"] = description
        obj, response = await self._json(
            "create_personal_voice",
            "PUT",
            f"personalvoices/{_seg(voice_id)}",
            policy=self.retry.create,
            payload=payload,
            headers={"Operation-Id": operation_id},
        )
        return Created(_created(obj, "personal voice", _voice), *_operation_headers(response))

    async def get_personal_voice(self, voice_id: str) -> PersonalVoice:
        """``GET /personalvoices/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_personal_voice", "GET", f"personalvoices/{_seg(voice_id)}", policy=self.retry.read
        )
        return _voice(obj)

    async def find_personal_voice(self, voice_id: str) -> PersonalVoice | None:
        """The personal voice, or None when it does not exist."""
        try:
            return await self.get_personal_voice(voice_id)
        except NotFound:
            return None

    async def list_personal_voices(
        self,
        project_id: str | None = None,
        *,
        created_since: datetime | None = None,
        next_link: str | None = None,
    ) -> Page[PersonalVoice]:
        """One page of personal voices (of ``project_id``, created at or after
        ``created_since``), or the page at ``next_link``."""
        return await self._list_page("personalvoices", _voice, project_id, created_since, next_link)

    async def iter_personal_voices(
        self, project_id: str, *, created_since: datetime | None = None
    ) -> AsyncIterator[PersonalVoice]:
        """Every personal voice of the project, following ``nextLink`` page by page."""
        async for voice in self._iterate("personalvoices", _voice, project_id, created_since):
            yield voice

    async def _list_page(
        self,
        collection: str,
        parse: Callable[[Mapping[str, object]], R],
        project_id: str | None,
        created_since: datetime | None,
        next_link: str | None,
    ) -> Page[R]:
        if next_link is not None:
            url = self._same_origin(next_link)
        else:
            query = [("maxpagesize", str(self._page_size))]
            clauses = []
            if project_id is not None:
                clauses.append(f"projectId eq '{project_id}'")
            if created_since is not None:
                clauses.append(f"createdDateTime ge {format_datetime(created_since)}")
            if clauses:
                query.append(("filter", " and ".join(clauses)))
            url = self.url(collection, query)
        response = await self._call(f"list_{collection}", "GET", url, policy=self.retry.read)
        obj = _obj(response.json(), f"{collection} list")
        values = obj.get("value")
        if not isinstance(values, list):
            raise ProviderProtocolError(f"{collection} list: 'value' is missing or not an array")
        items = tuple(parse(_obj(v, f"{collection} item")) for v in values)
        return Page(items, _opt_str(obj, "nextLink"))

    async def _iterate(
        self,
        collection: str,
        parse: Callable[[Mapping[str, object]], _Identified],
        project_id: str | None,
        created_since: datetime | None,
    ) -> AsyncIterator[_Identified]:
        page = await self._list_page(collection, parse, project_id, created_since, None)
        seen: set[str] = set()
        while True:
            for item in page.items:
                if item.id not in seen:  # a create between pages can shift one into the next
                    seen.add(item.id)
                    yield item
            if page.next_link is None:
                return
            page = await self._list_page(collection, parse, None, None, page.next_link)

    # -- operations ------------------------------------------------------------------------

    async def get_operation(self, operation_id: str) -> Operation:
        """``GET /operations/{id}``: the status of a create (reference §2.3)."""
        obj, _ = await self._json(
            "get_operation", "GET", f"operations/{_seg(operation_id)}", policy=self.retry.read
        )
        return Operation(id=_str(obj, "id"), status=_str(obj, "status"))


# --------------------------------------------------------------------------- blob container


class BlobContainer:
    """Uploads into the customer's Azure Blob container through its SAS URL (blob-SAS mode).

    Not the Speech API, so not in its request window; the caller bounds concurrency. Files up
    to ``single_put_max`` bytes go in one Put Blob streamed from disk; larger ones in
    ``block_size`` blocks (Put Block, then Put Block List), so a reset costs one block, not the
    whole file. A block is sent from memory, hence 1 MiB by default: aiohttp warns about (and
    blocks the loop on) larger in-memory bodies.
    """

    def __init__(
        self,
        http: HttpTransport,
        container_sas_url: str,
        *,
        retry: RetryPolicy = UPLOAD_RETRY,
        single_put_max: int = 4 * 1024 * 1024,
        block_size: int = 1024 * 1024,
    ) -> None:
        if not 0 < block_size <= 1024 * 1024:
            raise ValueError("block_size must be within 1 byte .. 1 MiB")
        check_url(container_sas_url)
        parts = urlsplit(container_sas_url)
        if not parts.query:
            raise ValueError("the container URL carries no SAS query")
        self._parts = parts
        self._retry = retry
        self._single_put_max = single_put_max
        self._block_size = block_size
        self._http = http
        self.container_url = container_sas_url

    def __repr__(self) -> str:
        return f"BlobContainer({redact_url(self.container_url)!r})"

    def blob_url(self, name: str, extra_query: str = "") -> str:
        """The URL of blob ``name``, carrying the container's SAS (and ``extra_query``)."""
        p = self._parts
        path = p.path.rstrip("/") + "/" + quote(name, safe="/")
        query = p.query + (f"&{extra_query}" if extra_query else "")
        return urlunsplit((p.scheme, p.netloc, path, query, ""))

    async def put_file(self, name: str, path: Path, *, content_type: str = "audio/wav") -> int:
        """Upload ``path`` as block blob ``name`` (replacing it); returns the byte count."""
        size = (await anyio.to_thread.run_sync(path.stat)).st_size
        if size <= self._single_put_max:
            await self._http.put_file(
                self.blob_url(name),
                path,
                content_type=content_type,
                extra_headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": BLOB_API_VERSION},
                retry=self._retry,
            )
            return size
        ids: list[str] = []
        for index, offset in enumerate(range(0, size, self._block_size)):
            # Block ids must all have the same length within a blob; base64 of a fixed width.
            block_id = _block_id(index)
            chunk = await anyio.to_thread.run_sync(_read_slice, path, offset, self._block_size)
            url = self.blob_url(name, f"comp=block&blockid={quote(block_id, safe='')}")
            await self._put(url, chunk, "application/octet-stream")
            ids.append(block_id)
        listing = "".join(f"<Latest>{i}</Latest>" for i in ids)
        xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{listing}</BlockList>'
        await self._put(
            self.blob_url(name, "comp=blocklist"),
            xml.encode(),
            "application/xml",
            {"x-ms-blob-content-type": content_type},
        )
        return size

    async def _put(
        self,
        url: str,
        body: bytes,
        content_type: str,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        headers = {"Content-Type": content_type, "x-ms-version": BLOB_API_VERSION, **(extra or {})}

        async def attempt() -> None:
            await self._http.request("PUT", url, headers=headers, body=body)

        await retry_call(self._retry, attempt, operation="azure.put_block")


def _block_id(index: int) -> str:
    return base64.b64encode(f"block-{index:08d}".encode()).decode()


def _read_slice(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(size)


# --------------------------------------------------------------------------- edge parsing
# Small typed readers: the only place JSON values become Python types. Messages name the
# field, never its value.


def format_datetime(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the API writes timestamps (a bare literal
    in a ``filter``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str | None) -> datetime | None:
    """A timestamp of the API as an aware datetime; None when absent or unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)  # 3.11 reads a trailing "Z"
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _seg(value: str) -> str:
    """One path segment, percent-encoded (an id can never add a path level)."""
    return quote(value, safe="")


def _optional_fields(display_name: str | None, description: str | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if display_name is not None:
        out.append(("displayName", display_name))
    if description is not None:
        out.append(("description", description))
    return out


def _operation_headers(response: HttpResponse) -> tuple[str | None, str | None]:
    return response.headers.get("Operation-Id"), response.headers.get("Operation-Location")


def _created(obj: Mapping[str, object], what: str, parse: Callable[[Mapping[str, object]], R]) -> R:
    # A 201 we cannot read may still have created the resource: the caller looks it up by id
    # (which it chose) on the next attempt, so this is a retryable condition, not a crash.
    try:
        return parse(obj)
    except ProviderProtocolError as exc:
        raise ProviderUnavailable(
            f"the {what} create answered with an unreadable body: {exc}"
        ) from exc


def _project(obj: Mapping[str, object]) -> Project:
    return Project(
        id=_str(obj, "id"),
        kind=_str(obj, "kind"),
        display_name=_opt_str(obj, "displayName"),
        description=_opt_str(obj, "description"),
        locale=_opt_str(obj, "locale"),
        created=_opt_str(obj, "createdDateTime"),
    )


def _failure_reason(obj: Mapping[str, object]) -> str | None:
    props = obj.get("properties")
    if props is None:
        return None
    reason = _opt_str(_obj(props, "properties"), "failureReason")
    # The preview API spells "no failure" as the enum value "None" (reference §5.6).
    return None if reason == "None" else reason


def _consent(obj: Mapping[str, object]) -> Consent:
    return Consent(
        id=_str(obj, "id"),
        project_id=_str(obj, "projectId"),
        voice_talent_name=_str(obj, "voiceTalentName"),
        company_name=_str(obj, "companyName"),
        locale=_str(obj, "locale"),
        status=_str(obj, "status"),
        failure_reason=_failure_reason(obj),
        display_name=_opt_str(obj, "displayName"),
        description=_opt_str(obj, "description"),
        created=_opt_str(obj, "createdDateTime"),
        last_action=_opt_str(obj, "lastActionDateTime"),
    )


def _voice(obj: Mapping[str, object]) -> PersonalVoice:
    return PersonalVoice(
        id=_str(obj, "id"),
        project_id=_str(obj, "projectId"),
        consent_id=_str(obj, "consentId"),
        speaker_profile_id=_opt_str(obj, "speakerProfileId"),
        status=_str(obj, "status"),
        failure_reason=_failure_reason(obj),
        display_name=_opt_str(obj, "displayName"),
        description=_opt_str(obj, "description"),
        created=_opt_str(obj, "createdDateTime"),
        last_action=_opt_str(obj, "lastActionDateTime"),
    )


def _obj(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ProviderProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderProtocolError(f"{key!r} is missing or not a non-empty string")
    return value


def _opt_str(obj: Mapping[str, object], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProviderProtocolError(f"{key!r} is not a string")
    return value
