"""Reading a customer's Azure Blob container the way the Speech service does for ``audios``.

``PUT /personalvoices/{id}`` names a container SAS URL, a prefix and extensions; the service lists
the container (Blob REST "List Blobs": ``?restype=container&comp=list``, XML
``EnumerationResults``, paged by ``NextMarker``) and reads each matching blob. The emulator does
the same over HTTP, so the pipeline's blob-SAS mode is tested against Azurite or the emulator's
own blob endpoint. It only ever talks to loopback hosts: an emulator must not reach the internet.
"""

from __future__ import annotations

import hashlib
import ipaddress
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

import aiohttp
from yarl import URL

from pipeline.emulator.azure.errors import bad_argument

MAX_BLOBS: Final = 1000  #: the training-data limit; more is a failure, not a silent cut
MAX_FILE_BYTES: Final = 30 * 1024 * 1024  #: the spec's per-file cap (``x-ms-max-length``)
_CHUNK: Final = 64 * 1024
_TIMEOUT: Final = aiohttp.ClientTimeout(total=120, sock_connect=10)


class BlobFetchError(Exception):
    """The container or a blob could not be read (→ ``InaccessibleCustomerStorage``)."""


@dataclass(frozen=True, slots=True)
class BlobItem:
    """One entry of a List Blobs answer."""

    name: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Downloaded:
    """A blob written to disk."""

    path: Path
    size: int
    sha256: str
    content_type: str


def loopback_url(raw: object, target: str) -> URL:
    """``raw`` as an http(s) URL on a loopback host, or a 400 naming ``target``."""
    if not isinstance(raw, str) or not raw:
        raise bad_argument(target, f"{target} must be a URL.")
    try:
        url = URL(raw, encoded=True)
    except ValueError:
        raise bad_argument(target, f"{target} is not a valid URL.") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise bad_argument(target, f"{target} must be an http(s) URL.")
    if not _is_loopback(url.host):
        raise bad_argument(
            target, f"The emulator only reads storage on loopback hosts, not '{url.host}'."
        )
    return url


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def blob_url(container: URL, name: str) -> URL:
    """The URL of blob ``name`` inside ``container``, carrying the container's SAS query."""
    path = container.raw_path.rstrip("/") + "/" + quote(name, safe="/")
    query = f"?{container.raw_query_string}" if container.raw_query_string else ""
    return URL(f"{container.scheme}://{container.raw_authority}{path}{query}", encoded=True)


def _list_url(container: URL, prefix: str, marker: str | None) -> URL:
    extra = f"restype=container&comp=list&prefix={quote(prefix, safe='')}"
    if marker:
        extra += f"&marker={quote(marker, safe='')}"
    query = f"{container.raw_query_string}&{extra}" if container.raw_query_string else extra
    return URL(
        f"{container.scheme}://{container.raw_authority}{container.raw_path}?{query}", encoded=True
    )


def parse_blob_list(xml: bytes) -> tuple[list[BlobItem], str | None]:
    """The blobs and the ``NextMarker`` of one List Blobs XML page."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise BlobFetchError(f"the container list is not XML: {exc}") from None
    if root.tag != "EnumerationResults":
        raise BlobFetchError(f"unexpected list answer <{root.tag}>")
    items: list[BlobItem] = []
    for blob in root.iterfind("Blobs/Blob"):
        name = blob.findtext("Name")
        if not name:
            continue
        length = blob.findtext("Properties/Content-Length")
        items.append(BlobItem(name, int(length) if length and length.isdigit() else None))
    marker = root.findtext("NextMarker")
    return items, marker or None


async def list_container(
    session: aiohttp.ClientSession, container: URL, prefix: str, extensions: tuple[str, ...]
) -> list[BlobItem]:
    """Every blob under ``prefix`` whose name ends in one of ``extensions`` (case-insensitive)."""
    found: list[BlobItem] = []
    marker: str | None = None
    suffixes = tuple(ext.lower() for ext in extensions)
    while True:
        async with session.get(_list_url(container, prefix, marker)) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise BlobFetchError(f"listing the container answered HTTP {resp.status}")
        items, marker = parse_blob_list(body)
        # filter again here: a store that ignores ``prefix`` must not widen the selection
        found.extend(
            item
            for item in items
            if item.name.startswith(prefix) and item.name.lower().endswith(suffixes)
        )
        if len(found) > MAX_BLOBS:
            raise BlobFetchError(f"more than {MAX_BLOBS} matching blobs")
        if marker is None:
            return found


async def download(session: aiohttp.ClientSession, url: URL, dest: Path) -> Downloaded:
    """Stream one blob to ``dest``, hashing it on the way; never held in memory."""
    digest = hashlib.sha256()
    size = 0
    async with session.get(url) as resp:
        if resp.status != 200:
            raise BlobFetchError(f"reading {url.path} answered HTTP {resp.status}")
        content_type = resp.headers.get("Content-Type", "application/octet-stream")
        with dest.open("wb") as out:
            async for chunk in resp.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise BlobFetchError(f"{url.path} is larger than {MAX_FILE_BYTES} bytes")
                digest.update(chunk)
                out.write(chunk)
    return Downloaded(dest, size, digest.hexdigest(), content_type)


def client_session() -> aiohttp.ClientSession:
    """A short-lived session for one create call's fetches."""
    return aiohttp.ClientSession(timeout=_TIMEOUT)
