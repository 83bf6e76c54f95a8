"""structlog set-up and secret redaction.

JSON lines on stderr when stderr is not a terminal (cron), a console renderer when it is.
Event names are dotted constants; data are fields. The ``Redactor`` processor runs last before
rendering, so no secret value and no signature part of a pre-signed URL reaches any output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, Final, TextIO

import structlog

# Query parameters that carry a signature or credential in pre-signed URLs: OBS (Huawei),
# Azure SAS, S3. Their values are replaced, the rest of the URL stays readable.
_SIGNED_PARAMS: Final = re.compile(
    r"(?i)([?&](?:Signature|AccessKeyId|sig|X-Amz-Signature|X-Amz-Credential|"
    r"X-Amz-Security-Token|x-obs-security-token|skoid|sktid)=)[^&#\s\"'<>]*"
)
REDACTED: Final = "REDACTED"


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secret values and URL signature parameters replaced."""
    out = _SIGNED_PARAMS.sub(lambda m: m.group(1) + REDACTED, text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, REDACTED)
    return out


class Redactor:
    """A structlog processor that scrubs every string value of an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = tuple(s for s in secrets if s)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple({*self._secrets, *(s for s in secrets if s)})

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self._scrub(value)
        return event

    def _scrub(self, value: object) -> object:
        if isinstance(value, str):
            return redact_text(value, self._secrets)
        if isinstance(value, BaseException):
            return redact_text(f"{type(value).__name__}: {value}", self._secrets)
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(v) for v in value]
        return value


#: The process-wide redactor; ``configure`` installs it, the CLI adds the run's secrets.
REDACTOR: Final = Redactor()


def known_secrets() -> tuple[str, ...]:
    """The secrets the process-wide redactor knows (for lines printed outside structlog)."""
    return REDACTOR.secrets


class _Stderr:
    """Resolves ``sys.stderr`` on every write, so a live progress display that redirects
    stderr can print log lines above its bars."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(
    *, json: bool | None = None, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Configure structlog once, at the edge (the CLI)."""
    stream = stream or _Stderr()  # type: ignore[assignment]
    assert stream is not None
    if json is None:
        json = not stream.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
