"""The worker's provider: the same clients and stage adapters as a run, with the control API
behind the shared rate limit (``SharedLimitTransport``); uploads keep using the HttpClient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pipeline.config import Credentials, JobConfig
from pipeline.providers.base import Provider
from pipeline.providers.factory import open_provider
from pipeline.providers.http import HttpClient
from pipeline.scaleout.ratelimit import Classifier, SharedLimitTransport


@asynccontextmanager
async def open_worker_provider(
    config: JobConfig, credentials: Credentials, endpoint: str, classify: Classifier
) -> AsyncIterator[Provider]:
    """The provider for ``config`` at ``endpoint``; ``classify`` maps control requests to
    their shared windows (``ratelimit.provider_windows``)."""

    def shared(http: HttpClient) -> SharedLimitTransport:
        return SharedLimitTransport(http, classify)

    async with open_provider(config, credentials, endpoint, control=shared) as provider:
        yield provider
