"""URLs at the edge: what may be sent to, what may be shown, how an id becomes a path segment.

Every URL that reaches a log line or an exception message passes through :func:`redact_url`
first, so the signature of a pre-signed (OBS) or SAS (Azure) URL never leaves the HTTP layer.
Plain ``http://`` is refused except to a loopback address (the emulator).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from yarl import URL

from pipeline import log as _log
from pipeline.config import is_loopback
from pipeline.errors import ProviderProtocolError

#: Query parameters (compared case-insensitively) that carry a signature or a credential:
#: one list for the whole code base, kept beside the log redactor.
SECRET_QUERY_PARAMS: Final = _log.SECRET_QUERY_PARAMS
REDACTED: Final = _log.REDACTED


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


def check_url(url: str) -> None:
    """Refuse a URL we would never send to: not https, and not http to a loopback address."""
    checked_url(url, f"URL {redact_url(url)}")


def checked_url(url: str, what: str) -> URL:
    """``url`` as sent byte for byte, or ProviderProtocolError (``what`` names the call)."""
    # encoded=True: send the URL exactly as signed (yarl would otherwise requote it, which
    # can change a pre-signed URL's bytes and break its signature).
    try:
        target = URL(url, encoded=True)
    except (ValueError, TypeError) as exc:
        raise ProviderProtocolError(f"{what}: invalid URL") from exc
    scheme = (target.scheme or "").lower()
    if scheme == "https":
        return target
    if scheme == "http" and is_loopback(target.host or ""):
        return target
    raise ProviderProtocolError(
        f"{what}: refusing a {scheme or 'relative'} URL; only https:// is allowed, "
        "or http:// to a loopback address"
    )


def segment(value: str) -> str:
    """One path segment, percent-encoded (an id can never add a path level)."""
    return quote(value, safe="")
