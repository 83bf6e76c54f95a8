"""structlog set-up and secret redaction.

JSON lines on stderr when stderr is not a terminal (cron), a console renderer when it is.
Event names are dotted constants; data are fields. The ``Redactor`` processor runs last before
rendering, so no secret value and no signature part of a pre-signed URL reaches any output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Final, TextIO
from urllib.parse import quote


def _import_structlog_without_rich() -> None:
    """Import structlog with rich hidden from it, unless something imported rich already.

    structlog's ``dev`` and ``tracebacks`` modules import rich's console, pretty-printer and
    tracebacks at import time when rich is installed (it is: the progress bars use it),
    ~0.09 s of every command's start-up, for rich tracebacks we never render: exceptions
    are formatted to text (``format_exc_info``) before any renderer sees them. A ``None``
    entry in ``sys.modules`` makes ``import rich`` raise ImportError, which both modules
    catch and fall back on plain tracebacks; the entry is removed right after, so a later
    ``import rich`` (the progress bars, ``status``) loads it as usual.
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()

import structlog

#: Query parameters (compared case-insensitively) that carry a signature or a credential in
#: pre-signed URLs: OBS (Huawei), Azure SAS, S3, GCS. Their values are replaced, the rest of the
#: URL (host, path, ``Expires``, ``se``, ``sp`` …) stays readable. ``pipeline.providers.http``
#: uses the same set for ``redact_url``.
SECRET_QUERY_PARAMS: Final = frozenset(
    {
        "signature",  # OBS / S3 v2 pre-signed; also the Huawei SDK-HMAC Authorization header
        "accesskeyid",  # OBS / S3 v2 pre-signed
        "awsaccesskeyid",
        "sig",  # Azure SAS
        "skoid",  # Azure user-delegation SAS: the signing identity
        "sktid",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-obs-security-token",
        "securitytoken",
        "x-goog-signature",
        "x-goog-credential",
    }
)
#: Headers whose whole value is a credential (compared case-insensitively).
SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "x-auth-token",
        "x-security-token",
        "ocp-apim-subscription-key",
        "api-key",
        "x-ms-copy-source-authorization",
    }
)
REDACTED: Final = "REDACTED"

# name=value wherever it stands: in a query (?/&), in an Authorization header ("…, Signature=
# hex"), or percent-encoded inside another URL ("%3FSignature%3D…"). Not preceded by a name
# character, so "sig" does not match the end of "Xsig". The value ends at a separator.
_PARAM_NAMES: Final = "|".join(
    re.escape(n) for n in sorted(SECRET_QUERY_PARAMS, key=len, reverse=True)
)
_SIGNED_PARAMS: Final = re.compile(
    rf"(?i)(?:(?<=%3F)|(?<=%26)|(?<![A-Za-z0-9_.%-]))"
    rf"((?:{_PARAM_NAMES})(?:=|%3D))(?:(?!%26)[^&#\s\"'<>,;])*"
)
# "X-Auth-Token: v", "'Authorization': 'v'", "api-key=v": the value up to a quote or line end.
_HEADER_NAMES: Final = "|".join(re.escape(n) for n in sorted(SECRET_HEADERS, key=len, reverse=True))
_SECRET_HEADER: Final = re.compile(
    rf"(?i)(?<![A-Za-z0-9_-])((?:{_HEADER_NAMES})[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n]+"
)
# Userinfo of a URL: scheme://user:password@host.
_USERINFO: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@\"'<>]+@")
#: Secret values shorter than this are not searched for: they would match everywhere.
MIN_SECRET_LEN: Final = 4


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without secret values, URL signatures, credential headers or URL userinfo.

    The one redaction of the code base: ``pipeline.providers.http.redact_text`` calls it too.
    ``secrets`` are searched for verbatim and percent-encoded (as they appear in a URL).
    """
    return _redact(text, _variants(secrets))


def _redact(text: str, variants: Iterable[str]) -> str:
    out = _SIGNED_PARAMS.sub(lambda m: m.group(1) + REDACTED, text)
    out = _SECRET_HEADER.sub(lambda m: m.group(1) + REDACTED, out)
    out = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", out)
    for secret in variants:
        out = out.replace(secret, REDACTED)
    return out


def _variants(secrets: Iterable[str]) -> list[str]:
    """Each secret as given and percent-encoded, longest first (a secret may hold another)."""
    found: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LEN:
            found.add(secret)
            found.add(quote(secret, safe=""))
    return sorted(found, key=len, reverse=True)


class Redactor:
    """A structlog processor that scrubs every value of an event, nested ones included.

    Strings are redacted; exceptions, bytes and other objects are rendered to text first (a
    renderer would otherwise call their repr, which may hold a signed URL); values under a
    credential header name (``{"Authorization": …}``) are dropped whole.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: tuple[str, ...] = ()
        self._variants: tuple[str, ...] = ()
        self.add(secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets = tuple(sorted({*self._secrets, *(s for s in secrets if s)}))
        self._variants = tuple(_variants(self._secrets))

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = self._scrub_field(key, value)
        return event

    def redact(self, text: str) -> str:
        """``text`` through ``redact_text`` with this redactor's secrets."""
        return _redact(text, self._variants)

    def _scrub_field(self, key: object, value: object) -> object:
        if isinstance(key, str) and key.lower() in SECRET_HEADERS and value is not None:
            return REDACTED
        return self._scrub(value)

    def _scrub(self, value: object) -> object:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, BaseException):
            return self.redact(f"{type(value).__name__}: {value}")
        if isinstance(value, bytes | bytearray):
            return self.redact(repr(bytes(value)))
        if isinstance(value, Mapping):
            return {
                self._scrub(k) if isinstance(k, str) else k: self._scrub_field(k, v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self._scrub(v) for v in value]
        # Paths, URLs (yarl.URL), dates …: rendered as their text, redacted.
        return self.redact(str(value))


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
