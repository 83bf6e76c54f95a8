"""Server-side verification of Huawei ``SDK-HMAC-SHA256`` request signatures (reference §2.2).

The verifier rebuilds the canonical request from what arrived on the wire, exactly as
``huaweicloudsdkcore.signer.signer.Signer`` built it on the client, and compares MACs:

- canonical URI: the raw path URL-decoded, split on ``/``, each segment re-encoded (only
  unreserved characters and ``~`` kept), plus a trailing ``/`` when missing;
- canonical query: decoded pairs sorted by key then value, re-encoded, joined with ``&``;
- canonical headers: the header names listed in ``SignedHeaders`` (taken from the Authorization
  header, not recomputed), each ``name:stripped value``; every listed header must be present and
  ``x-sdk-date`` must be among them;
- payload: ``e3b0…`` for an empty body (the SDK does that even with ``UNSIGNED-PAYLOAD``), the
  literal ``UNSIGNED-PAYLOAD`` when ``X-Sdk-Content-Sha256`` says so, else the body's SHA-256;
- ``X-Sdk-Date`` must be within ±15 minutes of the server's clock (real time plus the
  emulator's ``clock_skew_s``).

Nothing here knows aiohttp; ``verify`` returns why a request fails, or None when it passes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, unquote, unquote_plus

ALGORITHM: Final = "SDK-HMAC-SHA256"
DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256: Final = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
#: The API gateway's tolerance for a client clock that is off (API Request Signing Guide).
MAX_CLOCK_SKEW_S: Final = 15 * 60


@dataclass(frozen=True, slots=True)
class AuthorizationHeader:
    """The three parts of ``Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…``."""

    access: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> AuthorizationHeader | None:
    """Split an Authorization header value; None when it is not an SDK-HMAC-SHA256 one."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            return None
        parts[key.strip()] = val.strip()
    try:
        access, signed, signature = parts["Access"], parts["SignedHeaders"], parts["Signature"]
    except KeyError:
        return None
    names = tuple(name for name in signed.split(";") if name)
    if not access or not names or not signature:
        return None
    return AuthorizationHeader(access=access, signed_headers=names, signature=signature)


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(raw_path: str) -> str:
    """The canonical path: decoded, re-encoded segment by segment, with a trailing slash."""
    url_path = "/".join(_encode(segment) for segment in unquote(raw_path or "/").split("/"))
    return url_path if url_path.endswith("/") else url_path + "/"


def canonical_query(raw_query: str) -> str:
    """The canonical query string of a raw (still percent-encoded) query."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            # '+' reads as a space on the server (yarl), so the verifier reads it the same way.
            pairs.append((unquote_plus(key), unquote_plus(value)))
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def payload_hash(body: bytes, content_sha256_header: str | None) -> str:
    """Item six of the canonical request, as the SDK computes it."""
    if not body:
        return EMPTY_BODY_SHA256
    if content_sha256_header:
        return content_sha256_header
    return hashlib.sha256(body).hexdigest()


def _parse_sdk_date(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    header: Callable[[str], str | None],
    body: bytes,
    expected_ak: str,
    sk: str,
    real_now: float,
) -> str | None:
    """Check one AK/SK-signed request; return a reason it fails, or None when it is genuine.

    ``header(name)`` returns a request header's value (case-insensitive; repeated headers
    joined with ``,``) or None. ``real_now`` is real Unix time: clock checks are never scaled.
    """
    authorization = header("Authorization")
    if authorization is None:
        return "missing Authorization or X-Auth-Token header"
    parsed = parse_authorization(authorization)
    if parsed is None:
        return "malformed Authorization header"
    if not hmac.compare_digest(parsed.access, expected_ak):
        return "unknown access key"
    signed = tuple(name.lower() for name in parsed.signed_headers)
    if "x-sdk-date" not in signed:
        return "X-Sdk-Date is not among the signed headers"
    sdk_date_value = header("X-Sdk-Date")
    sdk_date = _parse_sdk_date(sdk_date_value or "")
    if sdk_date_value is None or sdk_date is None:
        return "missing or malformed X-Sdk-Date"
    if abs(sdk_date.timestamp() - real_now) > MAX_CLOCK_SKEW_S:
        return "X-Sdk-Date is more than 15 minutes off"
    lines: list[str] = []
    for name in signed:
        value = header(name)
        if value is None:
            return f"signed header {name} is missing"
        lines.append(f"{name}:{value.strip()}\n")
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            "".join(lines),
            ";".join(signed),
            payload_hash(body, header("X-Sdk-Content-Sha256")),
        )
    )
    expected = _signature(sk, sdk_date_value, canonical_request)
    if not hmac.compare_digest(expected, parsed.signature.lower()):
        return "signature does not match"
    return None


def _signature(sk: str, sdk_date: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
