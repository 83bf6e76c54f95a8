"""What happened to a Huawei job: its audit result and its op-logs (``huawei.views`` renders)."""

from __future__ import annotations

from aiohttp import web

from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.huawei import params
from pipeline.emulator.huawei.book import JobBook
from pipeline.emulator.huawei.views import audit_result_json, op_logs


class History:
    """``/user/jobs/{job_id}/audit-result`` and ``/user/jobs/{job_id}/op-logs``."""

    def __init__(self, ctx: EmulatorContext, book: JobBook) -> None:
        self._ctx = ctx
        self._book = book

    async def audit_result(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        job = self._book.get(tenant, request.match_info["job_id"])
        return web.json_response(audit_result_json(job, self._ctx.clock.now()))

    async def op_logs(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        offset, limit = params.page(request.rel_url.query)
        job = self._book.get(tenant, request.match_info["job_id"])
        entries = op_logs(job, self._ctx.clock.now())
        return web.json_response(
            {"count": len(entries), "operations": entries[offset : offset + limit]}
        )
