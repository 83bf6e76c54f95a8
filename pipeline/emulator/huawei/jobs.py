"""Huawei voice-training jobs over HTTP: create (per edition), commit, show, list, delete.

With ``fault_rate > 0`` a create is, with probability ``fault_rate * lost_answer_share``,
performed and then its connection dropped unanswered: the client must find the job through the
list API. Commit takes one resource of the edition on a job's first commit only; a commit after
AUDIT_FAILED reuses it; the content audit (``huawei.audit``) runs at commit time, its verdict
shows when the emulated SYSTEM_AUDITING stage ends; a forced ``SUCCEED`` outcome skips the
content audit. Delete is allowed in every state, removes the job's objects and does not refund
the quota. ``X-App-UserId`` is recorded as ``app_user_id`` but does not scope list/show/delete.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

import anyio
import anyio.to_thread
from aiohttp import web

from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.huawei import audit, params, plays
from pipeline.emulator.huawei.audit import LETTER_NAME
from pipeline.emulator.huawei.book import CreateRecord, JobBook
from pipeline.emulator.huawei.errors import validation
from pipeline.emulator.huawei.gateway import Gateway, Handler
from pipeline.emulator.huawei.model import (
    SENTENCES,
    AuditError,
    CreateType,
    HuaweiSettings,
    Job,
    JobState,
    JobType,
    forced_state,
    new_submission,
)
from pipeline.emulator.huawei.uploads import PACKAGE_NAME, JobFiles
from pipeline.emulator.huawei.views import job_json

#: The create route of each edition, under ``/user/``.
CREATE_ROUTES: Final[Mapping[str, JobType]] = {
    "basic-jobs": JobType.BASIC,
    "middle-jobs": JobType.MIDDLE,
    "advance-jobs": JobType.ADVANCE,
    "third-party-jobs": JobType.THIRD_PARTY,
}


class Jobs:
    """The job routes."""

    def __init__(
        self,
        ctx: EmulatorContext,
        settings: HuaweiSettings,
        book: JobBook,
        files: JobFiles,
        gateway: Gateway,
    ) -> None:
        self._ctx = ctx
        self._settings = settings
        self._book = book
        self._files = files
        self._gateway = gateway

    def creator(self, job_type: JobType) -> Handler:
        """The create handler of one edition."""

        async def create(request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
            data = params.json_object(body, request.content_type)
            meta, create_type = params.parse_create(data, request.headers.get("X-App-UserId"))
            if create_type is CreateType.SEGMENT and job_type not in SENTENCES:
                raise validation(f"create_type SEGMENT is not supported for {job_type} jobs")
            kept = plays.stored_batch_name(self._ctx.options, meta.batch_name, tenant)
            meta = dataclasses.replace(meta, batch_name=kept)
            job = self._book.create(tenant, job_type, create_type, meta, self._ctx.clock.now())
            lost = self._gateway.answer_lost()
            self._book.creates.append(
                CreateRecord(
                    tenant=tenant,
                    job_id=job.job_id,
                    voice_name=meta.voice_name,
                    batch_name=meta.batch_name,
                    job_type=job_type,
                    real_time=self._ctx.clock.real_now(),
                    emulated_time=job.created_at,
                    answered=not lost,
                )
            )
            # The URLs are minted with the job, as the real service does: an answer held back
            # (create_answer_delay_s) hands out URLs that have aged by then.
            slots = plays.segment_slots(self._ctx.options, job, SENTENCES.get(job_type, 0))
            answer = {"job_id": job.job_id, **self._files.upload_urls(job, "create", slots)}
            if self._settings.create_answer_delay_s > 0:
                await anyio.sleep(self._settings.create_answer_delay_s)
            if lost and request.transport is not None:
                request.transport.abort()
                return web.Response()  # never sent
            return web.json_response(answer)

        return create

    async def commit(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        data = params.json_object(body, request.content_type)
        changes = params.parse_commit(data)
        job_id = request.match_info["job_id"]
        now = self._ctx.clock.now()
        job = self._book.begin_commit(tenant, job_id, now)
        meta = dataclasses.replace(job.meta, **changes)
        submission = None
        try:
            forced = forced_state(self._ctx.options.forced_outcome(meta.voice_name))
            errors: list[AuditError] = []
            if forced is not JobState.SUCCEED:
                errors = await self._audit(job)
            if forced is JobState.AUDIT_FAILED and not errors:
                errors = [audit.forced_error(job.job_type)]
            outcome = JobState.AUDIT_FAILED if errors else (forced or JobState.SUCCEED)
            # Manual review refuses what the system audit let through.
            admin_rejected = not errors and plays.rejects_in_review(self._ctx.options)
            if admin_rejected:
                outcome = JobState.AUDIT_FAILED
            submission = new_submission(
                job.job_type,
                now,
                outcome,
                tuple(errors),
                self._settings.durations,
                admin_rejected=admin_rejected,
            )
        finally:
            committed = self._book.finish_commit(job, meta, submission)
        if committed is None:
            self._book.get(tenant, job_id)  # raises the not-found error
        return web.Response(status=200)

    async def _audit(self, job: Job) -> list[AuditError]:
        letter_obj = self._files.get(job, LETTER_NAME)
        letter = None if letter_obj is None else (letter_obj.path, letter_obj.content_type)
        limits = self._settings.limits
        if job.create_type is CreateType.PACKAGE:
            package = self._files.get(job, PACKAGE_NAME)
            package_path = None if package is None else package.path

            def run() -> list[AuditError]:
                return audit.audit_package(job.job_type, package_path, limits) + audit.audit_letter(
                    letter
                )

        else:
            count = SENTENCES[job.job_type]
            files = {index: self._files.segment_paths(job, index) for index in range(count)}

            def run() -> list[AuditError]:
                return audit.audit_segments(count, job.confirmed, files) + audit.audit_letter(
                    letter
                )

        return await anyio.to_thread.run_sync(run)

    async def show(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        job = self._book.get(tenant, request.match_info["job_id"])
        return web.json_response(self.job_json(job, self._ctx.clock.now()))

    async def delete(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        job = self._book.delete(tenant, request.match_info["job_id"])
        await self._files.delete(job)
        return web.Response(status=200)

    async def list(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        query = params.parse_list(request.rel_url.query)
        now = self._ctx.clock.now()
        count, jobs = self._book.query(tenant, query, now)
        return web.json_response({"count": count, "jobs": [self.job_json(j, now) for j in jobs]})

    def job_json(self, job: Job, now: float) -> dict[str, Any]:
        authorization_url, input_url = self._files.download_urls(job)
        return job_json(job, now, authorization_url=authorization_url, input_url=input_url)
