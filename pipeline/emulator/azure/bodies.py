"""Reading request bodies: multipart forms streamed to disk, JSON, their fields and fingerprints.

A multipart body is written part by part into a staging folder while it is hashed, so audio is
never held in memory and an ``Operation-Id`` retry can be compared with the first request. The
fingerprint covers the parsed parts (name, file name, bytes) rather than the raw body, because a
client's retry picks a new multipart boundary.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aiohttp import BodyPartReader, web

from pipeline.emulator.azure.blob_fetch import MAX_FILE_BYTES
from pipeline.emulator.azure.errors import AzureError, bad_argument

MAX_JSON_BYTES: Final = 1024 * 1024
MAX_FIELD_BYTES: Final = 64 * 1024
MAX_PARTS: Final = 1000
_CHUNK: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class StagedFile:
    """One file part (or fetched blob) written into the staging folder."""

    part: str
    filename: str
    content_type: str
    size: int
    sha256: str
    name: str  #: file name inside the staging folder (never the client's, which may be hostile)


@dataclass(slots=True)
class Body:
    """A parsed create body: text fields by lower-cased name (multipart) or the JSON object."""

    fields: dict[str, object]
    files: list[StagedFile]
    fingerprint: str
    staging: Path

    def text(self, name: str) -> str | None:
        """A string field; multipart names are case-insensitive, JSON names exact."""
        value = self.fields.get(name, self.fields.get(name.lower()))
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_argument(name, f"{name} must be a string.")
        return value


def optional_text(body: Body, name: str) -> str | None:
    """A string field that may be absent but not empty."""
    value = body.text(name)
    if value is not None and not value:
        raise bad_argument(name, f"{name} must not be empty.")
    return value


def required_text(body: Body, name: str) -> str:
    """A string field that must be present and not empty."""
    value = body.text(name)
    if not value:
        raise bad_argument(name, f"{name} is required.")
    return value


def request_fingerprint(request: web.Request, body_digest: str) -> str:
    """What makes two requests "identical": method, path and the body's digest (not the query
    string or headers, which a retrying client may legitimately change)."""
    return hashlib.sha256(f"{request.method}\0{request.path}\0{body_digest}".encode()).hexdigest()


async def read_json(request: web.Request, staging: Path) -> Body:
    """A JSON object body; its fingerprint is over canonical JSON (key order, spacing ignored)."""
    if request.content_type != "application/json":
        raise AzureError(415, "The request body must be application/json.")
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise bad_argument("body", f"The request body is larger than {MAX_JSON_BYTES} bytes.")
    try:
        raw = await request.read()
        data = json.loads(raw)
    except web.HTTPRequestEntityTooLarge:
        raise bad_argument("body", "The request body is too large.") from None
    except (ValueError, UnicodeDecodeError):
        raise bad_argument("body", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_argument("body", "The request body must be a JSON object.")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return Body(data, [], hashlib.sha256(canonical.encode()).hexdigest(), staging)


async def read_multipart(request: web.Request, staging: Path, file_parts: frozenset[str]) -> Body:
    """Stream a multipart form into ``staging`` (an existing, empty folder).

    A part is a file when it has a file name or its lower-cased name is in ``file_parts``
    (``audiodata``); other file parts are kept too (and recorded) but the caller ignores them.
    """
    if request.content_type != "multipart/form-data":
        raise AzureError(415, "The request body must be multipart/form-data.")
    outer = hashlib.sha256()
    fields: dict[str, object] = {}
    files: list[StagedFile] = []
    try:
        reader = await request.multipart()
        count = 0
        while (part := await reader.next()) is not None:
            count += 1
            if not isinstance(part, BodyPartReader) or count > MAX_PARTS:
                raise bad_argument("body", "Nested or too many multipart parts.")
            name = part.name or ""
            if part.filename is not None or name.lower() in file_parts:
                staged = await _stage_file(part, name, staging, len(files))
                files.append(staged)
                outer.update(f"file\0{name}\0{staged.filename}\0{staged.sha256}\0".encode())
            else:
                value = await _read_field(part, name)
                fields[name.lower()] = value  # ASP.NET Core binds form names case-insensitively
                digest = hashlib.sha256(value.encode()).hexdigest()
                outer.update(f"field\0{name}\0{digest}\0".encode())
    except AzureError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except (ValueError, AssertionError, RuntimeError) as exc:
        # aiohttp's multipart reader signals malformed bodies with these
        shutil.rmtree(staging, ignore_errors=True)
        raise bad_argument("body", f"Failed to read the form: {type(exc).__name__}.") from None
    return Body(fields, files, outer.hexdigest(), staging)


async def _stage_file(part: BodyPartReader, name: str, staging: Path, index: int) -> StagedFile:
    local = f"{index:04d}.bin"
    digest = hashlib.sha256()
    size = 0
    # plain file writes: 64 KiB chunks to a local disk do not stall the loop noticeably
    with (staging / local).open("wb") as out:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise bad_argument(name, f"A file is larger than the {MAX_FILE_BYTES} byte limit.")
            digest.update(chunk)
            out.write(chunk)
    return StagedFile(
        part=name,
        filename=part.filename or "",
        content_type=part.headers.get("Content-Type", ""),
        size=size,
        sha256=digest.hexdigest(),
        name=local,
    )


async def _read_field(part: BodyPartReader, name: str) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data.extend(chunk)
        if len(data) > MAX_FIELD_BYTES:
            raise bad_argument(name, f"The form field {name} is too long.")
    try:
        return bytes(data).decode(part.get_charset("utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise bad_argument(name, f"The form field {name} is not valid text.") from None
