"""Views of Huawei jobs at an emulated moment: job detail (§4.5), audit result, op-logs as
JSON, and ``JobView``, the inspection record tests read.

Times: ``create_time``/``lastupdate_time`` and op-log ``time`` are Unix milliseconds (the docs
leave the unit open; milliseconds is what MetaStudio's other APIs use); ``audit_time`` is Unix
seconds, because its documented range (0–2147483647) only fits seconds. Fields without a value
are left out rather than sent as null.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.emulator.huawei.book import millis
from pipeline.emulator.huawei.model import (
    FAILURES,
    AuditError,
    CreateType,
    Job,
    JobState,
    JobType,
)
from pipeline.emulator.huawei.plays import ADMIN_ATTACHMENT, ADMIN_MESSAGE, ALGORITHM_REASON

#: How long an allocated training resource stays valid after the job was created (emulated).
_RESOURCE_LIFETIME_S = 365 * 86400


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_json(
    job: Job,
    now: float,
    *,
    authorization_url: str | None = None,
    input_url: str | None = None,
) -> dict[str, Any]:
    """The ShowVoiceTrainingJob / list-item object of ``job`` at emulated time ``now``."""
    meta = job.meta
    state = job.state_at(now)
    out: dict[str, Any] = {
        "job_type": str(job.job_type),
        "job_id": job.job_id,
        "app_user_id": meta.app_user_id,
        "voice_name": meta.voice_name,
        "sex": meta.sex,
        "language": meta.language,
        "state": str(state),
        "reject_times": job.reject_times_at(now),
        "create_time": millis(job.created_at),
        "lastupdate_time": millis(job.updated_at(now)),
        "voice_authorization_url": authorization_url,
        "training_input_source_url": input_url,
        "create_type": str(job.create_type),
        "tag": meta.tag,
        "phone": meta.phone,
        "dhtms_job_id": meta.dhtms_job_id,
        "batch_name": meta.batch_name,
        "output_language": meta.output_language,
        "is_remake": False,
        "is_ondemand_resource": meta.is_ondemand_resource,
    }
    if state is JobState.SUCCEED:
        out["asset_id"] = job.submissions[-1].asset_id
    if state in FAILURES:
        out["job_failed_code"], out["job_failed_reason"] = FAILURES[state]
    if job.resource_id is not None:
        out["allocated_resource"] = {
            "resource_id": job.resource_id,
            "charge_mode": "ON_DEMAND" if meta.is_ondemand_resource else "ONE_TIME",
            "expire_time": _rfc3339(job.created_at + _RESOURCE_LIFETIME_S),
        }
    return {key: value for key, value in out.items() if value is not None}


def audit_result_json(job: Job, now: float) -> dict[str, Any]:
    """ShowJobAuditResult: empty until the system audit of the latest commit has ended."""
    if not job.submissions or job.submissions[-1].audit_done_at > now:
        return {"system_audit_result": {"errors": []}, "admin_audit_result": {}}
    latest = job.submissions[-1]
    out: dict[str, Any] = {
        "system_audit_result": {
            "audit_time": int(latest.audit_done_at),
            "errors": [error.as_json() for error in latest.audit_errors],
        },
        "admin_audit_result": {},
    }
    for transition in latest.passed(now):
        if ("ADMIN_AUDIT_PASS", "ADMIN") in transition.actions:
            out["admin_audit_result"] = {
                "message": "The training data passed manual review.",
                "audit_time": int(transition.at),
            }
        elif ("AUDIT_NOT_PASS", "ADMIN") in transition.actions:
            out["admin_audit_result"] = {
                "message": ADMIN_MESSAGE,
                "attachment_name": ADMIN_ATTACHMENT,
                "attachment_url": f"https://metastudio-review.obs.example.invalid/{job.job_id}/"
                f"{ADMIN_ATTACHMENT}",
                "audit_time": int(transition.at),
            }
    return out


def op_logs(job: Job, now: float) -> list[dict[str, Any]]:
    """Every op-log entry of ``job`` up to ``now``, oldest first."""
    entries: list[dict[str, Any]] = [
        {"time": millis(job.created_at), "action": "CREATE_JOB", "operator": "USER"}
    ]
    for submission in job.submissions:
        for transition in submission.passed(now):
            for action, operator in transition.actions:
                entry: dict[str, Any] = {
                    "time": millis(transition.at),
                    "action": action,
                    "operator": operator,
                }
                if transition.state in FAILURES:
                    entry["external_info"] = {
                        "algorithm_failure_reason": FAILURES[transition.state][1]
                    }
                elif submission.admin_rejected and transition.state is JobState.AUDIT_FAILED:
                    entry["external_info"] = {
                        "admin_audit_failure_reason": ADMIN_MESSAGE,
                        "algorithm_failure_reason": ALGORITHM_REASON,
                    }
                elif transition.state is JobState.AUDIT_FAILED:
                    first = submission.audit_errors[0] if submission.audit_errors else None
                    reason = first.error_message if first else "The training data failed review."
                    entry["external_info"] = {"algorithm_failure_reason": reason}
                entries.append(entry)
    return entries


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


def job_view(job: Job, now: float) -> JobView:
    """``job`` as the inspection API shows it at emulated ``now``."""
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
