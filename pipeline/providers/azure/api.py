"""The plumbing under ``AzureClient``: endpoint, key, api-version, rate window, retries, links.

Each client method is one REST call under ``{endpoint}/customvoice``: it takes a slot in the key's
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

Links: every request carries the key, so absolute URLs the service hands out go through
:meth:`AzureApi.link` (:mod:`.links`): our endpoint or Azure's own hosts, else rebuilt on ours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote, urlsplit

import structlog

from pipeline.config import JobConfig
from pipeline.errors import Throttled
from pipeline.providers.azure import links, multipart
from pipeline.providers.azure.blob import UPLOAD_RETRY
from pipeline.providers.azure.records import AudioFile
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
from pipeline.providers.http.fields import JsonObject, json_object

log = structlog.get_logger("pipeline.providers.azure")

#: The GA version (reference §1.2); the previews stay accepted.
DEFAULT_API_VERSION: Final = "2026-01-01"
#: Versions whose routes and fields this client knows (reference §1.2, §10).
API_VERSIONS: Final = frozenset({"2023-12-01-preview", "2024-02-01-preview", DEFAULT_API_VERSION})
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


class AzureApi:
    """Requests to the Custom Voice API over a shared ``HttpTransport``; ``AzureClient``
    adds one typed method per route."""

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
        self._rebuilt_hosts: set[str] = set()

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

    def link(self, url: str, what: str) -> str:
        """Where to send a link the service handed out (``links.resolve``): never a host
        outside our endpoint and Azure's Cognitive Services domains, since the key goes along."""
        resolved = links.resolve(self._api.base_url, url, self.api_version, what)
        if resolved.how == "rebuilt":
            host = urlsplit(url).hostname or "?"
            if host not in self._rebuilt_hosts:  # once per host and run, not once per page
                self._rebuilt_hosts.add(host)
                log.info("azure.link_rebuilt", link=what, host=host, endpoint=self._api.base_url)
        return resolved.url

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
