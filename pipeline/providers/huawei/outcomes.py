"""What a Huawei job's final state means for the voice, with the reasons the service gives.

``SUCCEED`` → succeeded; ``FAILED`` → failed with ``job_failed_code``/``job_failed_reason``;
``AUDIT_FAILED`` → needs_attention with the audit result's per-file errors (mapped back to inbox
files), the manual reviewer's ``admin_message`` and ``attachment_url`` (redacted: it may be
pre-signed), and the operation log's ``admin_audit_failure_reason`` /
``algorithm_failure_reason``; ``SPLIT_FAILED``/``USER_REVIEW_REJECT`` → needs_attention.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from pipeline.providers.http import redact_url
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.providers.huawei.records import AuditResult, JobInfo, OperationLog
from pipeline.records import Finding, Phase, PreparedVoice, Severity, VoiceState, VoiceStatus

#: Final states and what they mean for the voice (reference §5: SPLIT_FAILED and
#: USER_REVIEW_REJECT are undocumented; we stop polling and ask a human).
FINAL: Final = {
    "SUCCEED": (VoiceStatus.SUCCEEDED, None),
    "FAILED": (VoiceStatus.FAILED, "remote.job_failed"),
    "AUDIT_FAILED": (VoiceStatus.NEEDS_ATTENTION, "remote.audit_failed"),
    "SPLIT_FAILED": (VoiceStatus.NEEDS_ATTENTION, "remote.split_failed"),
    "USER_REVIEW_REJECT": (VoiceStatus.NEEDS_ATTENTION, "remote.review_rejected"),
}
_AUDIT: Final = "remote.audit_failed"


def _error(code: str, file: str | None, message: str) -> Finding:
    return Finding(severity=Severity.ERROR, code=code, file=file, message=message)


async def finish(
    client: HuaweiClient,
    state: VoiceState,
    job: JobInfo,
    voices: Mapping[str, PreparedVoice],
) -> VoiceState | None:
    """The voice's new state for the job as listed/shown now; None when nothing changed."""
    final = FINAL.get(job.state)
    if job.state == state.remote.get("state") and final is None:
        return None  # nothing new (a final state is finished below even if already seen)
    remote = state.with_remote(
        state=job.state,
        asset_id=job.asset_id,
        job_failed_code=job.job_failed_code,
        job_failed_reason=job.job_failed_reason,
    )
    if final is None:
        return replace(state, remote=remote)
    status, code = final
    findings = list(state.findings)
    last_error = None
    if code == _AUDIT:
        found = await review_findings(client, job.job_id, voices.get(state.key))
        findings.extend(found)
        last_error = "audit failed: " + "; ".join(f.message for f in found[:3])
    elif code is not None:
        reason = " ".join(x for x in (job.job_failed_code, job.job_failed_reason) if x)
        last_error = reason or job.state
        findings.append(_error(code, None, reason or f"the provider reports {job.state}"))
    return state.advance(
        Phase.DONE, status=status, remote=remote, findings=tuple(findings), last_error=last_error
    )


async def review_findings(
    client: HuaweiClient, job_id: str, voice: PreparedVoice | None
) -> list[Finding]:
    """The reasons an AUDIT_FAILED job gives: per-file system-audit errors, the manual
    reviewer's message and attachment, and the operation log's failure reasons."""
    result = await client.audit_result(job_id)
    out = _file_findings(result, voice)
    if result.admin_message or result.admin_attachment_url:
        parts = [f"manual review: {result.admin_message or '(no message)'}"]
        if result.admin_attachment_url:
            name = result.admin_attachment_name or "attachment"
            parts.append(f"{name}: {redact_url(result.admin_attachment_url)}")
        out.append(_error(_AUDIT, None, " — ".join(parts)))
    if not result.errors:
        # The operation log says why when the audit result alone does not (manual review).
        out.extend(_log_findings(await client.operation_log(job_id), out))
    if not out:
        out.append(_error(_AUDIT, None, "the provider's review failed (no reason given)"))
    return out


def _file_findings(result: AuditResult, voice: PreparedVoice | None) -> list[Finding]:
    sources = {f"{c.index}.wav": c.source for c in voice.clips} if voice else {}
    texts = {f"{c.index}.txt": c.transcript for c in voice.clips} if voice else {}
    out: list[Finding] = []
    for err in result.errors:
        file = (
            sources.get(err.audio_name or "")
            or texts.get(err.text_name or "")
            or (err.audio_name or err.text_name)
        )
        out.append(_error(_AUDIT, file, f"{err.error_code}: {err.error_message}"))
    return out


def _log_findings(entries: tuple[OperationLog, ...], already: list[Finding]) -> list[Finding]:
    """One finding per distinct reason of the log's audit-failure entries (newest rejection)."""
    said = {f.message for f in already}
    out: list[Finding] = []
    for entry in reversed(entries):
        reasons = (
            ("admin review", entry.admin_audit_failure_reason),
            ("algorithm", entry.algorithm_failure_reason),
        )
        found = [(who, why) for who, why in reasons if why]
        if not found:
            continue
        for who, why in found:
            message = (
                f"operation log ({entry.action or '?'} by {entry.operator or '?'}), {who}: {why}"
            )
            if message not in said:
                said.add(message)
                out.append(_error(_AUDIT, None, message))
        break  # the newest entry that gives reasons is the rejection at hand
    return out
