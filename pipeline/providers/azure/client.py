"""A typed client for Azure AI Speech personal voice (Custom Voice REST, reference §4–§6).

Each method is one REST call under ``{endpoint}/customvoice``: it takes a slot in the key's
request window, sends through the shared ``HttpClient`` with ``Ocp-Apim-Subscription-Key`` and
``api-version``, retries per its call kind (``ControlApi``), and parses the answer at the edge
into frozen records (:mod:`.records`; anything unexpected is a ``ProviderProtocolError``). Stage
logic (ids, waiting, adopting) lives in :mod:`.provider`.

Idempotency: consents and personal voices are created under caller-chosen ids with a
caller-chosen ``Operation-Id``. Azure replays an identical request that repeats an
``Operation-Id`` and refuses a different one (reference §2.1), so a create whose answer was lost
is simply sent again, byte for byte: creates are retried like reads here. Multipart bodies
(:mod:`.multipart`) use a boundary derived from the ``Operation-Id`` so every attempt, in this
run or the next, sends the same bytes; they are spooled to a file and streamed from it.

Rate limit: 50 requests per 10 s per Speech resource (reference §8), one quota (``QUOTA``) for
every request. The window counts a request from the moment it is started until ``window``
seconds after its answer arrived; that bound holds at the server whatever the network or
connection-pool delays (``RateLimiter``), so a lone client never meets the service's limiter.
Others sharing the key can still cause 429s: they are retried (``Retry-After`` when given,
backoff when not) and pause the whole window.

Error bodies ``{"error": {"code", "message", "details"}}`` are read by the HTTP layer: the Azure
``code`` lands in ``ProviderError.code`` and the message in the exception text; ``TooManyRequests``
is treated as throttling whatever the status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final, Literal, TypeVar
from urllib.parse import quote

from pipeline.config import JobConfig
from pipeline.errors import NotFound, Throttled
from pipeline.providers.azure import multipart, pages, records
from pipeline.providers.azure.blob import UPLOAD_RETRY
from pipeline.providers.azure.records import (
    AudioFile,
    BlobSource,
    Consent,
    Created,
    Operation,
    Page,
    PersonalVoice,
    Project,
)
from pipeline.providers.http import (
    Connection,
    ControlApi,
    HttpResponse,
    KindLimits,
    RateLimiter,
    RetryPolicies,
    RetryPolicy,
    Service,
)
from pipeline.providers.http.fields import JsonObject, json_object, string
from pipeline.providers.http.urls import segment as _seg

DEFAULT_API_VERSION: Final = "2024-02-01-preview"
#: Versions whose routes and fields this client knows (reference §1.2, §10).
API_VERSIONS: Final = frozenset({"2023-12-01-preview", DEFAULT_API_VERSION, "2026-01-01"})
#: Azure ``ErrorCode`` meaning "throttled", whatever the HTTP status says.
THROTTLE_CODES: Final = frozenset({"TooManyRequests"})
#: The rate-limit kind of every request: a Speech resource has one quota for all of them.
QUOTA: Final = "requests"
_PREFIX: Final = "customvoice"
_JSON: Final = "application/json"
#: Azure's own cap on list pages is undocumented; 100 is its default (reference §1.6).
PAGE_SIZE: Final = 100

#: The retry policy of each call kind. ``create`` (PUT project, POST/PUT consent and personal
#: voice) is safe to repeat with the same Operation-Id; its attempts include 429s, hence
#: generous, and time is bounded per attempt by waits. ``read``: GETs and lists. ``upload``:
#: blob PUTs to the customer's container.
AZURE_RETRY: Final = RetryPolicies(
    create=RetryPolicy(attempts=10, max_elapsed_s=900.0),
    read=RetryPolicy(attempts=10, max_elapsed_s=900.0),
    upload=UPLOAD_RETRY,
)
RetryKind = Literal["create", "read", "upload"]
#: The Custom Voice API, as the shared scaffolding sees it.
AZURE: Final = Service(name="azure", throttle_codes=THROTTLE_CODES, retry=AZURE_RETRY)

_Identified = TypeVar("_Identified", Consent, PersonalVoice)
R = TypeVar("R")


class AzureClient:
    """Typed calls to the Custom Voice API over a shared ``HttpTransport``."""

    def __init__(
        self,
        conn: Connection,
        *,
        key: str,
        config: JobConfig | None = None,
        api_version: str | None = None,
        requests: int | None = None,
        window_s: float | None = None,
        throttle_pause_s: float = 1.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        """
        Args:
            conn: the transport and the Speech resource endpoint, e.g.
                ``https://eastus.api.cognitive.microsoft.com`` (or the emulator's loopback
                URL); its ``retry`` changes the policies of ``create``, ``read``, ``upload``.
            key: the Speech resource key (``AZURE_SPEECH_KEY``).
            config: the job; gives ``provider.api_version`` and ``limits.azure_requests`` per
                ``limits.azure_window_s``. The explicit arguments below override it.
            throttle_pause_s: how long every request is held back after a 429 without
                ``Retry-After`` (the header is undocumented for this API).
            page_size: ``maxpagesize`` of list calls.
        """
        if not key:
            raise ValueError("an Azure Speech key is required")
        limits = config.limits if config else None
        self.window = RateLimiter(
            requests or (limits.azure_requests if limits else 50),
            window_s or (limits.azure_window_s if limits else 10.0),
        )
        self._api = ControlApi(
            conn, AZURE, limit=KindLimits({QUOTA: self.window}), on_throttled=self._pause
        )
        version = api_version or (config.provider.api_version if config else DEFAULT_API_VERSION)
        if version not in API_VERSIONS:
            raise ValueError(f"unsupported api-version {version!r}; one of {sorted(API_VERSIONS)}")
        self._key = key
        self.api_version = version
        self.retry = self._api.retry
        self._throttle_pause_s = throttle_pause_s
        self._page_size = page_size
        # Multipart bodies are spooled beside the run's other scratch files when we know
        # where that is; else in the system's temporary folder.
        self._spool = config.state_dir / "spool" if config else None

    @property
    def throttled(self) -> int:
        """429 answers seen (for logs and tests)."""
        return self._api.throttled

    @property
    def requests(self) -> int:
        """Requests sent, retries included."""
        return self._api.requests

    def _pause(self, kind: str, exc: Throttled) -> None:
        pause = exc.retry_after
        self.window.pause(self._throttle_pause_s if pause is None else pause)

    # -- plumbing --------------------------------------------------------------------------

    def url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        """The absolute URL of ``/customvoice/{path}`` with ``api-version`` and ``query``."""
        items = [*query, ("api-version", self.api_version)]
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in items)
        return f"{self._api.base_url}/{_PREFIX}/{path}?{qs}"

    async def _call(
        self,
        operation: str,
        method: str,
        url: str,
        *,
        policy: RetryKind,
        headers: Mapping[str, str] | None = None,
        body: bytes | Path | None = None,
    ) -> HttpResponse:
        sent = {"Ocp-Apim-Subscription-Key": self._key, **(headers or {})}
        # idempotent=True for creates too: an identical repeat of an Operation-Id is
        # replayed by the service, never executed twice.
        return await self._api.call(
            QUOTA,
            method,
            url,
            operation=operation,
            policy=policy,
            headers=lambda: sent,
            body=body,
            idempotent=True,
        )

    async def _json(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        policy: RetryKind,
        query: Sequence[tuple[str, str]] = (),
        payload: JsonObject | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[JsonObject, HttpResponse]:
        sent = dict(headers or {})
        body = None
        if payload is not None:
            body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
            sent["Content-Type"] = _JSON
        response = await self._call(
            operation, method, self.url(path, query), policy=policy, headers=sent, body=body
        )
        return json_object(response.json(), operation), response

    async def _form(
        self,
        operation: str,
        path: str,
        *,
        operation_id: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, AudioFile]],
    ) -> tuple[JsonObject, HttpResponse]:
        async with multipart.spooled(self._spool, fields, files, operation_id) as (body, headers):
            response = await self._call(
                operation, "POST", self.url(path), policy="create", headers=headers, body=body
            )
        return json_object(response.json(), operation), response

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
        payload: dict[str, object] = {"kind": kind, **dict(_optional(display_name, description))}
        obj, _ = await self._json(
            "put_project",
            "PUT",
            f"projects/{_seg(project_id)}",
            policy="create",
            payload=payload,
        )
        return records.project(obj)

    async def get_project(self, project_id: str) -> Project:
        """``GET /projects/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_project", "GET", f"projects/{_seg(project_id)}", policy="read"
        )
        return records.project(obj)

    async def list_projects(self, *, next_link: str | None = None) -> Page[Project]:
        """One page of the Speech resource's projects, or the page at ``next_link``."""
        return await self._list_page("projects", records.project, None, None, next_link)

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
        fields += _optional(display_name, description)
        answer = await self._form(
            "create_consent",
            f"consents/{_seg(consent_id)}",
            operation_id=operation_id,
            fields=fields,
            files=[("audiodata", audio)],
        )
        return records.created(*answer, "consent", records.consent)

    async def get_consent(self, consent_id: str) -> Consent:
        """``GET /consents/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_consent", "GET", f"consents/{_seg(consent_id)}", policy="read"
        )
        return records.consent(obj)

    async def find_consent(self, consent_id: str) -> Consent | None:
        """The consent, or None when it does not exist."""
        return await _found(self.get_consent, consent_id)

    async def list_consents(
        self,
        project_id: str | None = None,
        *,
        created_since: datetime | None = None,
        next_link: str | None = None,
    ) -> Page[Consent]:
        """One page of consents (of ``project_id``, created at or after ``created_since``), or
        the page at ``next_link``."""
        return await self._list_page(
            "consents", records.consent, project_id, created_since, next_link
        )

    async def iter_consents(
        self, project_id: str, *, created_since: datetime | None = None
    ) -> AsyncIterator[Consent]:
        """Every consent of the project (created at or after ``created_since``), page by page."""
        async for consent in self._iterate("consents", records.consent, project_id, created_since):
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
        fields += _optional(display_name, description)
        answer = await self._form(
            "create_personal_voice",
            f"personalvoices/{_seg(voice_id)}",
            operation_id=operation_id,
            fields=fields,
            files=[("audiodata", a) for a in audio],
        )
        return records.created(*answer, "personal voice", records.personal_voice)

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
            **dict(_optional(display_name, description)),
        }
        answer = await self._json(
            "create_personal_voice",
            "PUT",
            f"personalvoices/{_seg(voice_id)}",
            policy="create",
            payload=payload,
            headers={"Operation-Id": operation_id},
        )
        return records.created(*answer, "personal voice", records.personal_voice)

    async def get_personal_voice(self, voice_id: str) -> PersonalVoice:
        """``GET /personalvoices/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_personal_voice", "GET", f"personalvoices/{_seg(voice_id)}", policy="read"
        )
        return records.personal_voice(obj)

    async def find_personal_voice(self, voice_id: str) -> PersonalVoice | None:
        """The personal voice, or None when it does not exist."""
        return await _found(self.get_personal_voice, voice_id)

    async def list_personal_voices(
        self,
        project_id: str | None = None,
        *,
        created_since: datetime | None = None,
        next_link: str | None = None,
    ) -> Page[PersonalVoice]:
        """One page of personal voices (of ``project_id``, created at or after
        ``created_since``), or the page at ``next_link``."""
        return await self._list_page(
            "personalvoices", records.personal_voice, project_id, created_since, next_link
        )

    async def iter_personal_voices(
        self, project_id: str, *, created_since: datetime | None = None
    ) -> AsyncIterator[PersonalVoice]:
        """Every personal voice of the project, following ``nextLink`` page by page."""
        async for voice in self._iterate(
            "personalvoices", records.personal_voice, project_id, created_since
        ):
            yield voice

    async def _list_page(
        self,
        collection: str,
        parse: Callable[[JsonObject], R],
        project_id: str | None,
        created_since: datetime | None,
        next_link: str | None,
    ) -> Page[R]:
        if next_link is not None:
            url = pages.same_origin(self._api.base_url, next_link, self.api_version)
        else:
            url = self.url(
                collection, pages.first_query(self._page_size, project_id, created_since)
            )
        response = await self._call(f"list_{collection}", "GET", url, policy="read")
        return pages.page(response.json(), collection, parse)

    def _iterate(
        self,
        collection: str,
        parse: Callable[[JsonObject], _Identified],
        project_id: str | None,
        created_since: datetime | None,
    ) -> AsyncIterator[_Identified]:
        async def fetch(next_link: str | None) -> Page[_Identified]:
            if next_link is None:
                return await self._list_page(collection, parse, project_id, created_since, None)
            return await self._list_page(collection, parse, None, None, next_link)

        return pages.iterate(fetch)

    # -- operations ------------------------------------------------------------------------

    async def get_operation(self, operation_id: str) -> Operation:
        """``GET /operations/{id}``: the status of a create (reference §2.3)."""
        obj, _ = await self._json(
            "get_operation", "GET", f"operations/{_seg(operation_id)}", policy="read"
        )
        return Operation(id=string(obj, "id"), status=string(obj, "status"))


def _optional(display_name: str | None, description: str | None) -> list[tuple[str, str]]:
    """The optional ``displayName`` and ``description`` fields that are given."""
    given = (("displayName", display_name), ("description", description))
    return [(name, value) for name, value in given if value is not None]


async def _found(get: Callable[[str], Awaitable[R]], resource_id: str) -> R | None:
    """``await get(resource_id)``, or None when it does not exist."""
    try:
        return await get(resource_id)
    except NotFound:
        return None
