"""The worker's provider: the same clients and stage adapters as a run, with the control API
behind the shared rate limit (``SharedLimitTransport``).

This mirrors ``pipeline.providers.factory.open_provider`` except for the transport the API
clients get; uploads keep using the ``HttpClient`` directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from pipeline.config import HUAWEI, Credentials, JobConfig
from pipeline.providers.base import Provider
from pipeline.providers.factory import http_settings
from pipeline.providers.http import HttpClient
from pipeline.scaleout.ratelimit import Classifier, SharedLimitTransport


@asynccontextmanager
async def open_worker_provider(
    config: JobConfig, credentials: Credentials, endpoint: str, classify: Classifier
) -> AsyncIterator[Provider]:
    """The provider for ``config`` at ``endpoint``; ``classify`` maps control requests to
    their shared windows (``ratelimit.provider_windows``)."""
    async with HttpClient(http_settings(config)) as http:
        uploads = anyio.CapacityLimiter(config.limits.uploads)
        transport = SharedLimitTransport(http, classify)
        if config.provider.kind == HUAWEI:
            from pipeline.providers.huawei import HuaweiProvider
            from pipeline.providers.huawei_client import (
                AkSkAuth,
                HuaweiClient,
                RateLimits,
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
                assert credentials.huawei_token is not None  # Credentials.for_provider checked
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
            )
            yield HuaweiProvider(config=config, client=client, http=http, uploads=uploads)
            return
        from pipeline.providers.azure import AzureProvider
        from pipeline.providers.azure_client import AzureClient

        azure = AzureClient(
            transport, base_url=endpoint, config=config, key=credentials.azure_key or ""
        )
        yield AzureProvider(
            config=config, client=azure, http=http, uploads=uploads, credentials=credentials
        )
