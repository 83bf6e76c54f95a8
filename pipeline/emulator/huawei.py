"""The Huawei MetaStudio voice-training half of the emulator: routes, gateway behaviour, inspection.

Every API call goes through the same gateway steps, in this order: added latency; token or
AK/SK authentication (401 ``MSS.00000001``); per-tenant, per-API throttling (429
``APIGW.0308``); an injected fault (500/503/429, decided before the handler runs, so a fault
never leaves a side effect behind); the handler. Every answer carries ``X-Request-Id``.

The one deliberate exception to "no side effects on failure" is the nasty real case of a create
that succeeded but whose answer was lost: with ``fault_rate > 0`` a create is, with probability
``fault_rate * lost_answer_share``, performed and then its connection dropped unanswered. The
client must find the job through the list API.

Choices where the reference is silent (see also ``huawei_errors`` and ``huawei_params``):

- upload objects live in bucket ``metastudio-voice-training`` under
  ``{project_id}/{job_id}/training_data.zip``, ``…/segments/{i}.wav|txt`` and
  ``…/authorization_letter``; a create or uploading-address call returns only the URLs of the
  job's ``create_type`` (PACKAGE: the zip; SEGMENT: one audio and one txt URL per sentence
  index 0..N-1) plus the letter URL, which accepts ``application/pdf``, ``image/jpeg`` or
  ``image/png`` (the store records which one arrived; the audit checks the file's magic bytes);
- commit takes one resource of the edition on a job's first commit only; a commit after
  AUDIT_FAILED reuses it; the content audit runs at commit time, its verdict shows when the
  emulated SYSTEM_AUDITING stage ends; a forced ``SUCCEED`` outcome skips the content audit;
- delete is allowed in every state, removes the job's objects and does not refund the quota;
- ``X-App-UserId`` is recorded as ``app_user_id`` but does not scope list/show/delete;
- confirm-segment is allowed in CREATING/AUDIT_FAILED only; it confirms an index when its WAV
  and TXT are uploaded and pass the sentence checks (a failing re-confirm un-confirms it), and
  never reports ``unmatched_index_hit`` entries.
"""

from __future__ import annotations

import dataclasses
import hmac
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.to_thread
from aiohttp import web

from pipeline.emulator import huawei_audit, huawei_params, signing
from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.huawei_errors import (
    API_NOT_FOUND,
    INTERNAL,
    METHOD_NOT_ALLOWED,
    THROTTLED,
    UNAUTHORIZED,
    WRONG_STATE,
    HuaweiError,
    throttled,
    validation,
)
from pipeline.emulator.huawei_jobs import CreateRecord, JobBook
from pipeline.emulator.huawei_model import (
    COMMITTABLE,
    RESOURCE_FIELD,
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
from pipeline.emulator.huawei_views import audit_result_json, job_json, op_logs
from pipeline.emulator.store import ObjectStore, StoredObject
from pipeline.emulator.throttle import SlidingWindowThrottle

API_ROOT: Final = "/v1/{project_id}/voice-training-manage"
#: How many recent calls ``calls`` keeps (a standalone emulator may run for days).
CALL_LOG_SIZE: Final = 100_000
BUCKET: Final = "metastudio-voice-training"
PACKAGE_TYPES: Final = ("application/zip",)
AUDIO_TYPES: Final = ("audio/wav",)
TEXT_TYPES: Final = ("text/plain",)
LETTER_TYPES: Final = tuple(huawei_audit.LETTER_MAGIC)
CREATE_ROUTES: Final[Mapping[str, JobType]] = {
    "basic-jobs": JobType.BASIC,
    "middle-jobs": JobType.MIDDLE,
    "advance-jobs": JobType.ADVANCE,
    "third-party-jobs": JobType.THIRD_PARTY,
}

Handler = Callable[[web.Request, str, bytes], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One API call as the gateway saw it."""

    kind: str  #: create, commit, show, list, delete, audit_result, …
    tenant: str
    status: int  #: HTTP status answered; 0 when the connection was dropped unanswered
    error_code: str | None
    real_time: float


@dataclass(frozen=True, slots=True, kw_only=True)
class JobView:
    """A job as the inspection API shows it, at the emulated moment it was asked for."""

    tenant: str
    job_id: str
    job_type: JobType
    create_type: CreateType
    voice_name: str
    batch_name: str | None
    state: JobState
    reject_times: int
    asset_id: str | None
    created_at: float  #: emulated Unix seconds
    updated_at: float
    confirmed: frozenset[int]
    audit_errors: tuple[AuditError, ...]  #: of the latest commit, once revealed
    commits: int


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
        self.settings = settings or HuaweiSettings()
        self._book = JobBook(self.settings)
        self._throttle = SlidingWindowThrottle()
        self._rates = dict(ctx.options.huawei_rate_limits)
        self._calls: deque[CallRecord] = deque(maxlen=CALL_LOG_SIZE)
        self._counts: Counter[tuple[str, str]] = Counter()  #: (tenant, kind) → calls

    # -- routes ----------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add the API routes (and the object store, when this service created it)."""
        if self._owns_store:
            self.store.install(app)
        add = app.router.add_route
        for path, job_type in CREATE_ROUTES.items():
            add(
                "POST", f"{API_ROOT}/user/{path}", self._endpoint("create", self._creator(job_type))
            )
        job_path = API_ROOT + "/user/jobs/{job_id}"
        add("POST", job_path, self._endpoint("commit", self._commit))
        add("GET", job_path, self._endpoint("show", self._show))
        add("DELETE", job_path, self._endpoint("delete", self._delete))
        add("GET", API_ROOT + "/user/jobs", self._endpoint("list", self._list))
        add("GET", job_path + "/audit-result", self._endpoint("audit_result", self._audit_result))
        add(
            "GET",
            job_path + "/uploading-address-url",
            self._endpoint("uploading_address", self._uploading_address),
        )
        add("GET", job_path + "/op-logs", self._endpoint("op_logs", self._op_logs))
        segment_path = API_ROOT + "/user/training-segment"
        add("POST", segment_path, self._endpoint("confirm_segment", self._confirm_segment))
        add("GET", segment_path, self._endpoint("segment_info", self._segment_info))
        add("GET", API_ROOT + "/quotas", self._endpoint("quotas", self._quotas))
        add(
            "GET",
            API_ROOT + "/user/tenant-duration-cfg",
            self._endpoint("tenant_duration_cfg", self._duration_cfg),
        )
        # Registered last: aiohttp tries resources in order, so this only sees what no route
        # above matched (an unknown path, or a known path with another method).
        add("*", API_ROOT + "/{tail:.*}", self._unknown_api)

    def _endpoint(
        self, kind: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            request_id = uuid.uuid4().hex
            tenant = request.match_info["project_id"]
            error_code: str | None = None
            try:
                if self._ctx.options.latency > 0:
                    await anyio.sleep(self._ctx.options.latency)
                body = await request.read()
                self._authenticate(request, body, tenant)
                self._admit(tenant, kind)
                self._inject_fault()
                response = await handler(request, tenant, body)
            except HuaweiError as error:
                error_code = error.code
                response = error.response()
            response.headers["X-Request-Id"] = request_id
            dropped = request.transport is None or request.transport.is_closing()
            self._counts[(tenant, kind)] += 1
            self._calls.append(
                CallRecord(
                    kind=kind,
                    tenant=tenant,
                    status=0 if dropped else response.status,
                    error_code=error_code,
                    real_time=self._ctx.clock.real_now(),
                )
            )
            return response

        return serve

    async def _unknown_api(self, request: web.Request) -> web.StreamResponse:
        resource = request.match_info.route.resource
        known = False
        for other in request.app.router.resources():
            if other is resource:
                continue
            _match, allowed = await other.resolve(request)
            known = known or bool(allowed)
        if known:
            error = HuaweiError(400, METHOD_NOT_ALLOWED, f"Method {request.method} not allowed")
        else:
            error = HuaweiError(400, API_NOT_FOUND, f"API not found: {request.path}")
        response = error.response()
        response.headers["X-Request-Id"] = uuid.uuid4().hex
        return response

    # -- gateway ---------------------------------------------------------------------------

    def _authenticate(self, request: web.Request, body: bytes, project_id: str) -> None:
        credentials = self._ctx.options.credentials
        header_project = request.headers.get("X-Project-Id")
        if header_project is not None and header_project != project_id:
            raise HuaweiError(
                401,
                UNAUTHORIZED,
                "Unauthorized: X-Project-Id does not match the project in the URL",
            )
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            if not hmac.compare_digest(token.encode(), credentials.huawei_token.encode()):
                raise HuaweiError(401, UNAUTHORIZED, "Unauthorized: the token is invalid")
            return

        def header(name: str) -> str | None:
            values = request.headers.getall(name, [])
            return ",".join(values) if values else None

        reason = signing.verify(
            method=request.method,
            raw_path=request.rel_url.raw_path,
            raw_query=request.rel_url.raw_query_string,
            header=header,
            body=body,
            expected_ak=credentials.huawei_ak,
            sk=credentials.huawei_sk,
            real_now=self._ctx.clock.real_now(),
        )
        if reason is not None:
            raise HuaweiError(401, UNAUTHORIZED, f"Unauthorized: {reason}")

    def _admit(self, tenant: str, kind: str) -> None:
        rate = self._rates.get(kind, self._rates.get("other", 0.0))
        wait = self._throttle.admit((tenant, kind), rate)
        if wait is not None:
            raise throttled(rate, wait)

    def _inject_fault(self) -> None:
        status = self._ctx.faults.control_fault()
        if status == 429:
            raise HuaweiError(
                429,
                THROTTLED,
                "The throttling threshold has been reached (injected fault)",
                headers={"Retry-After": str(self.settings.fault_retry_after_s)},
            )
        if status is not None:
            text = "Internal Error" if status == 500 else "Service Unavailable"
            raise HuaweiError(status, INTERNAL, f"{text} (injected fault)")

    def _answer_lost(self) -> bool:
        rate = self._ctx.options.fault_rate * self.settings.lost_answer_share
        return rate > 0 and self._ctx.faults.uniform(0.0, 1.0) < rate

    # -- handlers --------------------------------------------------------------------------

    def _creator(self, job_type: JobType) -> Handler:
        async def create(request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
            data = huawei_params.json_object(body, request.content_type)
            meta, create_type = huawei_params.parse_create(
                data, request.headers.get("X-App-UserId")
            )
            if create_type is CreateType.SEGMENT and job_type not in SENTENCES:
                raise validation(f"create_type SEGMENT is not supported for {job_type} jobs")
            job = self._book.create(tenant, job_type, create_type, meta, self._ctx.clock.now())
            lost = self._answer_lost()
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
            answer = {"job_id": job.job_id, **self._upload_urls(job, "create")}
            if self.settings.create_answer_delay_s > 0:
                await anyio.sleep(self.settings.create_answer_delay_s)
            if lost and request.transport is not None:
                request.transport.abort()
                return web.Response()  # never sent
            return web.json_response(answer)

        return create

    async def _commit(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        data = huawei_params.json_object(body, request.content_type)
        changes = huawei_params.parse_commit(data)
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
                errors = [huawei_audit.forced_error(job.job_type)]
            outcome = JobState.AUDIT_FAILED if errors else (forced or JobState.SUCCEED)
            submission = new_submission(
                job.job_type, now, outcome, tuple(errors), self.settings.durations
            )
        finally:
            committed = self._book.finish_commit(job, meta, submission)
        if committed is None:
            self._book.get(tenant, job_id)  # raises the not-found error
        return web.Response(status=200)

    async def _audit(self, job: Job) -> list[AuditError]:
        letter_obj = self._object(job, "authorization_letter")
        letter = None if letter_obj is None else (letter_obj.path, letter_obj.content_type)
        limits = self.settings.limits
        if job.create_type is CreateType.PACKAGE:
            package = self._object(job, "training_data.zip")
            package_path = None if package is None else package.path

            def run() -> list[AuditError]:
                return huawei_audit.audit_package(
                    job.job_type, package_path, limits
                ) + huawei_audit.audit_letter(letter)

        else:
            count = SENTENCES[job.job_type]
            files = {index: self._segment_paths(job, index) for index in range(count)}

            def run() -> list[AuditError]:
                return huawei_audit.audit_segments(
                    count, job.confirmed, files
                ) + huawei_audit.audit_letter(letter)

        return await anyio.to_thread.run_sync(run)

    async def _show(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        job = self._book.get(tenant, request.match_info["job_id"])
        return web.json_response(self._job_json(job, self._ctx.clock.now()))

    async def _delete(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        job = self._book.delete(tenant, request.match_info["job_id"])
        await self.store.delete_prefix(BUCKET, f"{job.tenant}/{job.job_id}/")
        return web.Response(status=200)

    async def _list(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        query = huawei_params.parse_list(request.rel_url.query)
        now = self._ctx.clock.now()
        count, jobs = self._book.query(tenant, query, now)
        return web.json_response({"count": count, "jobs": [self._job_json(j, now) for j in jobs]})

    async def _audit_result(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        job = self._book.get(tenant, request.match_info["job_id"])
        return web.json_response(audit_result_json(job, self._ctx.clock.now()))

    async def _uploading_address(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        job = self._book.get(tenant, request.match_info["job_id"])
        return web.json_response(self._upload_urls(job, "address"))

    async def _op_logs(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        offset, limit = huawei_params.page(request.rel_url.query)
        job = self._book.get(tenant, request.match_info["job_id"])
        entries = op_logs(job, self._ctx.clock.now())
        return web.json_response(
            {"count": len(entries), "operations": entries[offset : offset + limit]}
        )

    async def _confirm_segment(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        query = request.rel_url.query
        job_id = huawei_params.required_param(query, "job_id")
        index = huawei_params.required_int(query, "index", 0, 1024)
        job = self._segment_job(tenant, job_id)
        state = job.state_at(self._ctx.clock.now())
        if state not in COMMITTABLE:
            raise HuaweiError(
                400,
                WRONG_STATE,
                f"Training job {job_id} is {state}; sentences can no longer change",
            )
        wav, txt = self._segment_paths(job, index)
        ok = False
        if wav is not None and txt is not None:
            problems = await anyio.to_thread.run_sync(huawei_audit.segment_errors, index, wav, txt)
            ok = not problems
        current = self._book.get(tenant, job_id)
        confirmed = current.confirmed | {index} if ok else current.confirmed - {index}
        self._book.replace(dataclasses.replace(current, confirmed=confirmed))
        return web.json_response({"confirm_result": ok, "unmatched_index_hit": []})

    async def _segment_info(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        job_id = huawei_params.required_param(request.rel_url.query, "job_id")
        job = self._segment_job(tenant, job_id)
        return web.json_response({"confirmed_index": sorted(job.confirmed)})

    async def _quotas(self, request: web.Request, tenant: str, body: bytes) -> web.StreamResponse:
        offset, limit = huawei_params.page(request.rel_url.query)
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

    async def _duration_cfg(
        self, request: web.Request, tenant: str, body: bytes
    ) -> web.StreamResponse:
        return web.json_response({"tenant_id": tenant, **dataclasses.asdict(self.settings.limits)})

    # -- helpers ---------------------------------------------------------------------------

    def _segment_job(self, tenant: str, job_id: str) -> Job:
        job = self._book.get(tenant, job_id)
        if job.create_type is not CreateType.SEGMENT:
            raise validation(f"training job {job_id} was created with create_type PACKAGE")
        return job

    @staticmethod
    def _key(job: Job, name: str) -> str:
        return f"{job.tenant}/{job.job_id}/{name}"

    def _object(self, job: Job, name: str) -> StoredObject | None:
        return self.store.get(BUCKET, self._key(job, name))

    def _segment_paths(self, job: Job, index: int) -> tuple[Path | None, Path | None]:
        wav = self._object(job, f"segments/{index}.wav")
        txt = self._object(job, f"segments/{index}.txt")
        return (wav.path if wav else None, txt.path if txt else None)

    def _upload_urls(self, job: Job, shape: str) -> dict[str, Any]:
        """Fresh pre-signed URLs in the create (§4.4) or uploading-address (§6.6) shape."""
        put = self.store.presign_put
        out: dict[str, Any] = {}
        if job.create_type is CreateType.PACKAGE:
            url = put(BUCKET, self._key(job, "training_data.zip"), PACKAGE_TYPES)
            if shape == "create":
                out["training_data_uploading_url"] = url
            else:
                out["package_url"] = {"training_data_uploading_url": url}
        else:
            count = SENTENCES[job.job_type]
            segments = {
                "audio_uploading_url": [
                    put(BUCKET, self._key(job, f"segments/{i}.wav"), AUDIO_TYPES)
                    for i in range(count)
                ],
                "txt_uploading_url": [
                    put(BUCKET, self._key(job, f"segments/{i}.txt"), TEXT_TYPES)
                    for i in range(count)
                ],
            }
            out["segment_uploading_url" if shape == "create" else "segment_url"] = segments
        out["authorization_letter_uploading_url"] = put(
            BUCKET, self._key(job, "authorization_letter"), LETTER_TYPES
        )
        return out

    def _job_json(self, job: Job, now: float) -> dict[str, Any]:
        letter = self._object(job, "authorization_letter")
        package = self._object(job, "training_data.zip")
        return job_json(
            job,
            now,
            authorization_url=self.store.presign_get(BUCKET, letter.key) if letter else None,
            input_url=self.store.presign_get(BUCKET, package.key) if package else None,
        )

    # -- inspection (read-only; for tests and GET /_emulator/state) ------------------------

    def tenants(self) -> list[str]:
        """Every project_id that has been seen."""
        return [tenant.project_id for tenant in self._book.tenants()]

    def jobs(self, tenant: str | None = None) -> list[JobView]:
        """Jobs (of one tenant, or all) in creation order, with their state at emulated now."""
        now = self._ctx.clock.now()
        return [
            self._view(job, now)
            for book in self._book.tenants()
            if tenant is None or book.project_id == tenant
            for job in book.jobs.values()
        ]

    def job(self, job_id: str) -> JobView | None:
        """One job by id at emulated now, or None (unknown or deleted)."""
        job = self._book.find(job_id)
        return None if job is None else self._view(job, self._ctx.clock.now())

    def objects(self, job_id: str) -> dict[str, StoredObject]:
        """The stored objects of a job by name (``training_data.zip``, ``segments/0.wav``,
        ``authorization_letter`` …), each with its Content-Type, size and path on disk."""
        job = self._book.find(job_id)
        if job is None:
            return {}
        prefix = self._key(job, "")
        return {obj.key[len(prefix) :]: obj for obj in self.store.objects(BUCKET, prefix)}

    @property
    def calls(self) -> tuple[CallRecord, ...]:
        """The latest API calls (up to CALL_LOG_SIZE), in the order they were answered."""
        return tuple(self._calls)

    def counters(self, tenant: str | None = None) -> dict[str, int]:
        """Calls per API kind (including refused, throttled and faulted ones)."""
        counts: Counter[str] = Counter()
        for (call_tenant, kind), count in self._counts.items():
            if tenant is None or call_tenant == tenant:
                counts[kind] += count
        return dict(counts)

    @property
    def creates(self) -> tuple[CreateRecord, ...]:
        """Every create that made a job, with real and emulated timestamps."""
        return tuple(self._book.creates)

    def quota(self, tenant: str) -> dict[str, int]:
        """Remaining training resources per edition (resource_available_nums field names)."""
        book = self._book.tenant(tenant)
        return {RESOURCE_FIELD[job_type]: book.available[job_type] for job_type in JobType}

    def _view(self, job: Job, now: float) -> JobView:
        latest = job.submissions[-1] if job.submissions else None
        revealed = latest is not None and latest.audit_done_at <= now
        state = job.state_at(now)
        return JobView(
            tenant=job.tenant,
            job_id=job.job_id,
            job_type=job.job_type,
            create_type=job.create_type,
            voice_name=job.meta.voice_name,
            batch_name=job.meta.batch_name,
            state=state,
            reject_times=job.reject_times_at(now),
            asset_id=latest.asset_id if latest and state is JobState.SUCCEED else None,
            created_at=job.created_at,
            updated_at=job.updated_at(now),
            confirmed=job.confirmed,
            audit_errors=latest.audit_errors if latest and revealed else (),
            commits=len(job.submissions),
        )

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
