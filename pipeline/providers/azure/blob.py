"""Blob-SAS uploads: clips PUT into the customer's Azure Blob container through its SAS URL."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import anyio
import anyio.to_thread

from pipeline.providers.http import HttpTransport, RetryPolicy, check_url, redact_url, retry_call

#: The Blob REST version sent with blob-SAS uploads (any version the account's SAS accepts).
BLOB_API_VERSION: Final = "2021-08-06"
#: Blob PUTs to the customer's container (the ``upload`` kind of ``AZURE_RETRY``).
UPLOAD_RETRY: Final = RetryPolicy(attempts=5, max_elapsed_s=900.0, base_delay=1.0)


class BlobContainer:
    """Uploads into the customer's Azure Blob container through its SAS URL (blob-SAS mode).

    Not the Speech API, so not in its request window; the caller bounds concurrency. Files up
    to ``single_put_max`` bytes go in one Put Blob streamed from disk; larger ones in
    ``block_size`` blocks (Put Block, then Put Block List), so a reset costs one block, not the
    whole file. A block is sent from memory, hence 1 MiB by default: aiohttp warns about (and
    blocks the loop on) larger in-memory bodies.
    """

    def __init__(
        self,
        http: HttpTransport,
        container_sas_url: str,
        *,
        retry: RetryPolicy = UPLOAD_RETRY,
        single_put_max: int = 4 * 1024 * 1024,
        block_size: int = 1024 * 1024,
    ) -> None:
        if not 0 < block_size <= 1024 * 1024:
            raise ValueError("block_size must be within 1 byte .. 1 MiB")
        check_url(container_sas_url)
        parts = urlsplit(container_sas_url)
        if not parts.query:
            raise ValueError("the container URL carries no SAS query")
        self._parts = parts
        self._retry = retry
        self._single_put_max = single_put_max
        self._block_size = block_size
        self._http = http
        self.container_url = container_sas_url

    def __repr__(self) -> str:
        return f"BlobContainer({redact_url(self.container_url)!r})"

    def blob_url(self, name: str, extra_query: str = "") -> str:
        """The URL of blob ``name``, carrying the container's SAS (and ``extra_query``)."""
        p = self._parts
        path = p.path.rstrip("/") + "/" + quote(name, safe="/")
        query = p.query + (f"&{extra_query}" if extra_query else "")
        return urlunsplit((p.scheme, p.netloc, path, query, ""))

    async def put_file(self, name: str, path: Path, *, content_type: str = "audio/wav") -> int:
        """Upload ``path`` as block blob ``name`` (replacing it); returns the byte count."""
        size = (await anyio.to_thread.run_sync(path.stat)).st_size
        if size <= self._single_put_max:
            await self._http.put_file(
                self.blob_url(name),
                path,
                content_type=content_type,
                extra_headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": BLOB_API_VERSION},
                retry=self._retry,
            )
            return size
        ids: list[str] = []
        for index, offset in enumerate(range(0, size, self._block_size)):
            # Block ids must all have the same length within a blob; base64 of a fixed width.
            block_id = _block_id(index)
            chunk = await anyio.to_thread.run_sync(_read_slice, path, offset, self._block_size)
            url = self.blob_url(name, f"comp=block&blockid={quote(block_id, safe='')}")
            await self._put(url, chunk, "application/octet-stream")
            ids.append(block_id)
        listing = "".join(f"<Latest>{i}</Latest>" for i in ids)
        xml = f'<?xml version="1.0" encoding="utf-8"?><BlockList>{listing}</BlockList>'
        await self._put(
            self.blob_url(name, "comp=blocklist"),
            xml.encode(),
            "application/xml",
            {"x-ms-blob-content-type": content_type},
        )
        return size

    async def _put(
        self,
        url: str,
        body: bytes,
        content_type: str,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        headers = {"Content-Type": content_type, "x-ms-version": BLOB_API_VERSION, **(extra or {})}

        async def attempt() -> None:
            await self._http.request("PUT", url, headers=headers, body=body)

        await retry_call(self._retry, attempt, operation="azure.put_block")


def _block_id(index: int) -> str:
    return base64.b64encode(f"block-{index:08d}".encode()).decode()


def _read_slice(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(size)
