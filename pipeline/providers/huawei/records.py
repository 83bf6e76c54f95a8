"""Wire records of the Huawei MetaStudio voice-training API (reference §4–§6), and their parsers.

Requests are frozen dataclasses with ``to_json``; answers are parsed at the edge by the
functions at the end (with :mod:`pipeline.providers.http.fields`), so anything unexpected is a
``ProviderProtocolError`` before it becomes a record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from pipeline.providers.http import redact_url
from pipeline.providers.http.fields import (
    JsonObject,
    array,
    boolean,
    integer,
    integers,
    json_object,
    opt_integer,
    opt_object,
    opt_string,
    record,
    string,
    strings,
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
    admin_attachment_url: str | None = None  #: may be pre-signed: redact before keeping it
    admin_audit_time: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationLog:
    """One entry of a job's operation log (reference §6.11)."""

    time: int | None
    action: str | None
    operator: str | None  #: USER | ADMIN | SYSTEM
    admin_audit_failure_reason: str | None = None
    algorithm_failure_reason: str | None = None


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


# --------------------------------------------------------------------------- parsers


def created_job(payload: object) -> CreatedJob:
    """The answer to a create (reference §6.1)."""
    obj = json_object(payload, "create response")
    segment = opt_object(obj, "segment_uploading_url")
    return CreatedJob(job_id=string(obj, "job_id"), addresses=_addresses(obj, segment, obj))


def upload_addresses(payload: object) -> UploadAddresses:
    """The answer to uploading-address-url (reference §6.6)."""
    obj = json_object(payload, "uploading address")
    segment = opt_object(obj, "segment_url")
    package = opt_object(obj, "package_url")
    return _addresses(package, segment, obj)


def _addresses(package: JsonObject, segment: JsonObject, letter: JsonObject) -> UploadAddresses:
    return UploadAddresses(
        training_data_uploading_url=opt_string(package, "training_data_uploading_url"),
        audio_uploading_url=strings(segment, "audio_uploading_url"),
        txt_uploading_url=strings(segment, "txt_uploading_url"),
        authorization_letter_uploading_url=opt_string(letter, "authorization_letter_uploading_url"),
    )


def job_info(obj: JsonObject) -> JobInfo:
    """One job of show or list (reference §4.5)."""
    return record(JobInfo, obj, reject_times=opt_integer(obj, "reject_times") or 0)


def segment_confirm(payload: object) -> SegmentConfirm:
    """The answer to confirm-segment (reference §6.3)."""
    obj = json_object(payload, "segment confirmation")
    return SegmentConfirm(
        confirm_result=boolean(obj, "confirm_result"),
        unmatched_index_hit=integers(obj, "unmatched_index_hit"),
    )


def confirmed_indices(payload: object) -> tuple[int, ...]:
    """The sentence indices segment info reports confirmed, ascending (reference §6.3)."""
    return tuple(sorted(set(integers(json_object(payload, "segment info"), "confirmed_index"))))


def audit_result(payload: object) -> AuditResult:
    """The review result of a job (reference §6.4)."""
    obj = json_object(payload, "audit result")
    system = opt_object(obj, "system_audit_result")
    admin = opt_object(obj, "admin_audit_result")
    errors = []
    for item in array(system, "errors", "audit result"):
        errors.append(record(AuditError, json_object(item, "audit error")))
    return AuditResult(
        errors=tuple(errors),
        system_audit_time=opt_integer(system, "audit_time"),
        admin_message=opt_string(admin, "message"),
        admin_attachment_name=opt_string(admin, "attachment_name"),
        admin_attachment_url=opt_string(admin, "attachment_url"),
        admin_audit_time=opt_integer(admin, "audit_time"),
    )


def operation_log(payload: object) -> tuple[int, tuple[OperationLog, ...]]:
    """(count, this page's entries) of ListJobOperationLog (reference §6.11)."""
    obj = json_object(payload, "operation log")
    entries = []
    for item in array(obj, "operations", "operation log"):
        entry = json_object(item, "operation log entry")
        info = opt_object(entry, "external_info")
        entries.append(
            OperationLog(
                time=opt_integer(entry, "time"),
                action=opt_string(entry, "action"),
                operator=opt_string(entry, "operator"),
                admin_audit_failure_reason=opt_string(info, "admin_audit_failure_reason"),
                algorithm_failure_reason=opt_string(info, "algorithm_failure_reason"),
            )
        )
    return opt_integer(obj, "count") or len(entries), tuple(entries)


def quotas(payload: object) -> Quotas:
    """Remaining training resources per edition (reference §6.9)."""
    available = opt_object(json_object(payload, "quotas"), "resource_available_nums")
    counts = {key: integer(available, key) for key in available}
    return Quotas(available=MappingProxyType(counts))


def tenant_duration_cfg(payload: object) -> TenantDurationCfg:
    """The tenant's audio-duration limits per edition (reference §6.10)."""
    obj = json_object(payload, "tenant duration config")
    limits: dict[str, DurationLimit] = {}
    for key in obj:
        for suffix in ("_min", "_max", "_advice_value"):
            if key.endswith(suffix):
                edition = key.removesuffix(suffix)
                limits[edition] = DurationLimit(
                    min_s=opt_integer(obj, f"{edition}_min"),
                    max_s=opt_integer(obj, f"{edition}_max"),
                    advice_s=opt_integer(obj, f"{edition}_advice_value"),
                )
    return TenantDurationCfg(
        tenant_id=opt_string(obj, "tenant_id"), limits=MappingProxyType(limits)
    )
