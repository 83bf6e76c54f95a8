"""The gate every ``/customvoice`` call passes, in the order the real service's layers apply it.

Under ``azure-foreign-host-links`` a request that arrives on the foreign host the links name is
refused first (421, counted in ``misdirected`` and, with a key, ``keys_sent_elsewhere``): the
proof that a client followed a link it should have rebuilt. Then: subscription key (401,
gateway-style body) → sliding-window throttle per key (429 +
``Retry-After``) → added latency → injected faults (500/503/429) → ``api-version`` (400) → the
route. A 500 fault on a PUT/POST/DELETE is, on a seeded coin flip, given *after* the call took
effect (the "lost response" case that ``Operation-Id`` exists for). Half of the injected 429s
carry ``Retry-After: 1``, half carry none (the header is undocumented; clients must cope with
both); the throttle's own 429 always carries it. Throttling uses real time, not emulated time.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from aiohttp import web

from pipeline.emulator.azure.errors import AzureError, unauthorized
from pipeline.emulator.azure.records import GA_VERSION
from pipeline.emulator.azure.state import AzureState
from pipeline.emulator.throttle import SlidingWindowThrottle

API_VERSIONS: Final = frozenset(
    {"2023-04-01-preview", "2023-12-01-preview", "2024-02-01-preview", GA_VERSION}
)

#: A route's handler for one method: (request, api-version) → answer.
Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
Entry = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Gateway:
    """Authenticates, throttles, delays and faults calls, then dispatches them by method."""

    def __init__(self, state: AzureState) -> None:
        self._state = state
        self._ctx = state.ctx
        self._throttle = SlidingWindowThrottle(window_s=state.ctx.options.azure_window_s)

    def route(self, name: str, methods: Mapping[str, Handler]) -> Entry:
        """The aiohttp handler of one path; ``name`` labels it in ``by_route``."""

        async def entry(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, name, methods)

        return entry

    async def _serve(
        self, request: web.Request, name: str, methods: Mapping[str, Handler]
    ) -> web.StreamResponse:
        tally = self._state.tally
        tally.requests += 1
        tally.by_route[f"{request.method} {name}"] += 1
        options = self._ctx.options
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        if self._state.misdirected(request):
            # a client followed a link to a host it was never configured with
            tally.misdirected += 1
            tally.keys_sent_elsewhere += key is not None
            return AzureError(
                421, f"Misdirected request: {request.url.host} is not this client's endpoint."
            ).response()
        if key != options.credentials.azure_key:
            tally.unauthorized += 1
            return unauthorized()
        wait = self._throttle.admit(key, options.azure_requests_per_window)
        if wait is not None:
            tally.throttled += 1
            return too_many(max(1, math.ceil(wait)))
        if options.latency > 0:
            await asyncio.sleep(options.latency)
        fault = self._ctx.faults.control_fault()
        lose_response = False
        if fault is not None:
            mutating = request.method in ("PUT", "POST", "DELETE")
            if fault == 500 and mutating and self._ctx.faults.uniform(0.0, 1.0) < 0.5:
                lose_response = True
            else:
                tally.faults[fault] += 1
                return self._fault(fault)
        try:
            version = _api_version(request)
            handler = methods.get(request.method)
            if handler is None:
                if not methods:
                    raise AzureError(404, f"No route for {request.path}.", code="NotFound")
                raise AzureError(405, f"{request.method} is not allowed on {request.path}.")
            response = await handler(request, version)
        except AzureError as exc:
            response = exc.response()
        if lose_response:
            tally.faults[500] += 1
            tally.lost_responses += 1
            return self._fault(500)
        return response

    def _fault(self, status: int) -> web.Response:
        if status == 429:
            # the real header is undocumented: give it half the time so clients meet both
            with_header = self._ctx.faults.uniform(0.0, 1.0) < 0.5
            return too_many(1 if with_header else None)
        message = "Internal server error." if status == 500 else "The service is unavailable."
        return AzureError(status, message).response()


def too_many(retry_after: int | None) -> web.Response:
    """The 429 answer, with ``Retry-After`` when given."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return AzureError(
        429,
        "Too many requests. Personal voice allows 50 requests per 10 seconds.",
        headers=headers,
    ).response()


def _api_version(request: web.Request) -> str:
    version = request.query.get("api-version")
    if not version:
        raise AzureError(400, "The api-version query parameter is required.", code="BadRequest")
    if version not in API_VERSIONS:
        supported = ", ".join(sorted(API_VERSIONS))
        raise AzureError(
            400,
            f"The api-version '{version[:40]}' is not supported. Supported: {supported}.",
            code="BadRequest",
        )
    return version
