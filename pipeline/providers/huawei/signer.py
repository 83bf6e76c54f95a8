"""Huawei Cloud AK/SK request signing (``SDK-HMAC-SHA256``), as ``huaweicloudsdkcore`` does it.

Our own implementation of reference §2.2, so the runtime does not depend on the SDK; the unit
tests prove it byte-for-byte against ``huaweicloudsdkcore.signer.signer.Signer``.

Canonical request (six lines joined by ``\\n``): method; canonical URI (path URL-decoded, split on
``/``, each segment percent-encoded with only unreserved characters and ``~`` kept, and a
trailing ``/`` added); canonical query (pairs sorted by key then value, each ``enc(k)=enc(v)``,
joined with ``&``); canonical headers (``name:value\\n`` per signed header); the signed header
names (every header without ``_`` in its name, lower-cased, sorted, ``;``-joined); the hex
SHA-256 of the body (or the literal from ``X-Sdk-Content-Sha256``). The signature is
HMAC-SHA256 keyed with the SK over ``SDK-HMAC-SHA256\\n<X-Sdk-Date>\\n<hex sha256(canonical)>``.

Nothing here does I/O and nothing here logs: the SK never leaves this module except as a MAC.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, unquote, unquote_plus, urlsplit

ALGORITHM: Final = "SDK-HMAC-SHA256"
DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256: Final = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"

HEADER_DATE: Final = "X-Sdk-Date"
HEADER_HOST: Final = "Host"
HEADER_AUTHORIZATION: Final = "Authorization"
HEADER_CONTENT_SHA256: Final = "X-Sdk-Content-Sha256"
HEADER_PROJECT_ID: Final = "X-Project-Id"
HEADER_SECURITY_TOKEN: Final = "X-Security-Token"

#: Headers this module sets itself; a caller-supplied variant (any case) is replaced.
_OWNED: Final = frozenset(
    h.lower() for h in (HEADER_DATE, HEADER_AUTHORIZATION, HEADER_PROJECT_ID, HEADER_SECURITY_TOKEN)
)


def encode(value: str) -> str:
    """Percent-encode like the SDK: RFC 3986, keeping only unreserved characters and ``~``."""
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """The canonical form of a URL path: decoded, re-encoded per segment, trailing ``/`` added."""
    url_path = "/".join(encode(segment) for segment in unquote(path or "/").split("/"))
    # The SDK signs "/v1/x/" for a request to "/v1/x"; only the canonical form gets the slash.
    return url_path if url_path.endswith("/") else url_path + "/"


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decoded ``(key, value)`` pairs of a raw query string, repeated keys and blanks kept.

    ``+`` decodes to a space, as the aiohttp/yarl server side reads it; our clients never send a
    literal ``+`` (``encode`` writes ``%2B``), so both readings agree on what we send.
    """
    pairs: list[tuple[str, str]] = []
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return pairs


def canonical_query(query: str) -> str:
    """The canonical query string: pairs sorted by decoded key, then value, then encoded."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(parse_query(query)))


def _needs_unsigned_payload(content_type: str | None) -> bool:
    # Mirrors Signer._process_content_header: a body that is not JSON/BSON is sent unsigned.
    if not content_type:
        return False
    return not content_type.startswith(("application/json", "application/bson"))


def _get(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def sign_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    ak: str,
    sk: str,
    project_id: str | None,
    security_token: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign one request and return the complete header set to send with it.

    Args:
        method: HTTP method, any case.
        url: absolute URL, already percent-encoded, with its query string.
        headers: the request headers the caller wants to send (all of them get signed, except
            names containing ``_``); must not repeat a name in a different case.
        body: the exact body bytes (``b""`` for none).
        ak: access key ID (it appears in the Authorization header, as the SDK does).
        sk: secret access key (never returned).
        project_id: sent and signed as ``X-Project-Id`` when given.
        security_token: sent and signed as ``X-Security-Token`` (temporary AK/SK).
        now: signing time; default the current UTC time. Naive values are taken as UTC.

    Returns:
        The headers to send: the caller's (values stripped, as signed) plus ``Host``,
        ``X-Sdk-Date``, ``X-Project-Id``, ``X-Security-Token``, ``X-Sdk-Content-Sha256`` where
        they apply, and ``Authorization``.

    Raises:
        ValueError: missing AK/SK, a relative URL, a repeated header name, or a header value
            with a line break.
    """
    if not ak or not sk:
        raise ValueError("both an access key and a secret key are required to sign")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("sign_request needs an absolute URL")

    out: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in seen:
            raise ValueError(f"header {name!r} given twice (names are case-insensitive)")
        seen.add(lowered)
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name!r} contains a line break")
        if lowered not in _OWNED:
            out[name] = value

    if project_id:
        out[HEADER_PROJECT_ID] = project_id
    if security_token:
        out[HEADER_SECURITY_TOKEN] = security_token
    if _needs_unsigned_payload(_get(out, "Content-Type")):
        # Replaces a caller's variant of the same header, whatever its case.
        for key in [k for k in out if k.lower() == HEADER_CONTENT_SHA256.lower()]:
            del out[key]
        out[HEADER_CONTENT_SHA256] = UNSIGNED_PAYLOAD

    when = datetime.now(UTC) if now is None else now
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    sdk_date = when.strftime(DATE_FORMAT)
    out[HEADER_DATE] = sdk_date
    if _get(out, HEADER_HOST) is None:
        out[HEADER_HOST] = parts.netloc

    # The SDK sends (and signs) every header value stripped of surrounding whitespace.
    out = {name: value.strip() for name, value in out.items()}
    by_lower = {name.lower(): value for name, value in out.items()}
    signed = sorted(name.lower() for name in out if "_" not in name)
    canonical_headers = "".join(f"{name}:{by_lower[name]}\n" for name in signed)

    if not body:
        payload_hash = EMPTY_BODY_SHA256
    else:
        payload_hash = _get(out, HEADER_CONTENT_SHA256) or hashlib.sha256(body).hexdigest()

    signed_list = ";".join(signed)
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            canonical_headers,
            signed_list,
            payload_hash,
        )
    )
    string_to_sign = "\n".join(
        (ALGORITHM, sdk_date, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
    )
    signature = hmac.new(
        sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    out[HEADER_AUTHORIZATION] = (
        f"{ALGORITHM} Access={ak}, SignedHeaders={signed_list}, Signature={signature}"
    )
    return out
