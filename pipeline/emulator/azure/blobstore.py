"""A minimal Azure Blob container endpoint, so blob-SAS mode can be rehearsed without Azurite.

Served under ``/blob/{account}/{container}[/{blob}]`` with the Blob REST shapes the pipeline and
the Speech service use: Put Blob (``x-ms-blob-type: BlockBlob``), Put Block / Put Block List,
Get Blob, Delete Blob, List Blobs (XML ``EnumerationResults``, ``prefix``/``marker``/
``maxresults``). Errors are the storage XML ``<Error><Code/><Message/></Error>`` with
``x-ms-error-code``.

Access is by container SAS only. The query looks like a real one (``sv``, ``sr=c``, ``sp``,
``se``, ``sig``) but the signature is the emulator's own: base64 HMAC-SHA256 over
``sp\\nse\\n/blob/{account}/{container}\\nsv`` with a key derived from the Speech key, minted by
``BlobStore.container_sas_url``. ``se`` is checked against real time (like every URL expiry in
the emulator). Bodies stream to disk; nothing is held in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Final
from urllib.parse import quote
from xml.sax.saxutils import escape

from aiohttp import web

from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.errors import ServiceError
from pipeline.emulator.faults import reset_midway

SAS_VERSION: Final = "2022-11-02"
_CHUNK: Final = 64 * 1024
_MAX_BLOCK_LIST_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BlobRecord:
    """One committed blob."""

    name: str
    path: Path
    size: int
    content_type: str
    md5: str  #: base64, as Content-MD5
    etag: str
    modified: float  #: real Unix time


@dataclass(frozen=True, slots=True)
class _Target:
    """The blob a write names, and the committed blobs of its container."""

    account: str
    container: str
    name: str
    blobs: dict[str, BlobRecord]


class StorageError(ServiceError):
    """An Azure Storage error answer (XML ``<Error>``)."""

    def response(self) -> web.Response:
        text = (
            '<?xml version="1.0" encoding="utf-8"?><Error>'
            f"<Code>{escape(self.code)}</Code><Message>{escape(self.message)}\n"
            f"RequestId:{uuid.uuid4()}\nTime:{_iso_now()}</Message></Error>"
        )
        return web.Response(
            status=self.status,
            text=text,
            content_type="application/xml",
            headers={"x-ms-error-code": self.code},
        )


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


class BlobStore:
    """Containers of block blobs kept under ``storage/azure/blob``."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._root = ctx.storage / "azure" / "blob"
        self._key = hashlib.sha256(f"blob:{ctx.options.credentials.azure_key}".encode()).digest()
        self._containers: dict[tuple[str, str], dict[str, BlobRecord]] = {}
        self.resets = 0  #: uploads dropped mid-body by ``upload_fault_rate``

    def install(self, app: web.Application) -> None:
        app.router.add_route("*", "/blob/{account}/{container}", self._container_route)
        app.router.add_route("*", "/blob/{account}/{container}/{blob:.+}", self._blob_route)

    # --- SAS --------------------------------------------------------------------------------

    def create_container(self, container: str, account: str = "emulator") -> None:
        self._containers.setdefault((account, container), {})

    def container_sas_url(
        self,
        container: str = "voices",
        *,
        account: str = "emulator",
        permissions: str = "racwdl",
        ttl: float = 3600.0,
        base_url: str | None = None,
    ) -> str:
        """A container SAS URL (creating the container), valid ``ttl`` real seconds."""
        base = (base_url or self._ctx.base_url).rstrip("/")
        if not base:
            raise RuntimeError("the emulator is not bound yet: no base URL")
        self.create_container(container, account)
        expiry = datetime.fromtimestamp(time.time() + ttl, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = self._sign(permissions, expiry, account, container, SAS_VERSION)
        query = (
            f"sv={SAS_VERSION}&sr=c&sp={permissions}&se={quote(expiry, safe='')}"
            f"&sig={quote(sig, safe='')}"
        )
        return f"{base}/blob/{account}/{container}?{query}"

    def _sign(self, sp: str, se: str, account: str, container: str, sv: str) -> str:
        text = f"{sp}\n{se}\n/blob/{account}/{container}\n{sv}"
        return base64.b64encode(
            hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        ).decode()

    def _authorize(self, request: web.Request, account: str, container: str, need: str) -> None:
        query = request.query
        sp, se, sv, sig = (query.get(k, "") for k in ("sp", "se", "sv", "sig"))
        if not sig or not se:
            raise StorageError(
                403, "NoAuthenticationInformation", "Server failed to authenticate the request."
            )
        expected = self._sign(sp, se, account, container, sv)
        if not hmac.compare_digest(expected, sig):
            raise StorageError(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of the "
                "signature is formed correctly.",
            )
        try:
            expiry = datetime.fromisoformat(se).timestamp()
        except ValueError:
            raise StorageError(403, "AuthenticationFailed", "Bad signed expiry.") from None
        if expiry < self._ctx.clock.real_now():
            raise StorageError(
                403, "AuthenticationFailed", "Signature not valid in the specified time frame."
            )
        if need not in sp:
            raise StorageError(
                403,
                "AuthorizationPermissionMismatch",
                "This request is not authorized to perform this operation using this permission.",
            )

    def _blobs(self, account: str, container: str) -> dict[str, BlobRecord]:
        blobs = self._containers.get((account, container))
        if blobs is None:
            raise StorageError(404, "ContainerNotFound", "The specified container does not exist.")
        return blobs

    # --- routes -----------------------------------------------------------------------------

    async def _container_route(self, request: web.Request) -> web.StreamResponse:
        account, container = request.match_info["account"], request.match_info["container"]
        try:
            self._authorize(request, account, container, "l")
            blobs = self._blobs(account, container)
            query = request.query
            if (
                request.method != "GET"
                or query.get("restype") != "container"
                or (query.get("comp") != "list")
            ):
                raise StorageError(
                    400, "UnsupportedHttpVerb", "Only List Blobs is supported on a container."
                )
            return self._list(request, account, container, blobs)
        except StorageError as exc:
            return exc.response()

    async def _blob_route(self, request: web.Request) -> web.StreamResponse:
        account, container = request.match_info["account"], request.match_info["container"]
        name = request.match_info["blob"]
        try:
            if request.method == "PUT":
                comp = request.query.get("comp")
                self._authorize(request, account, container, "w")
                target = _Target(account, container, name, self._blobs(account, container))
                if comp == "block":
                    return await self._put_block(request, target)
                if comp == "blocklist":
                    return await self._put_block_list(request, target)
                return await self._put_blob(request, target)
            if request.method in ("GET", "HEAD"):
                self._authorize(request, account, container, "r")
                record = self._blobs(account, container).get(name)
                if record is None:
                    raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
                headers = {
                    "ETag": record.etag,
                    "Content-MD5": record.md5,
                    "Last-Modified": formatdate(record.modified, usegmt=True),
                    "x-ms-blob-type": "BlockBlob",
                    "Content-Type": record.content_type,
                }
                return web.FileResponse(record.path, headers=headers)
            if request.method == "DELETE":
                self._authorize(request, account, container, "d")
                blobs = self._blobs(account, container)
                record = blobs.pop(name, None)
                if record is None:
                    raise StorageError(404, "BlobNotFound", "The specified blob does not exist.")
                record.path.unlink(missing_ok=True)
                return web.Response(status=202)
            raise StorageError(405, "UnsupportedHttpVerb", f"{request.method} is not supported.")
        except StorageError as exc:
            return exc.response()

    async def _put_blob(self, request: web.Request, target: _Target) -> web.StreamResponse:
        blob_type = request.headers.get("x-ms-blob-type")
        if blob_type is None:
            raise StorageError(
                400,
                "MissingRequiredHeader",
                "An HTTP header that's mandatory is missing: x-ms-blob-type.",
            )
        if blob_type != "BlockBlob":
            raise StorageError(400, "InvalidHeaderValue", "Only BlockBlob is supported.")
        if await self._reset_by_fault(request):
            return web.Response()  # never sent: the connection is gone
        tmp = self._scratch(target) / uuid.uuid4().hex
        size, md5 = await _receive(request, tmp)
        if request.content_length is not None and size != request.content_length:
            tmp.unlink(missing_ok=True)
            raise StorageError(400, "InvalidInput", "The body is shorter than Content-Length.")
        return self._commit(request, target, tmp, size, md5)

    async def _put_block(self, request: web.Request, target: _Target) -> web.StreamResponse:
        block_id = request.query.get("blockid", "")
        if not block_id:
            raise StorageError(400, "InvalidQueryParameterValue", "blockid is required.")
        if await self._reset_by_fault(request):
            return web.Response()
        path = self._block_path(target, block_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}")
        await _receive(request, tmp)
        tmp.replace(path)
        return web.Response(status=201)

    async def _put_block_list(self, request: web.Request, target: _Target) -> web.StreamResponse:
        if (request.content_length or 0) > _MAX_BLOCK_LIST_BYTES:
            raise StorageError(413, "RequestBodyTooLarge", "The block list is too large.")
        try:
            root = ET.fromstring(await request.read())
        except ET.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "The block list is not XML.") from None
        if root.tag != "BlockList":
            raise StorageError(400, "InvalidXmlDocument", "Expected <BlockList>.")
        ids = [el.text or "" for el in root if el.tag in ("Latest", "Uncommitted", "Committed")]
        parts = [self._block_path(target, block_id) for block_id in ids]
        if not all(part.is_file() for part in parts):
            raise StorageError(400, "InvalidBlockList", "The specified block list is invalid.")
        tmp = self._scratch(target) / uuid.uuid4().hex
        digest = hashlib.md5(usedforsecurity=False)
        size = 0
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        # committed: the staged blocks of this blob are done with
        shutil.rmtree(self._block_path(target, "").parent, ignore_errors=True)
        md5 = base64.b64encode(digest.digest()).decode()
        return self._commit(request, target, tmp, size, md5)

    def _commit(
        self, request: web.Request, target: _Target, tmp: Path, size: int, md5: str
    ) -> web.Response:
        final = self._root / target.account / target.container / "objects" / _safe(target.name)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(final)
        content_type = (
            request.headers.get("x-ms-blob-content-type")
            or request.headers.get("Content-Type")
            or "application/octet-stream"
        )
        etag = f'"0x{uuid.uuid4().hex[:15].upper()}"'
        record = BlobRecord(target.name, final, size, content_type, md5, etag, time.time())
        target.blobs[target.name] = record
        return web.Response(
            status=201,
            headers={
                "ETag": etag,
                "Content-MD5": md5,
                "Last-Modified": formatdate(record.modified, usegmt=True),
                "x-ms-request-server-encrypted": "true",
                "x-ms-version": SAS_VERSION,
            },
        )

    def _list(
        self, request: web.Request, account: str, container: str, blobs: dict[str, BlobRecord]
    ) -> web.Response:
        prefix = request.query.get("prefix", "")
        marker = request.query.get("marker", "")
        try:
            max_results = max(1, min(5000, int(request.query.get("maxresults", "5000"))))
        except ValueError:
            raise StorageError(400, "InvalidQueryParameterValue", "Bad maxresults.") from None
        # blob names list in lexicographic order; the marker is the last name already given
        names = sorted(n for n in blobs if n.startswith(prefix) and n > marker)
        page, rest = names[:max_results], names[max_results:]
        items = "".join(_blob_xml(blobs[n]) for n in page)
        endpoint = f"{self._ctx.base_url or f'{request.scheme}://{request.host}'}/blob/{account}"
        next_marker = page[-1] if rest else ""
        text = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EnumerationResults ServiceEndpoint="{escape(endpoint)}" '
            f'ContainerName="{escape(container)}">'
            f"<Prefix>{escape(prefix)}</Prefix><Marker>{escape(marker)}</Marker>"
            f"<MaxResults>{max_results}</MaxResults><Blobs>{items}</Blobs>"
            f"<NextMarker>{escape(next_marker)}</NextMarker></EnumerationResults>"
        )
        return web.Response(
            text=text, content_type="application/xml", headers={"x-ms-version": SAS_VERSION}
        )

    async def _reset_by_fault(self, request: web.Request) -> bool:
        """Whether ``upload_fault_rate`` chose this upload: then its connection is gone."""
        if not self._ctx.faults.upload_fault():
            return False
        self.resets += 1
        await reset_midway(request)
        return True

    def _scratch(self, target: _Target) -> Path:
        path = self._root / target.account / target.container / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _block_path(self, target: _Target, block_id: str) -> Path:
        blocks = self._root / target.account / target.container / "blocks"
        return blocks / _safe(target.name) / _safe(block_id)

    # --- inspection -------------------------------------------------------------------------

    def blobs(self, container: str = "voices", account: str = "emulator") -> list[BlobRecord]:
        return sorted(self._containers.get((account, container), {}).values(), key=lambda b: b.name)

    def snapshot(self) -> dict[str, object]:
        return {
            f"{account}/{container}": [
                {"name": b.name, "size": b.size, "contentType": b.content_type}
                for b in sorted(blobs.values(), key=lambda b: b.name)
            ]
            for (account, container), blobs in self._containers.items()
        } | {"resets": self.resets}


def _safe(name: str) -> str:
    """A file name for a blob or block id (which may contain '/' or '..')."""
    return hashlib.sha256(name.encode()).hexdigest()


def _blob_xml(record: BlobRecord) -> str:
    modified = formatdate(record.modified, usegmt=True)
    return (
        f"<Blob><Name>{escape(record.name)}</Name><Properties>"
        f"<Creation-Time>{modified}</Creation-Time><Last-Modified>{modified}</Last-Modified>"
        f"<Etag>{escape(record.etag)}</Etag><Content-Length>{record.size}</Content-Length>"
        f"<Content-Type>{escape(record.content_type)}</Content-Type>"
        f"<Content-MD5>{record.md5}</Content-MD5><BlobType>BlockBlob</BlobType>"
        "<LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
        "</Properties></Blob>"
    )


async def _receive(request: web.Request, dest: Path) -> tuple[int, str]:
    """Stream the body to ``dest``; its size and base64 MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    # plain file writes: 64 KiB chunks to a local disk do not stall the loop noticeably
    with dest.open("wb") as out:
        async for chunk in request.content.iter_chunked(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return size, base64.b64encode(digest.digest()).decode()
