"""Per-tenant, per-API request throttling over a sliding one-second window (reference §10).

Throttling is measured in real time (the gateway does not know about emulated time): a request
is let through when fewer than ``rate`` requests of the same key were let through during the
last second. Refused requests do not count, so a client that backs off gets through again.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Final

WINDOW_S: Final = 1.0


class SlidingWindowThrottle:
    """Admits at most ``floor(rate)`` requests per key in any one-second window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[Hashable, deque[float]] = {}

    def admit(self, key: Hashable, rate: float) -> float | None:
        """Let a request through (None) or say how many seconds until one would be admitted.

        A rate of 0 or less disables throttling for that key.
        """
        if rate <= 0:
            return None
        allowed = max(1, math.floor(rate))
        now = self._clock()
        window = self._windows.setdefault(key, deque())
        while window and now - window[0] >= WINDOW_S:
            window.popleft()
        if len(window) >= allowed:
            return WINDOW_S - (now - window[0])
        window.append(now)
        return None
