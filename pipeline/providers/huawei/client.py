"""A typed client for the Huawei MetaStudio voice-training API (reference §6), on ``HttpClient``.

Each method is one REST call: it takes a slot in its API kind's rate limit, signs (AK/SK) or
stamps (IAM token) the request, sends it through the shared HTTP layer with the retry policy
of its call kind (``ControlApi``), and parses the answer at the edge into frozen records
(:mod:`.records`; anything unexpected is a ``ProviderProtocolError``). Stage logic (adopting
earlier jobs, refreshing URLs, polling) lives in :mod:`.provider`, not here.

Create is special: Huawei has no idempotency key, so a create that fails after it may have
reached the server is never repeated here. It raises ``AmbiguousCreate`` and the caller
reconciles with ``iter_jobs`` (batch_name + voice_name). Only failures that prove the job
was not made are retried: throttling (429 / ``APIGW.0308``, refused at the gateway) and
connection failures before anything was sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote

import structlog

from pipeline.errors import (
    AmbiguousCreate,
    AuthenticationFailed,
    NotFound,
    ProviderProtocolError,
    ProviderRejected,
)
from pipeline.providers.http import (
    Connection,
    ControlApi,
    UploadBody,
)
from pipeline.providers.http.fields import JsonObject, array, integer, json_object
from pipeline.providers.http.urls import segment as _seg
from pipeline.providers.huawei import records
from pipeline.providers.huawei.api import (
    CALL_KINDS,
    CREATE_ROUTES,
    HUAWEI,
    HUAWEI_RETRY,
    THROTTLE_CODES,
    WRITE_KINDS,
    CallKind,
    Edition,
    RateLimits,
    RetryKind,
)
from pipeline.providers.huawei.auth import AkSkAuth, Auth, TokenAuth, authorized
from pipeline.providers.huawei.records import (
    JOB_STATES,
    AuditResult,
    CommitJobBody,
    CreatedJob,
    CreateJobBody,
    JobInfo,
    JobPage,
    OperationLog,
    Quotas,
    SegmentConfirm,
    TenantDurationCfg,
    UploadAddresses,
)
from pipeline.providers.huawei.signer import encode

log = structlog.get_logger(__name__)

_PREFIX: Final = "voice-training-manage"
_JSON: Final = "application/json"


# --------------------------------------------------------------------------- the client


class HuaweiClient:
    """Typed calls to the voice-training API over a shared ``HttpTransport``."""

    def __init__(
        self,
        conn: Connection,
        *,
        project_id: str,
        auth: Auth,
        app_user_id: str | None = None,
        rate_limits: RateLimits | None = None,
    ) -> None:
        """
        Args:
            conn: the transport and ``https://metastudio.<region>.myhuaweicloud.com`` (or the
                emulator's loopback ``http://127.0.0.1:<port>``); its ``retry`` changes the
                policies of ``create``, ``commit``, ``poll``, ``upload``.
            project_id: the IAM project of the region.
            auth: ``TokenAuth`` or ``AkSkAuth``.
            app_user_id: sent as ``X-App-UserId`` where the API defines it.
            rate_limits: this client's own calls per second per kind.
        """
        if not project_id:
            raise ValueError("a Huawei project_id is required")
        self._api = ControlApi(conn, HUAWEI, limit=(rate_limits or RateLimits()).limiters())
        self._http = conn.http
        self._project_id = project_id
        self._auth = auth
        self._app_user_id = app_user_id
        self.retry = self._api.retry
        self._unknown_states: set[str] = set()

    # -- plumbing --------------------------------------------------------------------------

    def _url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        url = f"{self._api.base_url}/v1/{quote(self._project_id, safe='')}/{_PREFIX}/{path}"
        if query:
            # The signer's encoding: a literal '+' or space can never be misread server-side.
            url += "?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in query)
        return url

    def _headers(
        self, method: str, url: str, body: bytes, *, app_user: bool, user: str | None
    ) -> dict[str, str]:
        # Content-Type on every call, GET and DELETE included, as the SDK does (it is signed).
        headers = {"Content-Type": _JSON}
        app_user_id = user or self._app_user_id
        if app_user and app_user_id:
            headers["X-App-UserId"] = app_user_id
        return authorized(
            self._auth, headers, method=method, url=url, body=body, project_id=self._project_id
        )

    async def _call(
        self,
        kind: CallKind,
        method: str,
        path: str,
        *,
        policy: RetryKind,
        query: Sequence[tuple[str, str]] = (),
        body: Mapping[str, object] | None = None,
        app_user: bool = False,
        user: str | None = None,
        idempotent: bool = True,
        absent_on_retry_is_success: bool = False,
    ) -> object:
        """One call of API ``kind`` under retry policy ``policy``; the answer's JSON."""
        url = self._url(path, query)
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        response = await self._api.call(
            kind,
            method,
            url,
            operation=kind,
            policy=policy,
            headers=lambda: self._headers(method, url, payload, app_user=app_user, user=user),
            body=payload or None,
            idempotent=idempotent,
            absent_on_retry_is_success=absent_on_retry_is_success,
        )
        return None if response is None else response.json()

    # -- jobs ------------------------------------------------------------------------------

    async def create_job(
        self, edition: str, body: CreateJobBody, *, app_user_id: str | None = None
    ) -> CreatedJob:
        """Create a training job of ``edition`` (BASIC, MIDDLE, ADVANCE, THIRD_PARTY);
        ``app_user_id``: this call's ``X-App-UserId`` instead of the client's.

        Raises:
            AmbiguousCreate: the request may have reached the server and we do not know its
                outcome (reset after sending, timeout, 5xx, unreadable answer). Never retried
                here: look the job up with ``iter_jobs`` before creating again.
            Throttled / ProviderUnavailable: only after the create retry budget, and only for
                failures that prove no job was made.
            ValueError: an unknown edition.
        """
        route = CREATE_ROUTES.get(edition)
        if route is None:
            raise ValueError(f"unknown Huawei edition {edition!r}; one of {sorted(CREATE_ROUTES)}")
        # idempotent=False: the HTTP layer turns "may have been sent" failures into
        # AmbiguousCreate, which retry_call never retries; refused connections and 429 /
        # APIGW.0308 stay ordinary retryable errors, since the gateway did nothing with them.
        payload = await self._call(
            "create",
            "POST",
            f"user/{route}",
            policy="create",
            body=body.to_json(),
            app_user=True,
            user=app_user_id,
            idempotent=False,
        )
        try:
            return records.created_job(payload)
        except ProviderProtocolError as exc:
            # A 200 we cannot read most likely made a job whose id we do not know.
            raise AmbiguousCreate(f"create answered with an unreadable payload: {exc}") from exc

    async def show_job(self, job_id: str, *, app_user_id: str | None = None) -> JobInfo:
        """The job's detail (reference §6.5).

        Raises:
            NotFound: the job does not exist: a 404, or a 400 (some accounts answer an unknown
                job id with 400 ``MSS.00000003``) that a list filtered by the id confirms.
        """
        try:
            payload = await self._call(
                "show",
                "GET",
                f"user/jobs/{_seg(job_id)}",
                policy="poll",
                app_user=True,
                user=app_user_id,
            )
        except ProviderRejected as exc:
            if exc.status != 400 or isinstance(exc, AuthenticationFailed | NotFound):
                raise
            page = await self.list_jobs(job_id=job_id, limit=1, app_user_id=app_user_id)
            if any(job.job_id == job_id for job in page.jobs):
                raise
            raise NotFound(
                f"job {job_id} does not exist ({exc})", status=400, code=exc.code
            ) from exc
        return self._job(json_object(payload, "job detail"))

    async def list_jobs(
        self,
        *,
        batch_name: str | None = None,
        voice_name: str | None = None,
        state: str | Collection[str] | None = None,
        job_type: str | None = None,
        job_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
        sort_key: str | None = None,
        sort_dir: Literal["asc", "desc"] | None = None,
        app_user_id: str | None = None,
    ) -> JobPage:
        """One page of jobs matching the filters (reference §6.8); ``limit`` is 1–100;
        ``app_user_id``: this call's ``X-App-UserId`` instead of the client's."""
        if not 1 <= limit <= 100:
            raise ValueError("limit must be within 1..100")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        query: list[tuple[str, str]] = [("offset", str(offset)), ("limit", str(limit))]
        if state is not None:
            query.append(("state", state if isinstance(state, str) else ",".join(state)))
        for key, value in (
            ("batch_name", batch_name),
            ("voice_name", voice_name),
            ("job_type", job_type),
            ("job_id", job_id),
            ("sort_key", sort_key),
            ("sort_dir", sort_dir),
        ):
            if value is not None:
                query.append((key, value))
        payload = await self._call(
            "list", "GET", "user/jobs", policy="poll", query=query, app_user=True, user=app_user_id
        )
        obj = json_object(payload, "job list")
        jobs = array(obj, "jobs", "job list")
        return JobPage(
            count=integer(obj, "count"),
            jobs=tuple(self._job(json_object(j, "job list item")) for j in jobs),
        )

    async def iter_jobs(
        self,
        *,
        batch_name: str | None = None,
        voice_name: str | None = None,
        state: str | Collection[str] | None = None,
        job_type: str | None = None,
        page_size: int = 100,
        app_user_id: str | None = None,
    ) -> AsyncIterator[JobInfo]:
        """Every matching job, page by page (``offset += limit`` until ``offset >= count``).

        Pages are read oldest first so that jobs created meanwhile land on later pages instead
        of shifting earlier ones; a job seen twice (a deletion shifted a page) is yielded once.
        """
        seen: set[str] = set()
        offset = 0
        while True:
            page = await self.list_jobs(
                batch_name=batch_name,
                voice_name=voice_name,
                state=state,
                job_type=job_type,
                offset=offset,
                limit=page_size,
                sort_key="create_time",
                sort_dir="asc",
                app_user_id=app_user_id,
            )
            for job in page.jobs:
                if job.job_id not in seen:
                    seen.add(job.job_id)
                    yield job
            offset += page_size
            if offset >= page.count or not page.jobs:
                return

    async def commit_job(
        self, job_id: str, body: CommitJobBody | None = None, *, app_user_id: str | None = None
    ) -> None:
        """Submit the job for review and training (reference §6.2)."""
        await self._call(
            "commit",
            "POST",
            f"user/jobs/{_seg(job_id)}",
            policy="commit",
            body=None if body is None else body.to_json(),
            app_user=True,
            user=app_user_id,
        )

    async def delete_job(self, job_id: str) -> None:
        """Delete the job (reference §6.7); NotFound if it never existed."""
        await self._call(
            "delete",
            "DELETE",
            f"user/jobs/{_seg(job_id)}",
            policy="commit",
            app_user=True,
            absent_on_retry_is_success=True,
        )

    # -- uploads ---------------------------------------------------------------------------

    async def uploading_address(self, job_id: str) -> UploadAddresses:
        """Fresh pre-signed upload URLs for the job (reference §6.6)."""
        payload = await self._call(
            "address", "GET", f"user/jobs/{_seg(job_id)}/uploading-address-url", policy="poll"
        )
        return records.upload_addresses(payload)

    async def put_file(self, url: str, source: Path | UploadBody, *, content_type: str) -> int:
        """PUT one file (or a streamed package) to a pre-signed URL with the upload retry
        policy; returns the bytes sent. Not a control call: no rate limit applies."""
        return await self._http.put_file(
            url, source, content_type=content_type, retry=self.retry["upload"]
        )

    async def confirm_segment(self, job_id: str, index: int) -> SegmentConfirm:
        """Confirm sentence ``index`` (0–1024) after its WAV and TXT were uploaded."""
        if not 0 <= index <= 1024:
            raise ValueError("segment index must be within 0..1024")
        payload = await self._call(
            "commit",
            "POST",
            "user/training-segment",
            policy="commit",
            query=[("job_id", job_id), ("index", str(index))],
        )
        return records.segment_confirm(payload)

    async def segment_info(self, job_id: str) -> tuple[int, ...]:
        """The sentence indices already confirmed, ascending (reference §6.3)."""
        payload = await self._call(
            "segment", "GET", "user/training-segment", policy="poll", query=[("job_id", job_id)]
        )
        return records.confirmed_indices(payload)

    # -- results and account ---------------------------------------------------------------

    async def audit_result(self, job_id: str) -> AuditResult:
        """The system and admin review result (reference §6.4)."""
        payload = await self._call(
            "audit", "GET", f"user/jobs/{_seg(job_id)}/audit-result", policy="poll"
        )
        return records.audit_result(payload)

    async def operation_log(self, job_id: str) -> tuple[OperationLog, ...]:
        """Every op-log entry of the job, oldest first (reference §6.11, ListJobOperationLog)."""
        entries: list[OperationLog] = []
        while True:
            query = [("offset", str(len(entries))), ("limit", "100")]
            payload = await self._call(
                "audit", "GET", f"user/jobs/{_seg(job_id)}/op-logs", policy="poll", query=query
            )
            count, page = records.operation_log(payload)
            entries.extend(page)
            if not page or len(entries) >= count:
                return tuple(entries)

    async def quotas(self) -> Quotas:
        """Remaining training resources per edition (reference §6.9)."""
        return records.quotas(await self._call("quota", "GET", "quotas", policy="poll"))

    async def tenant_duration_cfg(self) -> TenantDurationCfg:
        """The tenant's audio-duration limits per edition (reference §6.10)."""
        payload = await self._call("quota", "GET", "user/tenant-duration-cfg", policy="poll")
        return records.tenant_duration_cfg(payload)

    # -- parsing ---------------------------------------------------------------------------

    def _job(self, obj: JsonObject) -> JobInfo:
        job = records.job_info(obj)
        if job.state not in JOB_STATES and job.state not in self._unknown_states:
            self._unknown_states.add(job.state)
            log.warning("huawei.unknown_state", state=job.state, job_id=job.job_id)
        return job


__all__ = [
    "CALL_KINDS",
    "CREATE_ROUTES",
    "HUAWEI_RETRY",
    "THROTTLE_CODES",
    "WRITE_KINDS",
    "AkSkAuth",
    "Auth",
    "CallKind",
    "Edition",
    "HuaweiClient",
    "RateLimits",
    "RetryKind",
    "TokenAuth",
]
