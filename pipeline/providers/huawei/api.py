"""The Huawei control API's constants: create routes, throttle codes, call kinds with their
rate limits (defaults: cn-north-4's gateway quotas, reference §10) and retry policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from pipeline.providers.http import KindLimits, RateLimiter, RetryPolicies, RetryPolicy, Service

#: Error codes that mean "throttled" whatever the HTTP status (reference §10): the API
#: gateway's, in both spellings gateways of Huawei Cloud use (APIG and APIGW).
THROTTLE_CODES: Final = frozenset({"APIGW.0308", "APIG.0308"})

Edition = Literal["BASIC", "MIDDLE", "ADVANCE", "THIRD_PARTY"]
#: job_type → the create route's last segment (reference §6.1).
CREATE_ROUTES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "BASIC": "basic-jobs",
        "MIDDLE": "middle-jobs",
        "ADVANCE": "advance-jobs",
        "THIRD_PARTY": "third-party-jobs",
    }
)


#: The API kinds, each with its own quota at the gateway (the kinds of the rate limit).
CallKind = Literal[
    "create", "commit", "delete", "show", "list", "audit", "segment", "address", "quota"
]
CALL_KINDS: Final[tuple[CallKind, ...]] = (
    "create", "commit", "delete", "show", "list", "audit", "segment", "address", "quota",
)  # fmt: skip
#: The kinds of retry policy (several API kinds share one; see ``HUAWEI_RETRY``).
RetryKind = Literal["create", "commit", "poll", "upload"]
#: Kinds whose quota is the write rate (create/commit/delete); the rest are reads.
WRITE_KINDS: Final[frozenset[CallKind]] = frozenset({"create", "commit", "delete"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """Client-side calls per second per API kind (defaults: cn-north-4 quotas, reference §10).

    Unlisted kinds (confirm/segment info, upload addresses, quotas) get the query rate.
    """

    create: float = 10.0
    commit: float = 10.0  #: commit and confirm-segment
    delete: float = 10.0
    show: float = 20.0
    list: float = 20.0
    audit: float = 20.0
    segment: float = 20.0
    address: float = 20.0
    quota: float = 20.0

    @classmethod
    def uniform(cls, *, write: float, read: float) -> RateLimits:
        """Write calls (create/commit/delete) at ``write``/s, everything else at ``read``/s."""
        return cls(**{kind: write if kind in WRITE_KINDS else read for kind in CALL_KINDS})

    def limiters(self) -> KindLimits:
        """One fresh limiter per call kind."""
        return KindLimits(
            {kind: RateLimiter.per_second(getattr(self, kind)) for kind in CALL_KINDS}
        )


#: The retry policy of each call kind: ``create`` retries only failures that prove nothing was
#: created (see the module docstring); ``commit`` covers commit, confirm-segment and delete
#: (repeating them is harmless: a repeat is refused); ``poll`` the reads (show, list, audit
#: result, segment info, upload addresses, quotas); ``upload`` the PUTs to pre-signed OBS URLs.
HUAWEI_RETRY: Final = RetryPolicies(
    create=RetryPolicy(attempts=6, max_elapsed_s=60.0),
    commit=RetryPolicy(attempts=6, max_elapsed_s=120.0),
    poll=RetryPolicy(attempts=8, max_elapsed_s=300.0),
    upload=RetryPolicy(attempts=4, max_elapsed_s=900.0, base_delay=1.0),
)


#: The Huawei control API, as the shared scaffolding sees it.
HUAWEI: Final = Service(name="huawei", throttle_codes=THROTTLE_CODES, retry=HUAWEI_RETRY)
