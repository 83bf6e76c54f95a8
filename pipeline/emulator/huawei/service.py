"""The Huawei MetaStudio voice-training half of the emulator: routes and inspection.

``HuaweiService`` wires the routes under ``/v1/{project_id}/voice-training-manage`` and offers
read-only inspection for tests and ``GET /_emulator/state``. The behaviour lives with each
resource, and each module's docstring lists the choices it makes where the reference is silent:
``huawei.gateway`` (latency, authentication, throttling, injected faults), ``huawei.jobs``
(create, commit, show, list, delete; lost create answers), ``huawei.uploads`` (object layout
and URLs), ``huawei.segments`` (sentence confirmation), ``huawei.history`` (audit result,
op-logs), ``huawei.tenant`` (quotas, duration configuration), ``huawei.errors`` and
``huawei.params`` (error codes, validation), ``huawei.plays`` (the undocumented alternatives).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.durable import Part
from pipeline.emulator.huawei import plays
from pipeline.emulator.huawei.book import CreateRecord, JobBook
from pipeline.emulator.huawei.gateway import API_ROOT, CallRecord, Gateway
from pipeline.emulator.huawei.history import History
from pipeline.emulator.huawei.jobs import CREATE_ROUTES, Jobs
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.huawei.segments import Segments
from pipeline.emulator.huawei.tenant import TenantConfig
from pipeline.emulator.huawei.uploads import JobFiles
from pipeline.emulator.huawei.views import JobView, job_view
from pipeline.emulator.store import ObjectStore, StoredObject


class HuaweiService:
    """Serves ``/v1/{project_id}/voice-training-manage/...`` like MetaStudio does."""

    def __init__(
        self,
        ctx: EmulatorContext,
        *,
        store: ObjectStore | None = None,
        settings: HuaweiSettings | None = None,
    ) -> None:
        self._ctx = ctx
        self._owns_store = store is None
        self.store = store if store is not None else ObjectStore(ctx)
        self.settings = plays.settings_for(ctx.options, settings or HuaweiSettings())
        self._book = JobBook(self.settings)
        self._files = JobFiles(self.store)
        self._gateway = Gateway(ctx, self.settings)
        self._jobs = Jobs(ctx, self.settings, self._book, self._files, self._gateway)
        self._segments = Segments(ctx, self._book, self._files)
        self._history = History(ctx, self._book)
        self._tenant = TenantConfig(self.settings, self._book)

    # -- routes ----------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add the API routes (and the object store, when this service created it)."""
        if self._owns_store:
            self.store.install(app)
        add = app.router.add_route
        endpoint = self._gateway.endpoint
        jobs, segments, history = self._jobs, self._segments, self._history
        for path, job_type in CREATE_ROUTES.items():
            add("POST", f"{API_ROOT}/user/{path}", endpoint("create", jobs.creator(job_type)))
        job_path = API_ROOT + "/user/jobs/{job_id}"
        add("POST", job_path, endpoint("commit", jobs.commit))
        add("GET", job_path, endpoint("show", jobs.show))
        add("DELETE", job_path, endpoint("delete", jobs.delete))
        add("GET", API_ROOT + "/user/jobs", endpoint("list", jobs.list))
        add("GET", job_path + "/audit-result", endpoint("audit_result", history.audit_result))
        add(
            "GET",
            job_path + "/uploading-address-url",
            endpoint("uploading_address", segments.uploading_address),
        )
        add("GET", job_path + "/op-logs", endpoint("op_logs", history.op_logs))
        segment_path = API_ROOT + "/user/training-segment"
        add("POST", segment_path, endpoint("confirm_segment", segments.confirm))
        add("GET", segment_path, endpoint("segment_info", segments.info))
        add("GET", API_ROOT + "/quotas", endpoint("quotas", self._tenant.quotas))
        add(
            "GET",
            API_ROOT + "/user/tenant-duration-cfg",
            endpoint("tenant_duration_cfg", self._tenant.duration_cfg),
        )
        # Registered last: aiohttp tries resources in order, so this only sees what no route
        # above matched (an unknown path, or a known path with another method).
        add("*", API_ROOT + "/{tail:.*}", self._gateway.unknown_api)

    # -- inspection (read-only; for tests and GET /_emulator/state) ------------------------

    def tenants(self) -> list[str]:
        """Every project_id that has been seen."""
        return [tenant.project_id for tenant in self._book.tenants()]

    def jobs(self, tenant: str | None = None) -> list[JobView]:
        """Jobs (of one tenant, or all) in creation order, with their state at emulated now."""
        now = self._ctx.clock.now()
        return [
            job_view(job, now)
            for book in self._book.tenants()
            if tenant is None or book.project_id == tenant
            for job in book.jobs.values()
        ]

    def job(self, job_id: str) -> JobView | None:
        """One job by id at emulated now, or None (unknown or deleted)."""
        job = self._book.find(job_id)
        return None if job is None else job_view(job, self._ctx.clock.now())

    def objects(self, job_id: str) -> dict[str, StoredObject]:
        """The stored objects of a job by name (``training_data.zip``, ``segments/0.wav``,
        ``authorization_letter`` …), each with its Content-Type, size and path on disk."""
        job = self._book.find(job_id)
        return {} if job is None else self._files.all(job)

    @property
    def calls(self) -> tuple[CallRecord, ...]:
        """The latest API calls (up to CALL_LOG_SIZE), in the order they were answered."""
        return self._gateway.calls

    def counters(self, tenant: str | None = None) -> dict[str, int]:
        """Calls per API kind (including refused, throttled and faulted ones)."""
        return self._gateway.counters(tenant)

    @property
    def creates(self) -> tuple[CreateRecord, ...]:
        """Every create that made a job, with real and emulated timestamps."""
        return tuple(self._book.creates)

    def quota(self, tenant: str) -> dict[str, int]:
        """Remaining training resources per edition (resource_available_nums field names)."""
        return self._tenant.quota(tenant)

    def durable_parts(self) -> dict[str, Part]:
        """The tables a state file keeps (``durable``): jobs, creates, per-API call counts."""
        parts = {
            "huawei.book": Part(self._book, ("_tenants", "creates")),
            # Not the call log: up to CALL_LOG_SIZE records, pickled on every commit.
            "huawei.gateway": Part(self._gateway, ("_counts",)),
        }
        if self._owns_store:
            parts["obs"] = self.store.durable_part()
        return parts

    def restored(self) -> None:
        """After a restart from a state file: commits that were in flight died with the old
        process (their answers were never sent), so none is in flight now."""
        for tenant in self._book.tenants():
            tenant.committing.clear()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view of everything above, for ``GET /_emulator/state``."""
        tenants: dict[str, Any] = {}
        for view in self.jobs():
            entry = tenants.setdefault(view.tenant, {"quota": self.quota(view.tenant), "jobs": []})
            entry["jobs"].append(
                {
                    "job_id": view.job_id,
                    "job_type": str(view.job_type),
                    "create_type": str(view.create_type),
                    "voice_name": view.voice_name,
                    "batch_name": view.batch_name,
                    "state": str(view.state),
                    "reject_times": view.reject_times,
                    "commits": view.commits,
                    "confirmed_index": sorted(view.confirmed),
                    "objects": {
                        name: {
                            "content_type": obj.content_type,
                            "size": obj.size,
                            "path": str(obj.path),
                        }
                        for name, obj in self.objects(view.job_id).items()
                    },
                }
            )
        return {
            "tenants": tenants,
            "counters": self.counters(),
            "creates": [
                {
                    "tenant": record.tenant,
                    "job_id": record.job_id,
                    "voice_name": record.voice_name,
                    "real_time": record.real_time,
                    "emulated_time": record.emulated_time,
                    "answered": record.answered,
                }
                for record in self._book.creates
            ],
            "uploads": dict(self.store.outcomes),
        }
