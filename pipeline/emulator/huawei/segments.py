"""Uploading a Huawei job's data: fresh upload URLs, and sentence-by-sentence confirmation.

Confirm-segment is allowed in CREATING/AUDIT_FAILED only; it confirms an index when its WAV and
TXT are uploaded and pass the sentence checks (a failing re-confirm un-confirms it), and never
reports ``unmatched_index_hit`` entries. Both sentence calls refuse a PACKAGE job (400).
"""

from __future__ import annotations

import dataclasses

import anyio
import anyio.to_thread
from aiohttp import web

from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.huawei import audit, params, plays
from pipeline.emulator.huawei.book import JobBook
from pipeline.emulator.huawei.errors import WRONG_STATE, HuaweiError, validation
from pipeline.emulator.huawei.model import COMMITTABLE, SENTENCES, CreateType, Job
from pipeline.emulator.huawei.uploads import JobFiles


class Segments:
    """``uploading-address-url``, ``training-segment`` (POST confirm, GET info)."""

    def __init__(self, ctx: EmulatorContext, book: JobBook, files: JobFiles) -> None:
        self._ctx = ctx
        self._book = book
        self._files = files

    async def uploading_address(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        job = self._book.get(tenant, request.match_info["job_id"])
        slots = plays.segment_slots(self._ctx.options, job, SENTENCES.get(job.job_type, 0))
        return web.json_response(self._files.upload_urls(job, "address", slots))

    async def confirm(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        query = request.rel_url.query
        job_id = params.required_param(query, "job_id")
        index = params.required_int(query, "index", 0, 1024)
        job = self._segment_job(tenant, job_id)
        state = job.state_at(self._ctx.clock.now())
        if state not in COMMITTABLE:
            raise HuaweiError(
                400,
                WRONG_STATE,
                f"Training job {job_id} is {state}; sentences can no longer change",
            )
        wav, txt = self._files.segment_paths(job, index)
        ok = False
        if wav is not None and txt is not None:
            problems = await anyio.to_thread.run_sync(audit.segment_errors, index, wav, txt)
            ok = not problems
        current = self._book.get(tenant, job_id)
        confirmed = current.confirmed | {index} if ok else current.confirmed - {index}
        self._book.replace(dataclasses.replace(current, confirmed=confirmed))
        return web.json_response({"confirm_result": ok, "unmatched_index_hit": []})

    async def info(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        job_id = params.required_param(request.rel_url.query, "job_id")
        job = self._segment_job(tenant, job_id)
        return web.json_response({"confirmed_index": sorted(job.confirmed)})

    def _segment_job(self, tenant: str, job_id: str) -> Job:
        job = self._book.get(tenant, job_id)
        if job.create_type is not CreateType.SEGMENT:
            raise validation(f"training job {job_id} was created with create_type PACKAGE")
        return job
