"""The worker's provider: the same clients and stage adapters as a run, with every control call
also taking a slot in the shared, database-kept windows (``ratelimit.provider_windows``); uploads
to pre-signed URLs take none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pipeline.config import Credentials, JobConfig
from pipeline.providers.base import Provider
from pipeline.providers.factory import open_provider
from pipeline.providers.http import RateLimit


@asynccontextmanager
async def open_worker_provider(
    config: JobConfig, credentials: Credentials, endpoint: str, shared: RateLimit
) -> AsyncIterator[Provider]:
    """The provider for ``config`` at ``endpoint``; ``shared`` holds the account's windows
    (``ratelimit.provider_windows``)."""
    async with open_provider(config, credentials, endpoint, shared_limit=shared) as provider:
        yield provider
