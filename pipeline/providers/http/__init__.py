"""The shared HTTP layer of the provider clients: one aiohttp session per run, the error mapping,
retries, the rate-limit seam and upload bodies.

============  =================================================================================
module        owns
============  =================================================================================
client        ``HttpClient`` (the session; ``request``, ``put_file``), ``HttpTransport``
errors        HTTP statuses and aiohttp failures → ``pipeline.errors`` (the mapping table)
urls          redaction of URLs and foreign text, the https/loopback rule, path segments
retry         ``RetryPolicy``, ``RetryPolicies`` (per call kind), ``retry_call``
limits        ``RateLimit`` (the seam), ``RateLimiter``, ``KindLimits``, ``stacked``
control       ``ControlApi``: one control call per attempt under the limit, retried per policy
reachability  ``Reachability``: whether the service answers at all, failing since when
fields        typed readers of JSON answers (the only place JSON values become Python types)
bodies        upload bodies and how their bytes are streamed; ``pagecache`` beneath them
============  =================================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pipeline.exports import lazy_exports

if TYPE_CHECKING:
    from pipeline.providers.http.bodies import UPLOAD_READ, BodyReader, FileBody, UploadBody
    from pipeline.providers.http.client import HttpClient, HttpResponse, HttpSettings, HttpTransport
    from pipeline.providers.http.control import Connection, ControlApi, Service
    from pipeline.providers.http.errors import parse_retry_after
    from pipeline.providers.http.limits import (
        KindLimits,
        RateLimit,
        RateLimiter,
        WindowSpec,
        stacked,
    )
    from pipeline.providers.http.reachability import Reachability, Streak
    from pipeline.providers.http.retry import (
        NO_RETRY,
        RetryPolicies,
        RetryPolicy,
        is_retryable,
        retry_call,
    )
    from pipeline.providers.http.urls import (
        REDACTED,
        SECRET_QUERY_PARAMS,
        check_url,
        redact_text,
        redact_url,
    )

__all__ = [
    "NO_RETRY",
    "REDACTED",
    "SECRET_QUERY_PARAMS",
    "UPLOAD_READ",
    "BodyReader",
    "Connection",
    "ControlApi",
    "FileBody",
    "HttpClient",
    "HttpResponse",
    "HttpSettings",
    "HttpTransport",
    "KindLimits",
    "RateLimit",
    "RateLimiter",
    "Reachability",
    "RetryPolicies",
    "RetryPolicy",
    "Service",
    "Streak",
    "UploadBody",
    "WindowSpec",
    "check_url",
    "is_retryable",
    "parse_retry_after",
    "redact_text",
    "redact_url",
    "retry_call",
    "stacked",
]

#: Each name's submodule: nothing is imported until a name is used (see pipeline.exports).
_HOME: Final = {
    "BodyReader": "bodies",
    "Connection": "control",
    "ControlApi": "control",
    "FileBody": "bodies",
    "HttpClient": "client",
    "HttpResponse": "client",
    "HttpSettings": "client",
    "HttpTransport": "client",
    "KindLimits": "limits",
    "NO_RETRY": "retry",
    "REDACTED": "urls",
    "RateLimit": "limits",
    "RateLimiter": "limits",
    "Reachability": "reachability",
    "RetryPolicies": "retry",
    "RetryPolicy": "retry",
    "SECRET_QUERY_PARAMS": "urls",
    "Service": "control",
    "Streak": "reachability",
    "UPLOAD_READ": "bodies",
    "UploadBody": "bodies",
    "WindowSpec": "limits",
    "check_url": "urls",
    "is_retryable": "retry",
    "parse_retry_after": "errors",
    "redact_text": "urls",
    "redact_url": "urls",
    "retry_call": "retry",
    "stacked": "limits",
}
__getattr__ = lazy_exports(__name__, _HOME)
