"""Injected faults: seeded decisions, and the upload that dies in the middle of its body.

``Faults`` decides (from ``EmulatorOptions.seed``, so a run with the same seed sees the same
faults) whether a control call is answered 500/503/429 and whether an upload is reset;
``reset_midway`` is how every upload endpoint of the emulator performs that reset.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

from pipeline.emulator.durable import Part

if TYPE_CHECKING:  # no aiohttp at import time: the options (and so this module) load early
    from aiohttp import web

    from pipeline.emulator.context import EmulatorOptions

CHUNK: Final = 64 * 1024


class Faults:
    """Seeded fault decisions, so a run with the same seed sees the same faults."""

    def __init__(self, options: EmulatorOptions) -> None:
        self._options = options
        self._rng = random.Random(options.seed)

    def durable_part(self) -> Part:
        """What a state file keeps: the RNG, so a restart continues the seeded sequence."""
        return Part(self, ("_rng",))

    def control_fault(self) -> int | None:
        """An HTTP status to answer a control call with instead of serving it, or None."""
        if self._options.fault_rate > 0 and self._rng.random() < self._options.fault_rate:
            return self._rng.choice((500, 503, 429))
        return None

    def upload_fault(self) -> bool:
        """Whether to reset this upload's connection in the middle of its body."""
        rate = self._options.upload_fault_rate
        return rate > 0 and self._rng.random() < rate

    def uniform(self, low: float, high: float) -> float:
        return self._rng.uniform(low, high)


async def reset_midway(request: web.Request, *, chunk: int = CHUNK) -> None:
    """Take part of the body, as a server dying mid-transfer would, then drop the connection
    without an answer (``upload_fault_rate``). Nothing is kept, so no half object exists."""
    length = request.content_length or 2 * chunk
    received = 0
    async for data in request.content.iter_chunked(chunk):
        received += len(data)
        if received * 2 >= length:
            break
    if request.transport is not None:
        request.transport.abort()
