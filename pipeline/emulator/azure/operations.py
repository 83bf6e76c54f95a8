"""Long-running creates and their operations: ``Operation-Id``, replays, ``GET /operations/{id}``.

A consent or personal voice create reads its body into a staging folder, builds the record
(``build``: the resource's own checks), then commits both the files and the record at once.

* An identical retry (same method, path and body digest — form fields and file bytes for
  multipart, canonical JSON otherwise; query and headers ignored) with a used ``Operation-Id``
  replays the original answer: same status, body and headers. A different request with a used
  ``Operation-Id`` is 400 ``BadRequest``. Only successful creates register an ``Operation-Id``,
  so a request that failed validation can be corrected and sent again with the same id.
* A create whose id exists (not an identical replay) is 400 ``BadRequest`` with a
  ``BadArgument`` detail "already exists"; resources are never replaced.
* Deleting a resource forgets its operations and their replays (``AzureState``): the same
  ``Operation-Id`` and request afterwards is a new create, never a 201 replayed for a resource
  that no longer exists.
* ``Operation-Location`` names ``AzureState.link_base`` (another host under
  ``azure-foreign-host-links``).
* ``upload_fault_rate`` drops multipart creates mid-body.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from pipeline.emulator.azure.bodies import (
    Body,
    read_json,
    read_multipart,
    request_fingerprint,
)
from pipeline.emulator.azure.errors import AzureError, bad_argument, not_found
from pipeline.emulator.azure.records import Consent, Operation, PersonalVoice, Replay, check_id
from pipeline.emulator.azure.state import AzureState
from pipeline.emulator.faults import reset_midway

R = TypeVar("R", Consent, PersonalVoice)
#: (request, resource id, operation id, body, where its files will live) → the new record
Build = Callable[[web.Request, str, str, Body, Path], Awaitable[R]]


class Operations:
    """Creates consents and personal voices under an ``Operation-Id``; serves operations."""

    def __init__(self, state: AzureState) -> None:
        self._state = state

    async def create(
        self, request: web.Request, version: str, kind: str, build: Build[R]
    ) -> web.StreamResponse:
        """Serve a PUT (JSON) or POST (multipart) create of a ``kind`` resource."""
        state = self._state
        rid = check_id(request.match_info["id"], "id")
        op_header = request.headers.get("Operation-Id")
        if op_header is not None:
            check_id(op_header, "Operation-Id")
        if request.method == "POST" and state.ctx.faults.upload_fault():
            state.tally.upload_resets += 1
            await reset_midway(request)
            return web.Response()  # never sent: the connection is gone
        staging = state.staging()
        try:
            if request.method == "POST":
                body = await read_multipart(request, staging, frozenset({"audiodata"}))
            else:
                body = await read_json(request, staging)
            fingerprint = request_fingerprint(request, body.fingerprint)
            replay = self._settled(kind, rid, op_header, fingerprint)
            if replay is not None:
                return replay
            if kind == "personalvoice":
                state.forbid_unapproved()
            op_id = op_header or state.new_id()
            final = state.root / f"{kind}s" / rid
            record = await build(request, rid, op_id, body, final)
            # the build awaited (form, blobs): a twin request may have finished meanwhile
            replay = self._settled(kind, rid, op_header, fingerprint)
            if replay is not None:
                return replay
            shutil.rmtree(final, ignore_errors=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            body.staging.rename(final)
            location = (
                f"{state.link_base(request)}/customvoice/operations/{op_id}?api-version={version}"
            )
            headers = {"Operation-Id": op_id, "Operation-Location": location}
            # the 201 body shows the resource as created: NotStarted, both timestamps = now
            raw = json.dumps(record.to_json(record.timeline.created, version)).encode()
            if isinstance(record, Consent):
                state.consents[record.id] = record
            else:
                state.voices[record.id] = record
            state.operations[op_id] = Operation(op_id, kind, rid, record.timeline)
            state.replays[op_id] = Replay(fingerprint, 201, raw, tuple(headers.items()))
            state.tally.creates[kind] += 1
            return web.Response(
                body=raw, status=201, content_type="application/json", headers=headers
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already if committed

    def _settled(
        self, kind: str, rid: str, op_id: str | None, fingerprint: str
    ) -> web.Response | None:
        """The replay for an identical retry, or None to go on; raises for conflicts."""
        if op_id is not None:
            replay = self._state.replays.get(op_id)
            if replay is not None:
                if replay.fingerprint != fingerprint:
                    raise AzureError(
                        400,
                        f"The Operation-Id '{op_id}' was used by a different request.",
                        code="BadRequest",
                    )
                self._state.tally.replays += 1
                return web.Response(
                    body=replay.body,
                    status=replay.status,
                    content_type="application/json",
                    headers=dict(replay.headers),
                )
        if rid in self._state.table(kind):
            label = "consent" if kind == "consent" else "personal voice"
            raise bad_argument("id", f"A {label} with id '{rid}' already exists.")
        return None

    async def get(self, request: web.Request, version: str) -> web.StreamResponse:
        """``GET /operations/{id}``: the status of the resource it created."""
        op = self._state.operations.get(request.match_info["id"])
        if op is None:
            raise not_found("operation", request.match_info["id"])
        status, _ = op.timeline.status_at(self._state.now())
        return web.json_response({"id": op.id, "status": status})
