"""Whether the provider answers at all: the current streak of failed requests, run-wide.

Every request of the run's ``HttpClient`` reports here: an answer below 500 (even a 4xx or a
429: the service is there and speaking) ends a streak; a refused or reset connection, a timeout,
a 5xx or 408 starts one or extends it. The runner reads it to ride out an outage shorter than
``[limits] outage_window`` and, when one lasts longer, to say since when and why the provider was
unreachable: since the UTC time of the streak's first failed request, and what the latest one
met (a restart's refused connections turning into 503s says 503: what is failing now).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Streak:
    """An unbroken run of failed requests: when it began and what the latest one met."""

    since: datetime  #: UTC, the first failed request of the streak
    started: float  #: the same moment on the monotonic clock
    reason: str  #: short and redacted: ``cannot connect: connection refused``, ``HTTP 503`` …

    def stamp(self) -> str:
        """``since`` as the one line shows it, to the second (``2026-12-02T20:11:05Z``)."""
        return self.since.strftime("%Y-%m-%dT%H:%M:%SZ")


class Reachability:
    """The run's view of the provider: answered at all, and failing since when (if it is)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._clock = clock
        self._now = now
        self.streak: Streak | None = None  #: the current streak; None while answers come
        self.answers = 0  #: requests the service answered (status < 500) in this run
        self.failures = 0  #: requests that failed as an outage would (for logs and tests)

    def answered(self) -> None:
        """A request got an answer from the service: whatever streak there was has ended."""
        self.answers += 1
        self.streak = None

    def failed(self, reason: str) -> None:
        """A request met no usable answer; the first of a streak sets its start."""
        self.failures += 1
        if self.streak is None:
            self.streak = Streak(since=self._now(), started=self._clock(), reason=reason)
        elif self.streak.reason != reason:
            self.streak = replace(self.streak, reason=reason)

    def down_for(self) -> float:
        """Seconds since the current streak began; 0.0 while the service answers."""
        return 0.0 if self.streak is None else self._clock() - self.streak.started

    def now(self) -> float:
        """The monotonic clock the streak is measured on (for callers' own timers)."""
        return self._clock()
