"""Rate limits of the control APIs: one seam, one meaning, wherever the count is kept.

The seam is :class:`RateLimit`: a provider client takes ``async with limit.slot(kind):`` around
every request (every attempt) to its control API, ``kind`` naming the quota the request counts
against (Huawei: ``create``, ``show`` …, one quota per API; Azure: ``requests``, one for the
whole Speech resource). The client says the kind; nothing guesses it from the URL.

The meaning is the same in every implementation: at most ``max_calls`` requests of a quota in
any ``period`` seconds, a request holding its slot from the moment it starts until ``period``
seconds after its answer arrived (see :class:`RateLimiter` for why that, and not a count of
start times, is what keeps a gateway's window). Implementations:

- :class:`KindLimits` over one :class:`RateLimiter` per quota: a client's own, in this process;
- :class:`KindLimits` over ``pipeline.scaleout.ratelimit.SharedWindow``s: the same windows kept
  in PostgreSQL for every worker on every host;
- :func:`stacked`, several at once (the workers' shared window over the client's own).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import anyio


class RateLimit(Protocol):
    """Admission to a provider's control API, per quota (see the module docstring)."""

    def slot(self, kind: str) -> AbstractAsyncContextManager[None]:
        """Held around one request counted against quota ``kind``: entering waits for room."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowSpec:
    """At most ``max_calls`` requests per ``period`` seconds."""

    max_calls: int
    period: float

    def __post_init__(self) -> None:
        if self.max_calls < 1 or self.period <= 0:
            raise ValueError("a rate limit needs max_calls >= 1 and period > 0")

    @classmethod
    def per_second(cls, rate: float) -> WindowSpec:
        """``rate`` requests per second (fractional rates widen the window)."""
        if rate <= 0:
            raise ValueError("a rate limit must be > 0 requests per second")
        if rate >= 1:
            return cls(max_calls=int(rate), period=1.0)
        return cls(max_calls=1, period=1.0 / rate)


class RateLimiter:
    """One quota in this process: at most ``max_calls`` requests per ``period`` seconds.

    A request holds its slot from the moment it starts until ``period`` seconds after it
    *finished*. Why: the server stamps a request when it arrives, which is after we started it
    (connection pool, TLS, a slow body) and before we saw its answer. Take any ``period``-long
    span of server arrivals and the request among them that we started last: every other one
    had started before it and had arrived, hence finished, less than ``period`` before it
    started, so all of them still held slots then. A plain sliding log of start times (a
    token bucket even more so: a full bucket plus its refill lets almost 2N calls through in
    one window) lets a delayed request land in the next window and earn a 429.

    ``pause`` holds every new request back after a 429 (another client shares the quota, or the
    service is autoscaling). Waiters queue FIFO on a lock, so none starves. It cannot see other
    processes sharing the quota, so callers keep reacting to 429 as well (pitfalls §2.4).
    """

    def __init__(
        self,
        max_calls: int,
        period: float = 1.0,
        *,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        self.spec = WindowSpec(max_calls=max_calls, period=period)
        self._clock = clock
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._lock = anyio.Lock()
        self._released = anyio.Event()

    @classmethod
    def per_second(cls, rate: float) -> RateLimiter:
        """A limiter for ``rate`` calls per second (fractional rates widen the window)."""
        spec = WindowSpec.per_second(rate)
        return cls(spec.max_calls, spec.period)

    @property
    def max_calls(self) -> int:
        return self.spec.max_calls

    @property
    def period(self) -> float:
        return self.spec.period

    def _expire(self, now: float) -> None:
        while self._finished and self._finished[0] + self.period <= now:
            self._finished.popleft()

    async def _admit(self) -> None:
        """Wait for a free slot and take it as in flight; pair with ``_release``."""
        async with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                if now < self._paused_until:
                    await anyio.sleep(self._paused_until - now)
                    continue
                if self._in_flight + len(self._finished) < self.max_calls:
                    self._in_flight += 1
                    return
                if self._finished:
                    # The loop re-checks: a timer may fire a hair early on coarse clocks.
                    await anyio.sleep(self._finished[0] + self.period - now)
                else:
                    # every slot is a request still running: its end starts the clock
                    released = self._released
                    await released.wait()

    def _release(self) -> None:
        self._in_flight -= 1
        self._finished.append(self._clock())
        released, self._released = self._released, anyio.Event()
        released.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """``async with limiter.slot():`` around one request."""
        await self._admit()
        try:
            yield
        finally:
            self._release()

    async def acquire(self) -> None:
        """Wait for room and count one request that ends as it starts (no duration)."""
        await self._admit()
        self._release()

    def pause(self, seconds: float) -> None:
        """Start no request for ``seconds`` (extends, never shortens, a pause in force)."""
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, seconds))


class Window(Protocol):
    """One quota: ``async with window.slot():`` around one request."""

    def slot(self) -> AbstractAsyncContextManager[None]: ...


class KindLimits:
    """Quotas by kind, one window each: a ``RateLimit`` over in-process ``RateLimiter``s (a
    client's own) or over the windows the scale-out workers share in their database."""

    def __init__(self, windows: Mapping[str, Window]) -> None:
        self.windows: Mapping[str, Window] = MappingProxyType(dict(windows))

    def slot(self, kind: str) -> AbstractAsyncContextManager[None]:
        return self.windows[kind].slot()


def stacked(*limits: RateLimit) -> RateLimit:
    """One ``RateLimit`` that takes a slot in each of ``limits``, in order."""
    return _Stacked(limits)


class _Stacked:
    def __init__(self, limits: tuple[RateLimit, ...]) -> None:
        self._limits = limits

    @asynccontextmanager
    async def _slot(self, kind: str) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for limit in self._limits:
                await stack.enter_async_context(limit.slot(kind))
            yield

    def slot(self, kind: str) -> AbstractAsyncContextManager[None]:
        return self._slot(kind)
