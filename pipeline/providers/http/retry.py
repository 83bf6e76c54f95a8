"""Retrying provider calls: the policy of one call kind, the policies of a client, the loop.

One loop for every client and store (:func:`retry_call`); what is retried is decided by the
error tree (:func:`is_retryable`), how long by a frozen :class:`RetryPolicy` per call kind.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeVar

import anyio
import structlog

from pipeline.errors import AmbiguousCreate, ProviderError, ProviderUnavailable, Throttled

T = TypeVar("T")

log = structlog.get_logger("pipeline.providers.http")


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard to try one call: attempt and time budgets, exponential backoff, full jitter."""

    attempts: int = 5  #: total tries, the first included; 1 = no retry
    max_elapsed_s: float = 60.0  #: never start a wait that would end past this budget
    base_delay: float = 0.5  #: the first backoff ceiling, doubled per retry
    max_delay: float = 30.0  #: cap of the backoff ceiling (Retry-After may exceed it)
    jitter: float = 1.0  #: 1.0 = full jitter (uniform 0..ceiling); 0.0 = exact backoff

    def backoff(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), without Retry-After."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return ceiling * (1.0 - self.jitter * rand())


#: One try and no waiting; for calls that must not be repeated.
NO_RETRY: Final = RetryPolicy(attempts=1, max_elapsed_s=0.0)


class RetryPolicies(Mapping[str, RetryPolicy]):
    """The retry policy of each call kind of one client, keyed by kind (``create``, ``poll`` …).

    A client states its defaults (``HUAWEI_RETRY``, ``AZURE_RETRY``); a caller names only the
    kinds it changes, ``RetryPolicies(create=QUICK)``, and the client fills in the rest with
    :meth:`over`. Immutable.
    """

    __slots__ = ("_by_kind",)

    def __init__(self, **by_kind: RetryPolicy) -> None:
        self._by_kind: Mapping[str, RetryPolicy] = MappingProxyType(by_kind)

    def __getitem__(self, kind: str) -> RetryPolicy:
        return self._by_kind[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_kind)

    def __len__(self) -> int:
        return len(self._by_kind)

    def __repr__(self) -> str:
        return f"RetryPolicies({', '.join(f'{k}={v!r}' for k, v in self._by_kind.items())})"

    def over(self, defaults: RetryPolicies) -> RetryPolicies:
        """These policies where given, ``defaults`` elsewhere; a kind the defaults do not know
        is a typo and raises ValueError."""
        unknown = set(self) - set(defaults)
        if unknown:
            raise ValueError(f"unknown call kinds {sorted(unknown)}; one of {sorted(defaults)}")
        return RetryPolicies(**{**defaults, **self})

    def map(self, change: Callable[[RetryPolicy], RetryPolicy]) -> RetryPolicies:
        """Every kind's policy passed through ``change`` (the job file's overrides)."""
        return RetryPolicies(**{kind: change(policy) for kind, policy in self.items()})


def is_retryable(exc: BaseException) -> bool:
    """Retry only transient provider errors; never an ambiguous create (reconcile instead)."""
    return isinstance(exc, ProviderUnavailable) and not isinstance(exc, AmbiguousCreate)


async def retry_call(
    policy: RetryPolicy,
    call: Callable[[], Awaitable[T]],
    *,
    operation: str,
    retry_on: Callable[[BaseException], bool] = is_retryable,
    rand: Callable[[], float] = random.random,
) -> T:
    """Await ``call()`` until it succeeds or the policy's attempt/time budget runs out.

    Waits are exponential with full jitter ("AWS full jitter": spread clients evenly instead
    of in synchronized waves), except after ``Throttled`` with a ``retry_after``, which is
    waited exactly. The last error is re-raised unchanged.

    We keep this small helper rather than depend on stamina: stamina's jitter is additive (not
    full), Retry-After needs a hook anyway, and a frozen per-call-kind policy value (create,
    commit, poll, upload) is simpler to pass around than decorated callables.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except Exception as exc:
            if not retry_on(exc):
                raise
            if attempt >= policy.attempts:
                _log_gave_up(operation, attempt, exc)
                raise
            retry_after = exc.retry_after if isinstance(exc, Throttled) else None
            delay = (
                max(0.0, retry_after) if retry_after is not None else policy.backoff(attempt, rand)
            )
            elapsed = time.monotonic() - started
            if elapsed + delay > policy.max_elapsed_s:
                _log_gave_up(operation, attempt, exc)
                raise
            log.warning(
                "http.retry_scheduled",
                operation=operation,
                attempt=attempt,
                delay_s=round(delay, 3),
                retry_after=retry_after,
                error=type(exc).__name__,
                status=getattr(exc, "status", None),
                code=getattr(exc, "code", None),
                request_id=getattr(exc, "request_id", None),
                reason=str(exc),  # messages built by the HTTP layer are already redacted
            )
        await anyio.sleep(delay)


def _log_gave_up(operation: str, attempt: int, exc: Exception) -> None:
    # Only for retryable errors whose budget ran out; other errors are the caller's to report.
    if isinstance(exc, ProviderError):
        log.warning(
            "http.retry_exhausted",
            operation=operation,
            attempts=attempt,
            error=type(exc).__name__,
            status=exc.status,
            code=exc.code,
            request_id=exc.request_id,
        )
