"""Azure Custom Voice error answers: the ``{"error": {...}}`` body and ``x-ms-error-code`` header.

Handlers raise ``AzureError``; the gateway (``azure.gateway``) turns it into a JSON response, so
every error the emulator gives is JSON (the official sample client calls ``.json()`` on errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from aiohttp import web

from pipeline.emulator.errors import ServiceError

#: The ``ErrorCode`` that goes with an HTTP status, by convention (§3.2).
CODE_OF_STATUS: Final[Mapping[int, str]] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "BadRequest",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}

#: What the Cognitive Services gateway says about a bad key (its ``code`` is the string "401").
GATEWAY_401_MESSAGE: Final = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)


class AzureError(ServiceError):
    """An error answer: status, ``ErrorCode``, message, optional ``BadArgument`` details."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: tuple[tuple[str, str, str], ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            status, code or CODE_OF_STATUS.get(status, "BadRequest"), message, headers=headers
        )
        #: (code, target, message) triples rendered as ``details[]``
        self.details = details

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = [
                {"code": code, "target": target, "message": message}
                for code, target, message in self.details
            ]
        return {"error": error}

    def response(self) -> web.Response:
        headers = {"x-ms-error-code": self.code, **self.headers}
        return web.json_response(self.body(), status=self.status, headers=headers)


def bad_argument(target: str, message: str) -> AzureError:
    """A validation failure: top-level ``BadRequest`` with one ``BadArgument`` detail (§3.1)."""
    return AzureError(
        400,
        "The request is invalid. See details.",
        code="BadRequest",
        details=(("BadArgument", target, message),),
    )


def not_found(kind: str, ident: str) -> AzureError:
    return AzureError(404, f"The {kind} '{ident}' was not found.", code="NotFound")


def unauthorized() -> web.Response:
    """The gateway-style 401 (its ``code`` is "401", not an ``ErrorCode``)."""
    return web.json_response(
        {"error": {"code": "401", "message": GATEWAY_401_MESSAGE}},
        status=401,
        headers={"x-ms-error-code": "401"},
    )
