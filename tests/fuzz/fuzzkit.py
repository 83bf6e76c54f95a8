"""Shared machinery of the fuzz targets: example budget, per-example watchdog, and counts of
the inputs tried (conftest prints them and writes var/fuzz-stats.json).

``VOICE_ONBOARD_FUZZ_EXAMPLES`` sets examples per target (default 300, as `make test` runs
them; `make soak` asks for thousands). Every example runs under hypothesis's deadline and a
hard watchdog: an input that makes a reader hang fails the test instead of stalling it.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Final, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")

EXAMPLES: Final = int(os.environ.get("VOICE_ONBOARD_FUZZ_EXAMPLES", "300"))
#: Hypothesis's per-example deadline: generous for 2 shared cores, tight for a real hang.
DEADLINE: Final = timedelta(seconds=5)
#: The watchdog: past this an example counts as hung, whatever hypothesis thinks.
HANG_S: Final = 20.0


def fuzz_settings(share: float = 1.0) -> settings:
    """Settings for one target running ``share`` of the example budget."""
    return settings(
        max_examples=max(10, int(EXAMPLES * share)),
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


class FuzzStats:
    """Inputs tried per target, by outcome ("accepted" or the finding code)."""

    def __init__(self) -> None:
        self.targets: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()

    def record(self, target: str, outcome: str) -> None:
        with self._lock:
            self.targets.setdefault(target, Counter())[outcome] += 1

    def as_json(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for target, counts in sorted(self.targets.items()):
            total = sum(counts.values())
            out[target] = {
                "tried": total,
                "rejected": total - counts.get("accepted", 0),
                **dict(sorted(counts.items())),
            }
        return out


STATS: Final = FuzzStats()


class Hang(AssertionError):
    """An example did not finish within HANG_S seconds."""


def within_watchdog(call: Callable[[], T], *, seconds: float = HANG_S) -> T:
    """``call()`` on a daemon thread; raise Hang if it is not done in ``seconds``.

    A thread rather than SIGALRM: pytest-timeout owns the alarm signal, and a reader blocked
    in a system call (a FIFO) would not see a Python-level signal handler run anyway. A hung
    thread is abandoned (daemon), the test fails.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the test's thread
            error.append(exc)

    worker = threading.Thread(target=run, name="fuzz-example", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise Hang(f"example still running after {seconds:g} s")
    if error:
        raise error[0]
    return result[0]
