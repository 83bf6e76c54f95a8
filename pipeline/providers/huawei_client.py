"""A typed client for the Huawei MetaStudio voice-training API (reference §6), on ``HttpClient``.

Each method is one REST call: it waits for its API kind's rate limiter, signs (AK/SK) or
stamps (IAM token) the request, sends it through the shared HTTP layer with the retry policy
of its call kind, and parses the answer at the edge into frozen records (anything unexpected
is a ``ProviderProtocolError``). Stage logic (adopting earlier jobs, refreshing URLs, polling)
lives in ``pipeline.providers.huawei``, not here.

Create is special: Huawei has no idempotency key, so a create that fails after it may have
reached the server is never repeated here. It raises ``AmbiguousCreate`` and the caller
reconciles with ``iter_jobs`` (batch_name + voice_name). Only failures that prove the job
was not made are retried: throttling (429 / ``APIGW.0308``, refused at the gateway) and
connection failures before anything was sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal
from urllib.parse import quote

import structlog

from pipeline.errors import AmbiguousCreate, NotFound, ProviderProtocolError
from pipeline.providers.http import (
    HttpTransport,
    RateLimiter,
    RetryPolicy,
    UploadBody,
    check_url,
    redact_url,
    retry_call,
)
from pipeline.providers.huawei_signer import encode, sign_request

log = structlog.get_logger(__name__)

#: Error codes that mean "throttled" whatever the HTTP status (reference §10).
THROTTLE_CODES: Final = frozenset({"APIGW.0308"})

Edition = Literal["BASIC", "MIDDLE", "ADVANCE", "THIRD_PARTY"]
#: job_type → the create route's last segment (reference §6.1).
CREATE_ROUTES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "BASIC": "basic-jobs",
        "MIDDLE": "middle-jobs",
        "ADVANCE": "advance-jobs",
        "THIRD_PARTY": "third-party-jobs",
    }
)
#: Every state the SDK knows (reference §4.2). Unknown states are passed through, not refused:
#: a new server-side state must not stop the polling of a whole batch, only be logged.
JOB_STATES: Final = frozenset(
    {
        "CREATING", "SYSTEM_AUDITING", "AUDITING", "WAITING_SPLIT", "SPLITTING", "SPLIT_FAILED",
        "ANNOTATING", "WAITING", "PROCESSING", "RESULT_REVIEW", "AUDIT_FAILED",
        "USER_RESULT_REVIEW", "USER_REVIEW_REJECT", "UPLOADING", "FAILED", "SUCCEED",
    }
)  # fmt: skip
_PREFIX: Final = "voice-training-manage"
_JSON: Final = "application/json"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """IAM token authentication (``X-Auth-Token``)."""

    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AkSkAuth:
    """AK/SK request signing (``SDK-HMAC-SHA256``), optionally with a temporary token."""

    ak: str
    sk: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


Auth = TokenAuth | AkSkAuth

CallKind = Literal[
    "create", "commit", "delete", "show", "list", "audit", "segment", "address", "quota"
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """Client-side calls per second per API kind (defaults: cn-north-4 quotas, reference §10).

    Unlisted kinds (confirm/segment info, upload addresses, quotas) get the query rate.
    """

    create: float = 10.0
    commit: float = 10.0  #: commit and confirm-segment
    delete: float = 10.0
    show: float = 20.0
    list: float = 20.0
    audit: float = 20.0
    segment: float = 20.0
    address: float = 20.0
    quota: float = 20.0

    @classmethod
    def uniform(cls, *, write: float, read: float) -> RateLimits:
        """Write calls (create/commit/delete) at ``write``/s, everything else at ``read``/s."""
        return cls(
            create=write, commit=write, delete=write, show=read, list=read, audit=read,
            segment=read, address=read, quota=read,
        )  # fmt: skip

    def limiters(self) -> dict[CallKind, RateLimiter]:
        """One fresh limiter per call kind."""
        kinds: tuple[CallKind, ...] = (
            "create", "commit", "delete", "show", "list", "audit", "segment", "address", "quota",
        )  # fmt: skip
        return {kind: RateLimiter.per_second(getattr(self, kind)) for kind in kinds}


#: Defaults per call kind (module constants: a frozen value shared by every RetryPolicies).
CREATE_RETRY: Final = RetryPolicy(attempts=6, max_elapsed_s=60.0)
COMMIT_RETRY: Final = RetryPolicy(attempts=6, max_elapsed_s=120.0)
POLL_RETRY: Final = RetryPolicy(attempts=8, max_elapsed_s=300.0)
UPLOAD_RETRY: Final = RetryPolicy(attempts=4, max_elapsed_s=900.0, base_delay=1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicies:
    """The retry policy of each call kind (the caller tunes them; tests shrink them)."""

    #: Only failures that prove nothing was created are retried (see the module docstring).
    create: RetryPolicy = CREATE_RETRY
    #: commit, confirm-segment, delete: repeating them is harmless (a repeat is refused).
    commit: RetryPolicy = COMMIT_RETRY
    #: show, list, audit result, segment info, upload addresses, quotas.
    poll: RetryPolicy = POLL_RETRY
    #: PUTs to the pre-signed OBS URLs.
    upload: RetryPolicy = UPLOAD_RETRY


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateJobBody:
    """The create request body (``CreateTrainingJobReq``, reference §4.3); None = omitted."""

    voice_name: str
    batch_name: str | None = None
    create_type: Literal["PACKAGE", "SEGMENT"] | None = None
    tag: str | None = None
    description: str | None = None
    sex: str | None = None  #: FEMALE / MALE
    language: str | None = None  #: CN / EN
    phone: str | None = None
    dhtms_job_id: str | None = None
    output_language: str | None = None
    custom_text: str | None = None
    is_ondemand_resource: bool | None = None
    supported_service: tuple[str, ...] | None = None  #: VIDEO_2D / LIVE_2D / CHAT_2D

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitJobBody:
    """Optional metadata restated at commit (``CommitJobReq``, reference §6.2)."""

    voice_name: str | None = None
    tag: str | None = None
    description: str | None = None
    sex: str | None = None
    language: str | None = None
    phone: str | None = None
    app_user_id: str | None = None
    output_language: str | None = None
    custom_text: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if getattr(self, name) is not None
        }


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class UploadAddresses:
    """Pre-signed upload URLs of a job (the §6.6 shape; create returns the same URLs).

    The URLs carry OBS signatures, so ``repr`` shows them redacted.
    """

    training_data_uploading_url: str | None = None  #: PACKAGE: the zip (application/zip)
    audio_uploading_url: tuple[str, ...] = ()  #: SEGMENT: per sentence index (audio/wav)
    txt_uploading_url: tuple[str, ...] = ()  #: SEGMENT: per sentence index (text/plain)
    authorization_letter_uploading_url: str | None = None

    def __repr__(self) -> str:
        def r(url: str | None) -> str | None:
            return None if url is None else redact_url(url)

        return (
            f"UploadAddresses(training_data_uploading_url={r(self.training_data_uploading_url)!r}, "
            f"audio_uploading_url=<{len(self.audio_uploading_url)} URLs>, "
            f"txt_uploading_url=<{len(self.txt_uploading_url)} URLs>, "
            f"authorization_letter_uploading_url={r(self.authorization_letter_uploading_url)!r})"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CreatedJob:
    """The answer to a create call: the new job and where its data goes."""

    job_id: str
    addresses: UploadAddresses

    @property
    def training_data_uploading_url(self) -> str | None:
        return self.addresses.training_data_uploading_url

    @property
    def audio_uploading_url(self) -> tuple[str, ...]:
        return self.addresses.audio_uploading_url

    @property
    def txt_uploading_url(self) -> tuple[str, ...]:
        return self.addresses.txt_uploading_url

    @property
    def authorization_letter_uploading_url(self) -> str | None:
        return self.addresses.authorization_letter_uploading_url


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInfo:
    """A job as show/list report it (reference §4.5; the fields the pipeline uses)."""

    job_id: str
    state: str  #: a JobState; unknown values are kept (see JOB_STATES)
    voice_name: str | None = None
    batch_name: str | None = None
    job_type: str | None = None
    create_type: str | None = None
    asset_id: str | None = None  #: set once SUCCEED
    job_failed_code: str | None = None
    job_failed_reason: str | None = None
    reject_times: int = 0
    create_time: int | None = None  #: unit not documented (reference §12.2)
    lastupdate_time: int | None = None
    app_user_id: str | None = None
    tag: str | None = None
    sex: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPage:
    """One page of the list call; ``count`` is the total number of matching jobs."""

    count: int
    jobs: tuple[JobInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentConfirm:
    """The answer to confirm-segment (reference §6.3)."""

    confirm_result: bool
    unmatched_index_hit: tuple[int, ...] = ()  #: positions in the text that did not match


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditError:
    """One per-file finding of the system audit."""

    audio_name: str | None
    text_name: str | None
    error_code: str | None
    error_message: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditResult:
    """The review result of a job (reference §6.4)."""

    errors: tuple[AuditError, ...] = ()
    system_audit_time: int | None = None
    admin_message: str | None = None
    admin_attachment_name: str | None = None
    admin_audit_time: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quotas:
    """Remaining trainings per edition (``resource_available_nums``, reference §6.9)."""

    available: Mapping[str, int]  #: basic, middle, middle_on_demand, advance, third_party_cmww …

    def for_job_type(self, job_type: str) -> int | None:
        key = {"THIRD_PARTY": "third_party_cmww"}.get(job_type, job_type.lower())
        return self.available.get(key)


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationLimit:
    """Tenant audio-duration limits of one edition, in seconds."""

    min_s: int | None
    max_s: int | None
    advice_s: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantDurationCfg:
    """Per-tenant duration limits (reference §6.10), keyed basic/middle/advance/flexus/cmww/ljzn."""

    tenant_id: str | None
    limits: Mapping[str, DurationLimit]

    def for_job_type(self, job_type: str) -> DurationLimit | None:
        key = {"THIRD_PARTY": "cmww", "THIRD_PARTY_LJZN": "ljzn"}.get(job_type, job_type.lower())
        return self.limits.get(key)


# --------------------------------------------------------------------------- the client


class HuaweiClient:
    """Typed calls to the voice-training API over a shared ``HttpTransport``."""

    def __init__(
        self,
        http: HttpTransport,
        *,
        base_url: str,
        project_id: str,
        auth: Auth,
        app_user_id: str | None = None,
        rate_limits: RateLimits | None = None,
        retry: RetryPolicies | None = None,
    ) -> None:
        """
        Args:
            http: the run's HTTP layer (``HttpClient``).
            base_url: ``https://metastudio.<region>.myhuaweicloud.com`` or the emulator's
                loopback ``http://127.0.0.1:<port>`` (anything else is refused).
            project_id: the IAM project of the region.
            auth: ``TokenAuth`` or ``AkSkAuth``.
            app_user_id: sent as ``X-App-UserId`` where the API defines it.
        """
        if not project_id:
            raise ValueError("a Huawei project_id is required")
        check_url(base_url)
        self._http = http
        self._base = base_url.rstrip("/")
        self._project_id = project_id
        self._auth = auth
        self._app_user_id = app_user_id
        self._limiters = (rate_limits or RateLimits()).limiters()
        self.retry = retry or RetryPolicies()
        self._unknown_states: set[str] = set()

    # -- plumbing --------------------------------------------------------------------------

    def _url(self, path: str, query: Sequence[tuple[str, str]] = ()) -> str:
        url = f"{self._base}/v1/{quote(self._project_id, safe='')}/{_PREFIX}/{path}"
        if query:
            # The signer's encoding: a literal '+' or space can never be misread server-side.
            url += "?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in query)
        return url

    def _headers(self, method: str, url: str, body: bytes, *, app_user: bool) -> dict[str, str]:
        # Content-Type on every call, GET and DELETE included, as the SDK does (it is signed).
        headers = {"Content-Type": _JSON}
        if app_user and self._app_user_id:
            headers["X-App-UserId"] = self._app_user_id
        if isinstance(self._auth, TokenAuth):
            headers["X-Auth-Token"] = self._auth.token
            return headers
        # Signed per attempt, so a retry much later still has a fresh X-Sdk-Date (±15 min).
        return sign_request(
            method=method,
            url=url,
            headers=headers,
            body=body,
            ak=self._auth.ak,
            sk=self._auth.sk,
            project_id=self._project_id,
            security_token=self._auth.security_token,
        )

    async def _call(
        self,
        kind: CallKind,
        method: str,
        path: str,
        *,
        policy: RetryPolicy,
        query: Sequence[tuple[str, str]] = (),
        body: Mapping[str, object] | None = None,
        app_user: bool = False,
        idempotent: bool = True,
        absent_on_retry_is_success: bool = False,
    ) -> object:
        url = self._url(path, query)
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        attempts = 0

        async def attempt() -> object:
            nonlocal attempts
            attempts += 1
            # Each attempt is a request, so each one waits for its slot in the window.
            await self._limiters[kind].acquire()
            headers = self._headers(method, url, payload, app_user=app_user)
            try:
                response = await self._http.request(
                    method,
                    url,
                    headers=headers,
                    body=payload or None,
                    idempotent=idempotent,
                    throttle_codes=THROTTLE_CODES,
                )
            except NotFound:
                # A repeated delete whose first answer was lost finds nothing: that is success.
                if absent_on_retry_is_success and attempts > 1:
                    return None
                raise
            return response.json()

        return await retry_call(policy, attempt, operation=f"huawei.{kind}")

    # -- jobs ------------------------------------------------------------------------------

    async def create_job(self, edition: str, body: CreateJobBody) -> CreatedJob:
        """Create a training job of ``edition`` (BASIC, MIDDLE, ADVANCE, THIRD_PARTY).

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
            policy=self.retry.create,
            body=body.to_json(),
            app_user=True,
            idempotent=False,
        )
        try:
            obj = _obj(payload, "create response")
            segment = _opt_obj(obj, "segment_uploading_url")
            return CreatedJob(
                job_id=_str(obj, "job_id"),
                addresses=UploadAddresses(
                    training_data_uploading_url=_opt_str(obj, "training_data_uploading_url"),
                    audio_uploading_url=_str_tuple(segment, "audio_uploading_url"),
                    txt_uploading_url=_str_tuple(segment, "txt_uploading_url"),
                    authorization_letter_uploading_url=_opt_str(
                        obj, "authorization_letter_uploading_url"
                    ),
                ),
            )
        except ProviderProtocolError as exc:
            # A 200 we cannot read most likely made a job whose id we do not know.
            raise AmbiguousCreate(f"create answered with an unreadable payload: {exc}") from exc

    async def show_job(self, job_id: str) -> JobInfo:
        """The job's detail (reference §6.5)."""
        payload = await self._call(
            "show", "GET", f"user/jobs/{_seg(job_id)}", policy=self.retry.poll, app_user=True
        )
        return self._job(_obj(payload, "job detail"))

    async def list_jobs(
        self,
        *,
        batch_name: str | None = None,
        voice_name: str | None = None,
        state: str | Collection[str] | None = None,
        job_type: str | None = None,
        offset: int = 0,
        limit: int = 100,
        sort_key: str | None = None,
        sort_dir: Literal["asc", "desc"] | None = None,
    ) -> JobPage:
        """One page of jobs matching the filters (reference §6.8); ``limit`` is 1–100."""
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
            ("sort_key", sort_key),
            ("sort_dir", sort_dir),
        ):
            if value is not None:
                query.append((key, value))
        payload = await self._call(
            "list", "GET", "user/jobs", policy=self.retry.poll, query=query, app_user=True
        )
        obj = _obj(payload, "job list")
        jobs = obj.get("jobs", [])
        if not isinstance(jobs, list):
            raise ProviderProtocolError("job list: 'jobs' is not an array")
        return JobPage(
            count=_int(obj, "count"),
            jobs=tuple(self._job(_obj(j, "job list item")) for j in jobs),
        )

    async def iter_jobs(
        self,
        *,
        batch_name: str | None = None,
        voice_name: str | None = None,
        state: str | Collection[str] | None = None,
        job_type: str | None = None,
        page_size: int = 100,
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
            )
            for job in page.jobs:
                if job.job_id not in seen:
                    seen.add(job.job_id)
                    yield job
            offset += page_size
            if offset >= page.count or not page.jobs:
                return

    async def commit_job(self, job_id: str, body: CommitJobBody | None = None) -> None:
        """Submit the job for review and training (reference §6.2)."""
        await self._call(
            "commit",
            "POST",
            f"user/jobs/{_seg(job_id)}",
            policy=self.retry.commit,
            body=None if body is None else body.to_json(),
            app_user=True,
        )

    async def delete_job(self, job_id: str) -> None:
        """Delete the job (reference §6.7); NotFound if it never existed."""
        await self._call(
            "delete",
            "DELETE",
            f"user/jobs/{_seg(job_id)}",
            policy=self.retry.commit,
            app_user=True,
            absent_on_retry_is_success=True,
        )

    # -- uploads ---------------------------------------------------------------------------

    async def uploading_address(self, job_id: str) -> UploadAddresses:
        """Fresh pre-signed upload URLs for the job (reference §6.6)."""
        payload = await self._call(
            "address",
            "GET",
            f"user/jobs/{_seg(job_id)}/uploading-address-url",
            policy=self.retry.poll,
        )
        obj = _obj(payload, "uploading address")
        segment = _opt_obj(obj, "segment_url")
        package = _opt_obj(obj, "package_url")
        return UploadAddresses(
            training_data_uploading_url=_opt_str(package, "training_data_uploading_url"),
            audio_uploading_url=_str_tuple(segment, "audio_uploading_url"),
            txt_uploading_url=_str_tuple(segment, "txt_uploading_url"),
            authorization_letter_uploading_url=_opt_str(obj, "authorization_letter_uploading_url"),
        )

    async def put_file(self, url: str, source: Path | UploadBody, *, content_type: str) -> int:
        """PUT one file (or a streamed package) to a pre-signed URL with the upload retry
        policy; returns the bytes sent."""
        return await self._http.put_file(
            url, source, content_type=content_type, retry=self.retry.upload
        )

    async def confirm_segment(self, job_id: str, index: int) -> SegmentConfirm:
        """Confirm sentence ``index`` (0–1024) after its WAV and TXT were uploaded."""
        if not 0 <= index <= 1024:
            raise ValueError("segment index must be within 0..1024")
        payload = await self._call(
            "commit",
            "POST",
            "user/training-segment",
            policy=self.retry.commit,
            query=[("job_id", job_id), ("index", str(index))],
        )
        obj = _obj(payload, "segment confirmation")
        return SegmentConfirm(
            confirm_result=_bool(obj, "confirm_result"),
            unmatched_index_hit=_int_tuple(obj, "unmatched_index_hit"),
        )

    async def segment_info(self, job_id: str) -> tuple[int, ...]:
        """The sentence indices already confirmed, ascending (reference §6.3)."""
        payload = await self._call(
            "segment",
            "GET",
            "user/training-segment",
            policy=self.retry.poll,
            query=[("job_id", job_id)],
        )
        return tuple(sorted(set(_int_tuple(_obj(payload, "segment info"), "confirmed_index"))))

    # -- results and account ---------------------------------------------------------------

    async def audit_result(self, job_id: str) -> AuditResult:
        """The system and admin review result (reference §6.4)."""
        payload = await self._call(
            "audit", "GET", f"user/jobs/{_seg(job_id)}/audit-result", policy=self.retry.poll
        )
        obj = _obj(payload, "audit result")
        system = _opt_obj(obj, "system_audit_result")
        admin = _opt_obj(obj, "admin_audit_result")
        raw_errors = system.get("errors", [])
        if not isinstance(raw_errors, list):
            raise ProviderProtocolError("audit result: 'errors' is not an array")
        errors = []
        for item in raw_errors:
            e = _obj(item, "audit error")
            errors.append(
                AuditError(
                    audio_name=_opt_str(e, "audio_name"),
                    text_name=_opt_str(e, "text_name"),
                    error_code=_opt_str(e, "error_code"),
                    error_message=_opt_str(e, "error_message"),
                )
            )
        return AuditResult(
            errors=tuple(errors),
            system_audit_time=_opt_int(system, "audit_time"),
            admin_message=_opt_str(admin, "message"),
            admin_attachment_name=_opt_str(admin, "attachment_name"),
            admin_audit_time=_opt_int(admin, "audit_time"),
        )

    async def quotas(self) -> Quotas:
        """Remaining training resources per edition (reference §6.9)."""
        payload = await self._call("quota", "GET", "quotas", policy=self.retry.poll)
        available = _opt_obj(_obj(payload, "quotas"), "resource_available_nums")
        counts = {key: _int(available, key) for key in available}
        return Quotas(available=MappingProxyType(counts))

    async def tenant_duration_cfg(self) -> TenantDurationCfg:
        """The tenant's audio-duration limits per edition (reference §6.10)."""
        payload = await self._call(
            "quota", "GET", "user/tenant-duration-cfg", policy=self.retry.poll
        )
        obj = _obj(payload, "tenant duration config")
        limits: dict[str, DurationLimit] = {}
        for key in obj:
            for suffix in ("_min", "_max", "_advice_value"):
                if key.endswith(suffix):
                    edition = key.removesuffix(suffix)
                    limits[edition] = DurationLimit(
                        min_s=_opt_int(obj, f"{edition}_min"),
                        max_s=_opt_int(obj, f"{edition}_max"),
                        advice_s=_opt_int(obj, f"{edition}_advice_value"),
                    )
        return TenantDurationCfg(
            tenant_id=_opt_str(obj, "tenant_id"), limits=MappingProxyType(limits)
        )

    # -- parsing ---------------------------------------------------------------------------

    def _job(self, obj: Mapping[str, object]) -> JobInfo:
        job = JobInfo(
            job_id=_str(obj, "job_id"),
            state=_str(obj, "state"),
            voice_name=_opt_str(obj, "voice_name"),
            batch_name=_opt_str(obj, "batch_name"),
            job_type=_opt_str(obj, "job_type"),
            create_type=_opt_str(obj, "create_type"),
            asset_id=_opt_str(obj, "asset_id"),
            job_failed_code=_opt_str(obj, "job_failed_code"),
            job_failed_reason=_opt_str(obj, "job_failed_reason"),
            reject_times=_opt_int(obj, "reject_times") or 0,
            create_time=_opt_int(obj, "create_time"),
            lastupdate_time=_opt_int(obj, "lastupdate_time"),
            app_user_id=_opt_str(obj, "app_user_id"),
            tag=_opt_str(obj, "tag"),
            sex=_opt_str(obj, "sex"),
            language=_opt_str(obj, "language"),
        )
        if job.state not in JOB_STATES and job.state not in self._unknown_states:
            self._unknown_states.add(job.state)
            log.warning("huawei.unknown_state", state=job.state, job_id=job.job_id)
        return job


# --------------------------------------------------------------------------- edge parsing
# Small typed readers: the only place JSON values become Python types. Messages name the
# field, never its value (values can be signed URLs).


def _seg(value: str) -> str:
    """One path segment, percent-encoded (a job id can never add a path level)."""
    return quote(value, safe="")


def _obj(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ProviderProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _opt_obj(obj: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = obj.get(key)
    if value is None:
        return {}
    return _obj(value, repr(key))


def _str(obj: Mapping[str, object], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ProviderProtocolError(f"{key!r} is missing or not a non-empty string")
    return value


def _opt_str(obj: Mapping[str, object], key: str) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ProviderProtocolError(f"{key!r} is not a string")
    return value


def _as_int(value: object, key: str) -> int:
    if isinstance(value, bool):
        raise ProviderProtocolError(f"{key!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ProviderProtocolError(f"{key!r} is not an integer")


def _int(obj: Mapping[str, object], key: str) -> int:
    if obj.get(key) is None:
        raise ProviderProtocolError(f"{key!r} is missing")
    return _as_int(obj[key], key)


def _opt_int(obj: Mapping[str, object], key: str) -> int | None:
    value = obj.get(key)
    return None if value is None else _as_int(value, key)


def _bool(obj: Mapping[str, object], key: str) -> bool:
    value = obj.get(key)
    if not isinstance(value, bool):
        raise ProviderProtocolError(f"{key!r} is missing or not a boolean")
    return value


def _str_tuple(obj: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProviderProtocolError(f"{key!r} is not an array of strings")
    return tuple(value)


def _int_tuple(obj: Mapping[str, object], key: str) -> tuple[int, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProviderProtocolError(f"{key!r} is not an array")
    return tuple(_as_int(v, key) for v in value)


__all__ = [
    "CREATE_ROUTES",
    "JOB_STATES",
    "THROTTLE_CODES",
    "AkSkAuth",
    "AuditError",
    "AuditResult",
    "Auth",
    "CallKind",
    "CommitJobBody",
    "CreateJobBody",
    "CreatedJob",
    "DurationLimit",
    "Edition",
    "HuaweiClient",
    "JobInfo",
    "JobPage",
    "Quotas",
    "RateLimits",
    "RetryPolicies",
    "SegmentConfirm",
    "TenantDurationCfg",
    "TokenAuth",
    "UploadAddresses",
]
