"""One control-API call, the way every provider client makes it: the shared retry scaffolding.

Per attempt: a slot in the client's rate limit (each attempt is a request the quota counts),
fresh headers (Huawei signs each attempt, so a late retry still has a fresh date), a fresh body
(a file body is reopened: a consumed handle cannot be replayed), one request through the
transport. Around the attempts: the call kind's :class:`RetryPolicy` (:func:`retry_call`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, overload

import anyio
import anyio.to_thread

from pipeline.errors import NotFound, Throttled
from pipeline.providers.http.client import HttpResponse, HttpTransport
from pipeline.providers.http.limits import RateLimit, stacked
from pipeline.providers.http.retry import RetryPolicies, retry_call
from pipeline.providers.http.urls import check_url

#: Builds one attempt's headers (called once per attempt, after its rate-limit slot).
Headers = Callable[[], Mapping[str, str]]
#: Told of every throttled answer before its retry waits: (quota kind, the error).
OnThrottled = Callable[[str, Throttled], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """What the shared scaffolding knows of one provider's control API."""

    name: str  #: the prefix of retry log events' ``operation`` (``huawei``, ``azure``)
    throttle_codes: frozenset[str]  #: error codes meaning "throttled" whatever the status
    retry: RetryPolicies  #: the default policy of each call kind


@dataclass(frozen=True, slots=True)
class Connection:
    """How a provider client reaches its service: what every client takes first, whichever
    the provider (its own credentials and limits come beside it)."""

    http: HttpTransport  #: the run's HTTP layer (``HttpClient``, or a test double)
    #: the service's endpoint: https, or http to a loopback address (the emulator); anything
    #: else raises ProviderProtocolError when a client is built on it
    base_url: str
    #: the caller's policies per call kind; kinds it leaves out keep the service's defaults
    retry: RetryPolicies | None = None
    #: a limit every request takes a slot in as well, after the client's own (the scale-out
    #: workers' windows in the shared database)
    shared: RateLimit | None = None


class ControlApi:
    """A provider's control API over the run's transport, behind the client's rate limit."""

    def __init__(
        self,
        conn: Connection,
        service: Service,
        *,
        limit: RateLimit,
        on_throttled: OnThrottled | None = None,
    ) -> None:
        """
        Args:
            conn: the transport, endpoint, retry policies and shared limit.
            limit: the client's own rate limit, taken first.
            on_throttled: called for each throttled answer (Azure pauses its window).
        """
        check_url(conn.base_url)
        self.http = conn.http
        self.base_url = conn.base_url.rstrip("/")
        self.limit = limit if conn.shared is None else stacked(limit, conn.shared)
        self.retry = (conn.retry or RetryPolicies()).over(service.retry)
        self._service = service.name
        self._throttle_codes = service.throttle_codes
        self._on_throttled = on_throttled
        self.requests = 0  #: requests sent, retries included
        self.throttled = 0  #: throttled answers seen (for logs and tests)

    @overload
    async def call(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        operation: str,
        policy: str,
        headers: Headers,
        body: bytes | Path | None = None,
        idempotent: bool = True,
        absent_on_retry_is_success: Literal[False] = False,
    ) -> HttpResponse: ...

    @overload
    async def call(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        operation: str,
        policy: str,
        headers: Headers,
        body: bytes | Path | None = None,
        idempotent: bool = True,
        absent_on_retry_is_success: bool,
    ) -> HttpResponse | None: ...

    async def call(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        operation: str,
        policy: str,
        headers: Headers,
        body: bytes | Path | None = None,
        idempotent: bool = True,
        absent_on_retry_is_success: bool = False,
    ) -> HttpResponse | None:
        """Send ``method url`` until it succeeds or ``policy`` gives up; its 2xx response.

        Args:
            kind: the rate-limit quota the request counts against.
            policy: the call kind whose retry policy applies.
            operation: names the call in retry logs (``<service>.<operation>``).
            body: bytes, or a file streamed from disk (reopened per attempt).
            idempotent: False for a create without an idempotency key (see ``HttpClient``).
            absent_on_retry_is_success: a NotFound on a retry means the first attempt did
                it (a delete whose answer was lost): None instead of an error.
        """
        attempts = 0

        async def attempt() -> HttpResponse | None:
            nonlocal attempts
            attempts += 1
            async with self.limit.slot(kind):
                self.requests += 1
                try:
                    return await self._send(method, url, headers(), body, idempotent)
                except Throttled as exc:
                    self.throttled += 1
                    if self._on_throttled is not None:
                        self._on_throttled(kind, exc)
                    raise
                except NotFound:
                    if absent_on_retry_is_success and attempts > 1:
                        return None
                    raise

        return await retry_call(
            self.retry[policy], attempt, operation=f"{self._service}.{operation}"
        )

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | BinaryIO | Path | None,
        idempotent: bool,
    ) -> HttpResponse:
        if isinstance(body, Path):
            # A fresh handle per attempt; aiohttp streams a file object in 64 KiB reads, so a
            # multi-MB body never sits in memory whole.
            handle = await anyio.to_thread.run_sync(body.open, "rb")
            try:
                return await self._send(method, url, headers, handle, idempotent)
            finally:
                handle.close()
        return await self.http.request(
            method,
            url,
            headers=headers,
            body=body,
            idempotent=idempotent,
            throttle_codes=self._throttle_codes,
        )
