"""Doctor rows for Huawei MetaStudio: credentials, quota, tenant durations, alternatives.

Only reads: one signed list of jobs, the quotas, the tenant's duration configuration, and a
``show`` of a job id that cannot exist (how the account answers an unknown job). Nothing is
created, uploaded or committed.
"""

from __future__ import annotations

from typing import Final

from pipeline.config import Credentials, JobConfig
from pipeline.errors import (
    AuthenticationFailed,
    NotFound,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from pipeline.providers.doctor.records import Check, fail, ok, warn
from pipeline.providers.http import Connection, HttpTransport, RetryPolicies, RetryPolicy
from pipeline.providers.huawei.auth import AkSkAuth, Auth, TokenAuth
from pipeline.providers.huawei.client import HuaweiClient
from pipeline.providers.huawei.records import JobPage

#: A job id no account holds: how the service answers an unknown job (404 or 400).
UNKNOWN_JOB: Final = "00000000-0000-4000-8000-000000000000"
#: Doctor asks once and reports; a read is retried briefly (throttling, a 5xx), no more.
RETRY: Final = RetryPolicies(poll=RetryPolicy(attempts=3, max_elapsed_s=15.0))
_CREDENTIALS: Final = "credentials"


def auth_of(credentials: Credentials) -> Auth | None:
    """The client's authentication from the environment's credentials (AK/SK first)."""
    if credentials.huawei_ak and credentials.huawei_sk:
        return AkSkAuth(
            ak=credentials.huawei_ak,
            sk=credentials.huawei_sk,
            security_token=credentials.huawei_security_token,
        )
    if credentials.huawei_token:
        return TokenAuth(token=credentials.huawei_token)
    return None


async def checks(
    config: JobConfig,
    credentials: Credentials,
    http: HttpTransport,
    endpoint: str,
    *,
    clock_failed: bool,
) -> list[Check]:
    """The Huawei rows after the endpoint answered; ``clock_failed``: the clock row failed (a
    refused signature is then most likely the clock's doing, not the key's)."""
    auth = auth_of(credentials)
    if auth is None:
        return [
            fail(
                _CREDENTIALS,
                "none in the environment",
                "export HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or METASTUDIO_AUTH_TOKEN)",
            )
        ]
    p = config.provider
    client = HuaweiClient(
        Connection(http, endpoint, retry=RETRY),
        project_id=p.project_id,
        auth=auth,
        app_user_id=p.app_user_id,
    )
    how = "AK/SK signature" if isinstance(auth, AkSkAuth) else "IAM token"
    try:
        page = await client.list_jobs(limit=100)
    except ProviderError as exc:
        return [_refused(exc, how, p.project_id, clock_failed)]
    rows = [
        ok(
            _CREDENTIALS,
            f"a list of jobs with the {how} was accepted (project {p.project_id}: "
            f"{page.count} jobs)",
        )
    ]
    rows.append(await _quota(client, p.job_type, p.edition, p.project_id))
    rows.append(await _durations(client, config))
    rows.append(_batch_name(page, config.batch))
    rows.append(await _unknown_job(client))
    if p.upload_mode == "segment":
        rows.append(
            ok(
                "alt: segment URLs",
                "unknown: only a create shows how many upload slots SEGMENT mode hands out, "
                "and doctor creates nothing",
            )
        )
    return rows


def _refused(exc: ProviderError, how: str, project_id: str, clock_failed: bool) -> Check:
    if isinstance(exc, ProviderUnavailable):
        return fail(
            _CREDENTIALS,
            f"the signed list call got no answer: {exc}",
            "the endpoint answered a plain GET but not the API; check [provider] endpoint "
            "and try again later",
            unreachable=True,
        )
    if isinstance(exc, AuthenticationFailed):
        if clock_failed and how.startswith("AK/SK"):
            fix = "fix this machine's clock first (see clock), then run doctor again"
        elif how.startswith("AK/SK"):
            fix = (
                "check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK: an access key of the account "
                f"that owns project {project_id}, not deleted or disabled (IAM console → "
                "My Credentials → Access Keys); with a temporary key also "
                "HUAWEICLOUD_SDK_SECURITY_TOKEN"
            )
        else:
            fix = "METASTUDIO_AUTH_TOKEN is refused or expired (24 h): get a fresh IAM token"
        return fail(_CREDENTIALS, f"the {how} was refused: {exc}", fix)
    if isinstance(exc, ProviderRejected):
        return fail(
            _CREDENTIALS,
            f"the list call was refused: {exc}",
            f"check [provider] project_id ({project_id}): the IAM project of this region that "
            "the credentials belong to",
        )
    return fail(
        _CREDENTIALS,
        f"the answer is not MetaStudio's: {exc}",
        "check [provider] endpoint: https://metastudio.<region>.myhuaweicloud.com",
    )


async def _quota(client: HuaweiClient, job_type: str, edition: str, project_id: str) -> Check:
    name = "quota"
    try:
        quotas = await client.quotas()
    except ProviderError as exc:
        return warn(
            name,
            f"could not read the quotas: {exc}",
            "check in the MetaStudio console that this account has voice-training resources",
        )
    left = quotas.for_job_type(job_type)
    others = ", ".join(f"{k} {v}" for k, v in sorted(quotas.available.items())) or "none listed"
    if left is None:
        return warn(
            name,
            f"the answer lists no {edition} resource ({others}): unknown",
            "check the account's voice-training resources in the MetaStudio console",
        )
    if left <= 0:
        return fail(
            name,
            f"no {edition} training left for project {project_id} ({others})",
            f"buy or allocate {edition} voice-training resources (MetaStudio console → "
            "resource management), or set [provider] edition to one with quota left",
        )
    return ok(name, f"{edition}: {left} trainings left ({others})")


async def _durations(client: HuaweiClient, config: JobConfig) -> Check:
    name = "durations"
    edition = config.provider.edition
    try:
        cfg = await client.tenant_duration_cfg()
    except ProviderError as exc:
        return warn(name, f"could not read the tenant's duration limits: {exc}")
    limit = cfg.for_job_type(config.provider.job_type)
    if limit is None or limit.min_s is None or limit.max_s is None:
        return warn(name, f"the tenant's configuration has no {edition} range: unknown")
    advice = f", advice {limit.advice_s} s" if limit.advice_s is not None else ""
    detail = f"{edition}: {limit.min_s}–{limit.max_s} s of audio per voice{advice}"
    profile = config.profile
    low, high = profile.min_total_s, profile.max_total_s
    if low is not None and high is not None and (low < limit.min_s or high > limit.max_s):
        return warn(
            name,
            f"{detail}; narrower than the profile's {low:g}–{high:g} s, so voices outside "
            "the tenant's range are refused by the service",
            "record (or select) voices within the tenant's range, or ask Huawei to widen it",
        )
    return ok(name, detail)


def _batch_name(page: JobPage, batch: str) -> Check:
    name = "alt: list keeps batch_name"
    if not page.jobs:
        return ok(name, "unknown: the account has no jobs to look at yet")
    kept = [j for j in page.jobs if j.batch_name]
    if any(j.batch_name == batch for j in kept):
        return ok(name, f"yes: jobs of batch {batch!r} list with it")
    if kept:
        return ok(name, f"yes: {len(kept)} of {len(page.jobs)} listed jobs carry one")
    return ok(
        name,
        f"no: none of {len(page.jobs)} listed jobs carries one (voice-onboard does not rely on it)",
    )


async def _unknown_job(client: HuaweiClient) -> Check:
    name = "alt: unknown job answer"
    try:
        await client.show_job(UNKNOWN_JOB)
    except NotFound as exc:
        return ok(name, f"HTTP {exc.status} {exc.code or ''}".rstrip())
    except ProviderRejected as exc:
        return ok(name, f"HTTP {exc.status} {exc.code or ''} (not 404)".replace("  ", " "))
    except ProviderError as exc:
        return ok(name, f"unknown: {exc}")
    return ok(name, "unknown: the service answered a job that cannot exist")
