"""The one shape of every error answer the emulator gives: status, service error code, message.

Each service renders its own body (Huawei and Azure JSON, OBS and Azure Storage XML) by
overriding ``response``; handlers raise the error and the service's route wrapper answers it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web


class ServiceError(Exception):
    """An error answer: HTTP status, the service's error code, a message, extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        """The answer as the service would send it."""
        raise NotImplementedError
