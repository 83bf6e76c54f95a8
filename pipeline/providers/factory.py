"""Builds the run's provider from the job file: one HttpClient (one aiohttp session) for the
whole run, the provider's API client on it, and the stage-level adapter the runner drives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio

from pipeline.config import HUAWEI, Credentials, JobConfig, Limits
from pipeline.providers.base import Provider
from pipeline.providers.http import HttpClient, HttpSettings, HttpTransport, RetryPolicy


def _tuned(policy: RetryPolicy, limits: Limits) -> RetryPolicy:
    """A call kind's default policy with the job file's [limits] retry overrides applied."""
    return replace(
        policy,
        attempts=limits.retry_attempts or policy.attempts,
        max_elapsed_s=(
            policy.max_elapsed_s if limits.retry_budget_s is None else limits.retry_budget_s
        ),
    )


def http_settings(config: JobConfig) -> HttpSettings:
    # Pool size follows the upload limit, with room for control calls beside the uploads.
    base = HttpSettings(connections=config.limits.uploads + 8)
    return replace(base, upload_retry=_tuned(base.upload_retry, config.limits))


#: Wraps the transport the control-API clients use (uploads keep the plain HttpClient); the
#: scale-out workers put their shared, database-kept rate limit here.
ControlTransport = Callable[[HttpClient], HttpTransport]


@asynccontextmanager
async def open_provider(
    config: JobConfig,
    credentials: Credentials,
    endpoint: str,
    *,
    control: ControlTransport | None = None,
) -> AsyncIterator[Provider]:
    """The provider for ``config``, talking to ``endpoint`` (a base URL; the emulator's when
    the job file says ``endpoint = "emulator"``)."""
    async with HttpClient(http_settings(config)) as http:
        uploads = anyio.CapacityLimiter(config.limits.uploads)
        transport = http if control is None else control(http)
        if config.provider.kind == HUAWEI:
            yield _huawei(config, credentials, endpoint, http, transport, uploads)
        else:
            yield _azure(config, credentials, endpoint, http, transport, uploads)


def _huawei(
    config: JobConfig,
    credentials: Credentials,
    endpoint: str,
    http: HttpClient,
    transport: HttpTransport,
    uploads: anyio.CapacityLimiter,
) -> Provider:
    from pipeline.providers.huawei import HuaweiProvider
    from pipeline.providers.huawei_client import (
        AkSkAuth,
        HuaweiClient,
        RateLimits,
        RetryPolicies,
        TokenAuth,
    )

    auth: AkSkAuth | TokenAuth
    if credentials.huawei_ak and credentials.huawei_sk:
        auth = AkSkAuth(
            ak=credentials.huawei_ak,
            sk=credentials.huawei_sk,
            security_token=credentials.huawei_security_token,
        )
    else:
        assert credentials.huawei_token is not None  # Credentials.for_provider checked it
        auth = TokenAuth(token=credentials.huawei_token)
    client = HuaweiClient(
        transport,
        base_url=endpoint,
        project_id=config.provider.project_id,
        auth=auth,
        app_user_id=config.provider.app_user_id,
        rate_limits=RateLimits.uniform(
            write=config.limits.create_per_second, read=config.limits.query_per_second
        ),
        retry=RetryPolicies(
            **{
                kind: _tuned(getattr(RetryPolicies(), kind), config.limits)
                for kind in ("create", "commit", "poll", "upload")
            }
        ),
    )
    return HuaweiProvider(config=config, client=client, http=http, uploads=uploads)


def _azure(
    config: JobConfig,
    credentials: Credentials,
    endpoint: str,
    http: HttpClient,
    transport: HttpTransport,
    uploads: anyio.CapacityLimiter,
) -> Provider:
    from pipeline.providers.azure import AzureProvider
    from pipeline.providers.azure_client import AzureClient, RetryPolicies

    client = AzureClient(
        transport,
        base_url=endpoint,
        config=config,
        key=credentials.azure_key or "",
        retry=RetryPolicies(
            **{
                kind: _tuned(getattr(RetryPolicies(), kind), config.limits)
                for kind in ("create", "read", "upload")
            }
        ),
    )
    return AzureProvider(
        config=config, client=client, http=http, uploads=uploads, credentials=credentials
    )
