"""The API gateway in front of every Huawei call, and its call log.

Every API call goes through the same steps, in this order: added latency; token or AK/SK
authentication (401 ``MSS.00000001``); per-tenant, per-API throttling (429 ``APIGW.0308``); an
injected fault (500/503/429, decided before the handler runs, so a fault never leaves a side
effect behind); the handler. Every answer carries ``X-Request-Id``. The one deliberate
exception to "no side effects on failure", a create whose answer is lost, is decided by the
create itself through ``Gateway.answer_lost``.
"""

from __future__ import annotations

import hmac
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import anyio
from aiohttp import web

from pipeline.emulator import signing
from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.huawei.errors import (
    API_NOT_FOUND,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    THROTTLED,
    UNAUTHORIZED,
    HuaweiError,
    throttled,
)
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.throttle import SlidingWindowThrottle

API_ROOT: Final = "/v1/{project_id}/voice-training-manage"
#: How many recent calls ``calls`` keeps (a standalone emulator may run for days).
CALL_LOG_SIZE: Final = 100_000

#: An API's handler: (request, tenant = project_id, raw body) → answer.
Handler = Callable[[web.Request, str, bytes], Awaitable[web.StreamResponse]]
Entry = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One API call as the gateway saw it."""

    kind: str  #: create, commit, show, list, delete, audit_result, …
    tenant: str
    status: int  #: HTTP status answered; 0 when the connection was dropped unanswered
    error_code: str | None
    real_time: float


class Gateway:
    """Authenticates, throttles and faults calls; logs and counts every one."""

    def __init__(self, ctx: EmulatorContext, settings: HuaweiSettings) -> None:
        self._ctx = ctx
        self._settings = settings
        self._throttle = SlidingWindowThrottle()
        self._rates = dict(ctx.options.huawei_rate_limits)
        self._calls: deque[CallRecord] = deque(maxlen=CALL_LOG_SIZE)
        self._counts: Counter[tuple[str, str]] = Counter()  #: (tenant, kind) → calls

    def endpoint(self, kind: str, handler: Handler) -> Entry:
        """The aiohttp handler of one API; ``kind`` names it in throttling and accounting."""

        async def serve(request: web.Request) -> web.StreamResponse:
            request_id = uuid.uuid4().hex
            tenant = request.match_info["project_id"]
            error_code: str | None = None
            try:
                if self._ctx.options.latency > 0:
                    await anyio.sleep(self._ctx.options.latency)
                body = await request.read()
                self._authenticate(request, body, tenant)
                self._admit(tenant, kind)
                self._inject_fault()
                response = await handler(request, tenant, body)
            except HuaweiError as error:
                error_code = error.code
                response = error.response()
            response.headers["X-Request-Id"] = request_id
            dropped = request.transport is None or request.transport.is_closing()
            self._counts[(tenant, kind)] += 1
            self._calls.append(
                CallRecord(
                    kind=kind,
                    tenant=tenant,
                    status=0 if dropped else response.status,
                    error_code=error_code,
                    real_time=self._ctx.clock.real_now(),
                )
            )
            return response

        return serve

    async def unknown_api(self, request: web.Request) -> web.StreamResponse:
        """What no API route matched: a known path with another method, or no such API."""
        resource = request.match_info.route.resource
        known = False
        for other in request.app.router.resources():
            if other is resource:
                continue
            _match, allowed = await other.resolve(request)
            known = known or bool(allowed)
        if known:
            error = HuaweiError(400, METHOD_NOT_ALLOWED, f"Method {request.method} not allowed")
        else:
            error = HuaweiError(400, API_NOT_FOUND, f"API not found: {request.path}")
        response = error.response()
        response.headers["X-Request-Id"] = uuid.uuid4().hex
        return response

    def answer_lost(self) -> bool:
        """Whether to perform this create and then drop its answer (``lost_answer_share``)."""
        rate = self._ctx.options.fault_rate * self._settings.lost_answer_share
        return rate > 0 and self._ctx.faults.uniform(0.0, 1.0) < rate

    # -- inspection ------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[CallRecord, ...]:
        return tuple(self._calls)

    def counters(self, tenant: str | None = None) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for (call_tenant, kind), count in self._counts.items():
            if tenant is None or call_tenant == tenant:
                counts[kind] += count
        return dict(counts)

    # -- the steps -------------------------------------------------------------------------

    def _authenticate(self, request: web.Request, body: bytes, project_id: str) -> None:
        credentials = self._ctx.options.credentials
        header_project = request.headers.get("X-Project-Id")
        if header_project is not None and header_project != project_id:
            raise HuaweiError(
                401,
                UNAUTHORIZED,
                "Unauthorized: X-Project-Id does not match the project in the URL",
            )
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            if not hmac.compare_digest(token.encode(), credentials.huawei_token.encode()):
                raise HuaweiError(401, UNAUTHORIZED, "Unauthorized: the token is invalid")
            return

        def header(name: str) -> str | None:
            values = request.headers.getall(name, [])
            return ",".join(values) if values else None

        reason = signing.verify(
            method=request.method,
            raw_path=request.rel_url.raw_path,
            raw_query=request.rel_url.raw_query_string,
            header=header,
            body=body,
            expected_ak=credentials.huawei_ak,
            sk=credentials.huawei_sk,
            real_now=self._ctx.clock.server_now(),
        )
        if reason is not None:
            raise HuaweiError(401, UNAUTHORIZED, f"Unauthorized: {reason}")

    def _admit(self, tenant: str, kind: str) -> None:
        rate = self._rates.get(kind, self._rates.get("other", 0.0))
        wait = self._throttle.admit((tenant, kind), rate)
        if wait is not None:
            raise throttled(rate, wait)

    def _inject_fault(self) -> None:
        status = self._ctx.faults.control_fault()
        if status == 429:
            raise HuaweiError(
                429,
                THROTTLED,
                "The throttling threshold has been reached (injected fault)",
                headers={"Retry-After": str(self._settings.fault_retry_after_s)},
            )
        if status is not None:
            text = "Internal Error" if status == 500 else "Service Unavailable"
            raise HuaweiError(status, INTERNAL, f"{text} (injected fault)")
