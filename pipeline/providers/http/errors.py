"""Where an HTTP outcome becomes our error tree: one mapping for every provider and store.

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

Messages name the call by its redacted URL and quote foreign text only through ``redact_text``.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

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
from pipeline.providers.http.urls import redact_text, redact_url

_XML_CODE: Final = re.compile(r"<Code>([^<]{1,200})</Code>")
_XML_MESSAGE: Final = re.compile(r"<Message>([^<]{1,500})</Message>")
_REQUEST_ID_HEADERS: Final = (
    "X-Request-Id",
    "x-obs-request-id",
    "x-ms-request-id",
    "apim-request-id",
    "x-amz-request-id",
)

Purpose = Literal["control", "upload"]


@dataclass(slots=True)
class Call:
    """What one request was, for error messages (URL already redacted)."""

    method: str
    url: str
    purpose: Purpose
    idempotent: bool
    throttle_codes: Collection[str] = field(default_factory=tuple)

    def describe(self) -> str:
        return f"{self.method} {self.url}"


def describe_exc(exc: BaseException) -> str:
    """An aiohttp exception as text; aiohttp puts the full URL (signature included) into
    some messages, so they are redacted."""
    text = redact_text(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def maybe_sent_error(
    call: Call,
    message: str,
    *,
    status: int | None = None,
    code: str | None = None,
    request_id: str | None = None,
) -> ProviderUnavailable:
    """A failure after the request may have reached the server: retryable when repeating the
    request is harmless, ``AmbiguousCreate`` (reconcile first) when it is not."""
    if call.idempotent:
        return ProviderUnavailable(message, status=status, code=code, request_id=request_id)
    return AmbiguousCreate(
        f"{message} (the request may have been processed; reconcile before repeating it)",
        status=status,
        code=code,
        request_id=request_id,
    )


def status_error(call: Call, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """The error a non-2xx answer means (see the module docstring's table)."""
    code, detail = _error_fields(body)
    request_id = request_id_of(headers)
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
        return maybe_sent_error(call, message, status=status, code=code, request_id=request_id)
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


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id from whichever header it uses, for support tickets."""
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
