"""Where an absolute URL the service hands out (``nextLink``, ``Operation-Location``) is sent.

The spec's examples answer on the regional ``https://{region}.api.cognitive.microsoft.com``
host while users configure ``https://{resource}.cognitiveservices.azure.com`` (reference §1.1,
§1.6, §2.2), so a link on another host than our endpoint is normal, and every request carries
the Speech key. The rule:

* on our endpoint's origin: sent as it is;
* https, on one host of Azure's Cognitive Services domains (``<name>.cognitiveservices.azure.com``
  or ``<name>.api.cognitive.microsoft.com``): followed (the same key works there);
* anything else (plain http, another domain, a look-alike such as
  ``x.cognitiveservices.azure.com.example.net``): never contacted; its ``/customvoice/…`` path
  and query are rebuilt on our endpoint. A link without that path is a protocol error.

``api-version`` is added when a link lacks it. The key therefore only ever goes to our endpoint
or to Azure's own hosts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pipeline.errors import ProviderProtocolError
from pipeline.providers.http import redact_url

#: One DNS label, then one of Azure's Cognitive Services domains (reference §1.1).
AZURE_HOST: Final = re.compile(
    r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.(?:cognitiveservices\.azure\.com|api\.cognitive\.microsoft\.com)"
)
_PREFIX: Final = "/customvoice/"

How = Literal["ours", "followed", "rebuilt"]


@dataclass(frozen=True, slots=True)
class Resolved:
    """Where a link goes: the URL to send, and which branch of the rule chose it."""

    url: str
    how: How


def is_azure_host(scheme: str, host: str) -> bool:
    """Whether ``scheme://host`` may receive our key: https on a Cognitive Services host."""
    return scheme.lower() == "https" and AZURE_HOST.fullmatch(host.lower().rstrip(".")) is not None


def resolve(base_url: str, link: str, api_version: str, what: str) -> Resolved:
    """The URL to send ``link`` (a ``what``: "nextLink", "Operation-Location") to, for a client
    configured with ``base_url``; ProviderProtocolError when it cannot be one of ours."""
    try:
        base, target = urlsplit(base_url), urlsplit(link)
        _ = target.port  # a malformed port raises here, not later in the transport
    except ValueError:
        raise ProviderProtocolError(f"{what} is not a URL: {redact_url(link)}") from None
    ours = (base.scheme.lower(), base.netloc.lower())
    if (target.scheme.lower(), target.netloc.lower()) == ours:
        return Resolved(_with_version(link, api_version), "ours")
    if (
        target.netloc
        and "@" not in target.netloc
        and is_azure_host(target.scheme, target.hostname or "")
    ):
        return Resolved(_with_version(link, api_version), "followed")
    at = target.path.find(_PREFIX)
    if at < 0:
        raise ProviderProtocolError(
            f"{what} names no {_PREFIX} path ({redact_url(link)}); not following it"
        )
    rebuilt = f"{base_url.rstrip('/')}{target.path[at:]}"
    if target.query:
        rebuilt += f"?{target.query}"
    return Resolved(_with_version(rebuilt, api_version), "rebuilt")


def _with_version(url: str, api_version: str) -> str:
    """``url`` with ``api-version`` in its query (the service echoes it; reference §1.2)."""
    parts = urlsplit(url)
    names = {item.partition("=")[0] for item in parts.query.split("&") if item}
    if "api-version" in names:
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    query = f"{parts.query}&api-version={quote(api_version)}".lstrip("&")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
