"""Per-key request throttling over a sliding window (Huawei reference §10, Azure §11).

Throttling is measured in real time (the gateway does not know about emulated time): a request
is let through when fewer than ``rate`` requests of the same key were let through during the
last window. Refused requests do not count, so a client that backs off gets through again.
Huawei throttles per tenant and API kind over one second; Azure per key over ten seconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Final

WINDOW_S: Final = 1.0


class SlidingWindowThrottle:
    """Admits at most ``floor(rate)`` requests per key in any window of ``window_s`` seconds."""

    def __init__(
        self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
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
        while window and now - window[0] >= self._window_s:
            window.popleft()
        if len(window) >= allowed:
            return self._window_s - (now - window[0])
        window.append(now)
        return None
