"""An OBS-like object store behind the emulator's pre-signed upload URLs (reference §7).

URLs look like OBS query-signed URLs::

    {base_url}/obs/{bucket}/{key}?AccessKeyId=…&Expires=<unix seconds>&Signature=…

``Signature`` is a base64 HMAC-SHA256, under a secret only this store knows, over the method,
the Content-Type the URL was minted for, ``Expires`` and ``/{bucket}/{key}``. Like OBS (which
signs the Content-Type too), a PUT whose Content-Type differs from the minted one is refused
with 403 ``SignatureDoesNotMatch``. A URL may be minted for several acceptable types (the
authorization letter: PDF, JPEG or PNG); the store then accepts any of them and records which
one arrived. Comparison is on the exact header value: ``text/plain; charset=utf-8`` is not
``text/plain``, as with a real signed URL.

What a PUT must get right, and what it gets otherwise (XML error bodies, as OBS/S3 send):
``Transfer-Encoding: chunked`` → 501 ``NotImplemented``; no ``Content-Length`` → 411
``MissingContentLength``; ``Expires`` in the past (real time) → 403 ``AccessDenied`` "Request has
expired"; bad signature, unknown key or wrong Content-Type → 403 ``SignatureDoesNotMatch``.

Bodies are streamed to a part file on disk and renamed into place only when complete, so an
interrupted upload (an injected connection reset, a client that gives up) never leaves an
object behind and never replaces the previous version. Nothing is kept in memory but the index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import secrets
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final
from urllib.parse import quote
from xml.sax.saxutils import escape

import anyio
import anyio.to_thread
from aiohttp import web

from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.durable import Part
from pipeline.emulator.errors import ServiceError
from pipeline.emulator.faults import reset_midway

PREFIX: Final = "/obs"
ACCESS_KEY_ID: Final = "EMULATOROBSACCESSKEY"
_CHUNK: Final = 256 * 1024
_FLUSH: Final = 1 << 20


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredObject:
    """One object as stored: where its bytes are on disk and what Content-Type came with them."""

    bucket: str
    key: str
    path: Path
    content_type: str
    size: int
    #: an opaque version tag. Real OBS answers the body's MD5; the emulator does not hash
    #: bodies (MD5 was a third of its CPU in `make bench`, where it shares the cores with the
    #: client) and nothing in this project reads the tag.
    etag: str
    stored_at: float  #: real Unix time


class StoreError(ServiceError):
    """An OBS-style error answer."""

    def response(self) -> web.Response:
        request_id = uuid.uuid4().hex
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        return web.Response(
            status=self.status,
            text=body,
            content_type="application/xml",
            headers={"x-obs-request-id": request_id, "X-Request-Id": request_id},
        )


_EXPIRED = (403, "AccessDenied", "Request has expired")
_BAD_SIGNATURE = (
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided.",
)


class ObjectStore:
    """Mints pre-signed URLs and serves the PUTs (and GETs) made to them."""

    def __init__(self, ctx: EmulatorContext, *, secret: bytes | None = None) -> None:
        self._ctx = ctx
        self._secret = secret or secrets.token_bytes(32)
        self._root = ctx.storage / "obs"
        #: (bucket, key) → the Content-Types a PUT URL was minted for
        self._grants: dict[tuple[str, str], tuple[str, ...]] = {}
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._outcomes: Counter[str] = Counter()

    def install(self, app: web.Application) -> None:
        """Add ``PUT``/``GET {PREFIX}/{bucket}/{key}`` to ``app``."""
        app.router.add_route("PUT", PREFIX + "/{bucket}/{key:.+}", self._put)
        app.router.add_route("GET", PREFIX + "/{bucket}/{key:.+}", self._get)

    def durable_part(self) -> Part:
        """What a state file keeps (``durable``): the signing secret (so URLs minted before a
        restart stay valid), the grants, the object index and the PUT outcomes."""
        return Part(self, ("_secret", "_grants", "_objects", "_outcomes"))

    # -- minting ---------------------------------------------------------------------------

    def presign_put(self, bucket: str, key: str, content_types: tuple[str, ...]) -> str:
        """A URL that accepts one PUT of ``key`` with any of ``content_types``, for url_ttl."""
        _check_key(bucket, key)
        self._grants[(bucket, key)] = content_types
        return self._url("PUT", bucket, key, "|".join(content_types))

    def presign_get(self, bucket: str, key: str) -> str:
        """A URL to read ``key`` back (what ``voice_authorization_url`` points at)."""
        _check_key(bucket, key)
        return self._url("GET", bucket, key, "")

    def _url(self, method: str, bucket: str, key: str, content_type: str) -> str:
        # Round up so a URL is valid for at least url_ttl real seconds.
        expires = math.ceil(self._ctx.clock.real_now() + self._ctx.options.url_ttl)
        signature = self._sign(method, content_type, expires, bucket, key)
        return (
            f"{self._ctx.base_url}{PREFIX}/{quote(bucket)}/{quote(key)}"
            f"?AccessKeyId={ACCESS_KEY_ID}&Expires={expires}"
            f"&Signature={quote(signature, safe='')}"
        )

    def _sign(self, method: str, content_type: str, expires: int, bucket: str, key: str) -> str:
        message = f"{method}\n{content_type}\n{expires}\n/{bucket}/{key}".encode()
        mac = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.b64encode(mac).decode("ascii")

    # -- inspection ------------------------------------------------------------------------

    def get(self, bucket: str, key: str) -> StoredObject | None:
        """The stored object at ``key``, or None."""
        return self._objects.get((bucket, key))

    def objects(self, bucket: str | None = None, prefix: str = "") -> list[StoredObject]:
        """Stored objects, optionally of one bucket and under a key prefix, sorted by key."""
        found = [
            obj
            for (b, k), obj in self._objects.items()
            if (bucket is None or b == bucket) and k.startswith(prefix)
        ]
        return sorted(found, key=lambda obj: (obj.bucket, obj.key))

    @property
    def outcomes(self) -> Mapping[str, int]:
        """How PUTs ended: stored, expired, bad_signature, wrong_content_type, chunked,
        no_length, reset (injected), interrupted (client side)."""
        return dict(self._outcomes)

    async def delete_prefix(self, bucket: str, prefix: str) -> None:
        """Forget and remove every object (and every URL grant) under ``prefix``."""
        doomed = [k for k in self._objects if k[0] == bucket and k[1].startswith(prefix)]
        paths = [self._objects.pop(k).path for k in doomed]
        for grant in [k for k in self._grants if k[0] == bucket and k[1].startswith(prefix)]:
            del self._grants[grant]
        await anyio.to_thread.run_sync(_unlink_all, paths)

    # -- serving ---------------------------------------------------------------------------

    async def _put(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve_put(request)
        except StoreError as error:
            return error.response()

    async def _serve_put(self, request: web.Request) -> web.StreamResponse:
        bucket, key = request.match_info["bucket"], request.match_info["key"]
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            self._outcomes["chunked"] += 1
            raise StoreError(
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
            )
        length = request.content_length
        if length is None:
            self._outcomes["no_length"] += 1
            raise StoreError(411, "MissingContentLength", "You must provide the Content-Length")
        allowed = self._grants.get((bucket, key))
        self._check_query(request, "PUT", bucket, key, "|".join(allowed or ()))
        if allowed is None:
            self._outcomes["bad_signature"] += 1
            raise StoreError(*_BAD_SIGNATURE)
        content_type = request.headers.get("Content-Type", "").strip()
        if content_type not in allowed:
            self._outcomes["wrong_content_type"] += 1
            raise StoreError(
                403,
                "SignatureDoesNotMatch",
                f"{_BAD_SIGNATURE[2]} This URL was signed for Content-Type "
                f"{' or '.join(allowed)}, the request has {content_type or 'none'}.",
            )
        final = self._root / bucket / key
        if self._ctx.faults.upload_fault():
            await reset_midway(request, chunk=_CHUNK)
            self._outcomes["reset"] += 1
            return web.Response()  # never sent: the transport is gone
        stored = await self._receive(request, final, length)
        if stored is None:
            self._outcomes["interrupted"] += 1
            raise StoreError(400, "IncompleteBody", "The body is shorter than Content-Length")
        obj = StoredObject(
            bucket=bucket,
            key=key,
            path=final,
            content_type=content_type,
            size=length,
            etag=stored,
            stored_at=self._ctx.clock.real_now(),
        )
        self._objects[(bucket, key)] = obj
        self._outcomes["stored"] += 1
        return web.Response(status=200, headers={"ETag": f'"{stored}"'})

    def _check_query(
        self, request: web.Request, method: str, bucket: str, key: str, content_type: str
    ) -> None:
        query = request.rel_url.query
        try:
            expires = int(query["Expires"])
            signature = query["Signature"]
            access_key = query["AccessKeyId"]
        except (KeyError, ValueError):
            self._outcomes["bad_signature"] += 1
            raise StoreError(
                403,
                "AccessDenied",
                "Query-string authentication requires AccessKeyId, Expires and Signature",
            ) from None
        if expires < self._ctx.clock.real_now():
            self._outcomes["expired"] += 1
            raise StoreError(*_EXPIRED)
        expected = self._sign(method, content_type, expires, bucket, key)
        if access_key != ACCESS_KEY_ID or not hmac.compare_digest(expected, signature):
            self._outcomes["bad_signature"] += 1
            raise StoreError(*_BAD_SIGNATURE)

    async def _receive(self, request: web.Request, final: Path, length: int) -> str | None:
        """Stream the body to a part file and rename it over ``final``; the new ETag, or None
        when the body ended short."""
        part = final.with_name(f"{final.name}.part-{uuid.uuid4().hex}")
        handle: BinaryIO = await anyio.to_thread.run_sync(_open_part, part)
        received = 0
        pending: list[bytes] = []
        pending_bytes = 0
        done = False
        try:
            # The socket hands out 64-256 KiB at a time; writes go to a worker thread in
            # batches of _FLUSH bytes, so a body costs a handful of thread hops, not one a chunk.
            try:
                async for chunk in request.content.iter_chunked(_CHUNK):
                    received += len(chunk)
                    pending.append(chunk)
                    pending_bytes += len(chunk)
                    if pending_bytes >= _FLUSH:
                        await anyio.to_thread.run_sync(handle.writelines, pending)
                        pending, pending_bytes = [], 0
            except ConnectionResetError:
                # The client went away mid-body (a run stopped by SIGTERM): an incomplete
                # upload like any other, not a server error with a traceback in the log.
                return None
            if received == length:
                await anyio.to_thread.run_sync(handle.writelines, pending)
                await anyio.to_thread.run_sync(_close_and_replace, handle, part, final)
                done = True
        finally:
            if not done:
                # Shielded: a cancelled handler (client went away) must still clean up.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(_close_and_unlink, handle, part)
        return uuid.uuid4().hex if done else None

    async def _get(self, request: web.Request) -> web.StreamResponse:
        bucket, key = request.match_info["bucket"], request.match_info["key"]
        try:
            self._check_query(request, "GET", bucket, key, "")
            obj = self._objects.get((bucket, key))
            if obj is None:
                raise StoreError(404, "NoSuchKey", "The specified key does not exist.")
        except StoreError as error:
            return error.response()
        return web.FileResponse(obj.path, headers={"Content-Type": obj.content_type})


def _check_key(bucket: str, key: str) -> None:
    # Keys come from the emulator itself; this guards the disk layout against a coding slip.
    parts = [bucket, *key.split("/")]
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"unsafe object key {bucket}/{key}")


def _open_part(part: Path) -> BinaryIO:
    part.parent.mkdir(parents=True, exist_ok=True)
    return part.open("wb")


def _close_and_replace(handle: BinaryIO, part: Path, final: Path) -> None:
    handle.close()
    os.replace(part, final)


def _close_and_unlink(handle: BinaryIO, part: Path) -> None:
    handle.close()
    part.unlink(missing_ok=True)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
