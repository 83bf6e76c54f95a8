"""The outage rules on a hand-driven clock: the reachability streak, how long a voice waits
for a provider that stopped answering, when the breaker and the await stage give up, and the
run's one `unreachable since` line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.providers.http.reachability import Reachability
from pipeline.records import VoiceStatus
from pipeline.stages.manifest import VoiceResult
from pipeline.stages.outage import Breaker, unreachable_line

T0 = datetime(2026, 12, 2, 20, 11, 5, 400000, tzinfo=UTC)


class Clock:
    """Monotonic seconds and the matching UTC time, moved by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def mono(self) -> float:
        return self.t

    def utc(self) -> datetime:
        return T0 + timedelta(seconds=self.t - 100.0)


def reach(clock: Clock) -> Reachability:
    """A Reachability on ``clock``."""
    return Reachability(clock=clock.mono, now=clock.utc)


def result(voice: str, status: VoiceStatus) -> VoiceResult:
    """A manifest entry with just a status."""
    return VoiceResult(voice=voice, voice_name=voice, status=status)


def test_streak_starts_at_the_first_failure_and_ends_at_an_answer() -> None:
    """since = the first failed request; the reason follows the latest; an answer ends it."""
    clock = Clock()
    r = reach(clock)
    r.answered()
    r.failed("cannot connect: connection refused")
    clock.t += 5
    r.failed("HTTP 503")
    assert r.streak is not None
    assert r.streak.stamp() == "2026-12-02T20:11:05Z"
    assert r.streak.reason == "HTTP 503"
    assert r.down_for() == 5
    r.answered()
    assert r.streak is None
    assert r.down_for() == 0.0


def test_a_voice_waits_while_the_outage_is_younger_than_the_window() -> None:
    """Answered before, failing now: wait (at most 10 s a pause) until the window is spent."""
    clock = Clock()
    r = reach(clock)
    breaker = Breaker(1, reach=r, window_s=30.0)
    r.answered()
    r.failed("HTTP 503")
    first = breaker.now()
    assert breaker.wait_for(first, tries=1) == 2.0
    clock.t += 25
    assert breaker.wait_for(first, tries=9) == 5.0  # only what is left of the window
    clock.t += 5
    assert breaker.wait_for(first, tries=9) is None
    assert breaker.gave_up()


def test_no_wait_for_a_provider_never_reached_or_answering() -> None:
    """Never answered this run, or answering (a single voice's trouble): no outage wait."""
    clock = Clock()
    r = reach(clock)
    breaker = Breaker(1, reach=r, window_s=300.0)
    r.failed("cannot connect: connection refused")
    assert breaker.wait_for(breaker.now(), tries=1) is None
    assert breaker.gave_up()  # the await stage stops at once too
    r.answered()
    assert breaker.wait_for(breaker.now(), tries=1) is None
    assert not breaker.gave_up()
    assert Breaker(1).wait_for(0.0, tries=1) is None  # no reachability: counting alone


def test_a_voice_failing_alone_is_no_outage() -> None:
    """Another call answered since this voice began failing: its trouble is its own, so it
    gets its usual tries, not the outage wait."""
    clock = Clock()
    r = reach(clock)
    breaker = Breaker(1, reach=r, window_s=30.0)
    r.answered()
    r.failed("HTTP 500")
    first = breaker.now()
    assert breaker.wait_for(first, tries=1) is not None
    clock.t += 1
    r.answered()  # another voice's call went through (or a 429: the service is there)
    r.failed("HTTP 500")
    assert breaker.wait_for(first, tries=2) is None


def test_the_line_counts_unsent_voices_or_pending_ones() -> None:
    """N of M not sent when some are deferred; else the pending ones to collect; None when
    the provider answers."""
    clock = Clock()
    r = reach(clock)
    breaker = Breaker(20, reach=r, window_s=30.0)
    results = [
        result("a", VoiceStatus.PENDING),
        result("b", VoiceStatus.DEFERRED),
        result("c", VoiceStatus.DEFERRED),
    ]
    assert unreachable_line(breaker, "huawei", results) is None
    r.failed("cannot connect: connection refused")
    assert unreachable_line(breaker, "huawei", results) == (
        "huawei unreachable since 2026-12-02T20:11:05Z (cannot connect: connection refused); "
        "2 of 3 voices could not be sent; run again to resume"
    )
    assert unreachable_line(breaker, "azure", results[:1]) == (
        "azure unreachable since 2026-12-02T20:11:05Z (cannot connect: connection refused); "
        "1 voice pending with the provider; run again to collect them"
    )
    breaker.consecutive = 20
    line = unreachable_line(breaker, "huawei", results)
    assert line is not None
    assert ", kept failing for 20 voices in a row;" in line
