"""Outages: when the provider stops answering, how long voices wait for it, when the run stops,
and the one line that says since when it was unreachable.

The run's :class:`~pipeline.providers.http.Reachability` sees every request. A provider that
answered earlier in this run and then stopped (maintenance, a regional incident) is waited for:
a voice whose call failed after its own retries tries again, pausing, while the outage is
younger than ``[limits] outage_window``; only then is it left for the next run (``deferred``)
and counted towards the circuit breaker, so the breaker never opens on a shorter outage. A
provider that has not answered once this run (a wrong endpoint, or down when cron started us) is
not waited for: the run says so within the per-call retry budgets and the next run resumes.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.providers.base import Provider, Watched
from pipeline.providers.http.reachability import Reachability
from pipeline.records import VoiceStatus
from pipeline.stages.manifest import VoiceResult

#: The longest pause between a waiting voice's tries (its calls back off on their own as well).
_OUTAGE_PAUSE_S = 10.0


class Breaker:
    """Counts consecutive voices that failed on an unreachable provider; opens past ``limit``.

    With the run's ``reach`` and ``window_s`` it also decides how long a failing voice waits
    out an outage (see the module docstring); without them (tests of the count alone, the
    in-memory provider) no voice waits."""

    def __init__(
        self, limit: int, *, reach: Reachability | None = None, window_s: float = 0.0
    ) -> None:
        self.limit = limit
        self.consecutive = 0
        self.reach = reach
        self.window_s = window_s

    @classmethod
    def for_provider(cls, limit: int, provider: Provider, window_s: float) -> Breaker:
        """The breaker of a run (or worker) on ``provider``: watching it when it is HTTP."""
        reach = provider.reachability if isinstance(provider, Watched) else None
        return cls(limit, reach=reach, window_s=window_s)

    def ok(self) -> None:
        self.consecutive = 0

    def failed(self) -> bool:
        self.consecutive += 1
        return self.consecutive >= self.limit

    def wait_for(self, failing_since: float, tries: int) -> float | None:
        """Seconds a voice whose call just failed (failing since ``failing_since`` on the
        reachability clock) waits before trying again, riding out an outage; None when this
        is no outage to wait for: the provider never answered this run, or answered anything
        since this voice began failing (its trouble is its own, or a 429 says the service is
        there), or the outage is older than the window."""
        reach = self.reach
        if reach is None or reach.streak is None or reach.answers == 0:
            return None
        if reach.streak.started > failing_since:
            return None
        left = self.window_s - (reach.now() - reach.streak.started)
        if left <= 0:
            return None
        return min(_OUTAGE_PAUSE_S, 2.0 * tries, left)

    def now(self) -> float:
        """The clock ``wait_for`` measures on."""
        return self.reach.now() if self.reach is not None else 0.0

    def gave_up(self) -> bool:
        """Whether the provider is unreachable past waiting for: it never answered this run,
        or it has not answered for longer than the window (the await stage stops then)."""
        reach = self.reach
        if reach is None or reach.streak is None:
            return False
        return reach.answers == 0 or reach.down_for() >= self.window_s

    def open_message(self, error: BaseException) -> str:
        """Why the breaker opened (the runner makes it the unreachable line when it can)."""
        return f"the provider kept failing ({self.consecutive} voices in a row): {error}"


def unreachable_line(breaker: Breaker, service: str, results: Sequence[VoiceResult]) -> str | None:
    """The run's one line when it ended with the provider unreachable, else None:
    ``huawei unreachable since 2026-12-02T20:11:05Z (cannot connect: connection refused);
    12 of 50 voices could not be sent; run again to resume``."""
    reach = breaker.reach
    if reach is None or reach.streak is None:
        return None
    streak = reach.streak
    head = f"{service} unreachable since {streak.stamp()} ({streak.reason})"
    if breaker.consecutive >= breaker.limit:
        head += f", kept failing for {breaker.consecutive} voices in a row"
    unsent = sum(1 for r in results if r.status is VoiceStatus.DEFERRED)
    if unsent:
        return f"{head}; {unsent} of {len(results)} voices could not be sent; run again to resume"
    pending = sum(1 for r in results if r.status is VoiceStatus.PENDING)
    voices = "voice" if pending == 1 else "voices"
    return f"{head}; {pending} {voices} pending with the provider; run again to collect them"
