"""Builds the run's provider from the job file: one HttpClient (one aiohttp session) for the
whole run, the provider's API client on it, and the stage-level adapter the runner drives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import anyio

from pipeline.config import HUAWEI, Credentials, JobConfig, Limits
from pipeline.providers.base import Provider
from pipeline.providers.http import (
    Connection,
    HttpClient,
    HttpSettings,
    RateLimit,
    RetryPolicies,
    RetryPolicy,
)


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


@asynccontextmanager
async def open_provider(
    config: JobConfig,
    credentials: Credentials,
    endpoint: str,
    *,
    shared_limit: RateLimit | None = None,
) -> AsyncIterator[Provider]:
    """The provider for ``config``, talking to ``endpoint`` (a base URL; the emulator's when
    the job file says ``endpoint = "emulator"``). ``shared_limit``: a rate limit the control
    calls take a slot in beside the client's own (the scale-out workers' shared windows)."""
    async with HttpClient(http_settings(config)) as http:
        parts = _Parts(config, credentials, endpoint, http, shared_limit)
        yield parts.huawei() if config.provider.kind == HUAWEI else parts.azure()


@dataclass(frozen=True, slots=True)
class _Parts:
    """What every provider is built from."""

    config: JobConfig
    credentials: Credentials
    endpoint: str
    http: HttpClient
    shared_limit: RateLimit | None

    def _uploads(self) -> anyio.CapacityLimiter:
        return anyio.CapacityLimiter(self.config.limits.uploads)

    def _connection(self, defaults: RetryPolicies) -> Connection:
        """The endpoint over the run's transport, with the service's retry policies tuned by
        ``[limits]`` and the scale-out shared limit."""
        retry = defaults.map(lambda policy: _tuned(policy, self.config.limits))
        return Connection(self.http, self.endpoint, retry=retry, shared=self.shared_limit)

    def huawei(self) -> Provider:
        from pipeline.providers.huawei.auth import AkSkAuth, TokenAuth
        from pipeline.providers.huawei.client import HUAWEI_RETRY, HuaweiClient, RateLimits
        from pipeline.providers.huawei.provider import HuaweiProvider

        config, credentials = self.config, self.credentials
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
            self._connection(HUAWEI_RETRY),
            project_id=config.provider.project_id,
            auth=auth,
            app_user_id=config.provider.app_user_id,
            rate_limits=RateLimits.uniform(
                write=config.limits.create_per_second, read=config.limits.query_per_second
            ),
        )
        return HuaweiProvider(config=config, client=client, http=self.http, uploads=self._uploads())

    def azure(self) -> Provider:
        from pipeline.providers.azure.client import AZURE_RETRY, AzureClient
        from pipeline.providers.azure.provider import AzureProvider

        client = AzureClient(
            self._connection(AZURE_RETRY),
            config=self.config,
            key=self.credentials.azure_key or "",
        )
        return AzureProvider(
            config=self.config,
            client=client,
            http=self.http,
            uploads=self._uploads(),
            credentials=self.credentials,
        )
