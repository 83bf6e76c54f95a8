"""A Huawei tenant's own settings: training quotas and the audio-duration configuration."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from pipeline.emulator.huawei import params
from pipeline.emulator.huawei.book import JobBook
from pipeline.emulator.huawei.model import RESOURCE_FIELD, HuaweiSettings, JobType


class TenantConfig:
    """``/quotas`` and ``/user/tenant-duration-cfg``."""

    def __init__(self, settings: HuaweiSettings, book: JobBook) -> None:
        self._settings = settings
        self._book = book

    async def quotas(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        offset, limit = params.page(request.rel_url.query)
        book = self._book.tenant(tenant)
        available = {"flexus": 0, "middle_on_demand": 0}
        resources = []
        for job_type in JobType:
            available[RESOURCE_FIELD[job_type]] = book.available[job_type]
            resources.append(
                {
                    "operation_type": "ADD",
                    "resource_source": "PURCHASED",
                    "resource_id": f"{tenant}-{job_type.lower()}",
                    "resource_nums": book.initial,
                    "resource_available_nums": book.available[job_type],
                    "resource_type": str(job_type),
                    "charge_mode": "ONE_TIME",
                    "expire_time": "2099-12-31T23:59:59Z",
                    "status": 0,
                }
            )
        return web.json_response(
            {
                "count": len(resources),
                "resource_available_nums": available,
                "resources": resources[offset : offset + limit],
            }
        )

    async def duration_cfg(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        return web.json_response({"tenant_id": tenant, **dataclasses.asdict(self._settings.limits)})

    def quota(self, tenant: str) -> dict[str, int]:
        """Remaining training resources per edition (resource_available_nums field names)."""
        book = self._book.tenant(tenant)
        return {RESOURCE_FIELD[job_type]: book.available[job_type] for job_type in JobType}
