"""How the prepare stage runs audio work: :class:`PrepareContext` (the profile, the cache and
the bounds of the audio workers), :func:`run_batched`, which hands many recordings to the
workers in jobs of several (:func:`batches`) and runs a job that took its worker down again one
recording a job, and :func:`run_guarded`, which turns a worker crash into an
``audio.unreadable`` refusal naming the file.

Split from :mod:`pipeline.stages.prepare`, which validates, normalizes and pairs a voice with
these; see :mod:`pipeline.audio.workers` for why the audio work runs in processes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar

import anyio

from pipeline.audio import workers
from pipeline.audio.profiles import AudioProfile
from pipeline.config import ContentConfig, JobConfig, Limits

__all__ = ["MAX_BATCH", "PrepareContext", "batches", "run_batched", "run_guarded"]

T = TypeVar("T")
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepareContext:
    """What the prepare stage needs besides the voice."""

    profile: AudioProfile
    cache_dir: Path
    limits: Limits
    cpu: anyio.CapacityLimiter
    #: where audio work runs; "thread" only for comparison (benchmarks) and debugging
    executor: workers.Executor = "process"
    #: bounds the cache lookups (hashing the sources), which run in threads beside the
    #: workers: a re-run over unchanged input never starts a worker at all
    lookups: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    #: with processes, jobs handed to the pool per worker: one running and one queued behind
    #: it, so a worker that finishes never idles while the result travels back through this
    #: process's event loop and the next job travels out (the pool's size bounds the CPU)
    queue_depth: int = 2
    #: the [content] table: whether clips and consent are heard (off where not asked for)
    content: ContentConfig = field(default_factory=ContentConfig)
    _queued: anyio.CapacityLimiter = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_queued", anyio.CapacityLimiter(self.in_flight))

    @property
    def in_flight(self) -> int:
        """How many audio jobs may be in flight at once: ``queue_depth`` per worker process,
        one per thread."""
        if self.executor == "thread":
            return self.limits.cpu_workers
        return self.limits.cpu_workers * max(1, self.queue_depth)

    async def run_audio(self, func: Callable[..., T], *args: object) -> T:
        """``func(*args)`` on an audio worker: threads under the CPU limiter, processes under
        the pool's own bound with ``queue_depth`` jobs per worker in flight."""
        limiter = self.cpu if self.executor == "thread" else self._queued
        return await workers.run(self.executor, limiter, self.limits.cpu_workers, func, *args)

    @classmethod
    def from_config(cls, config: JobConfig) -> PrepareContext:
        """The context a job file asks for: its profile, cache and limits, all cores."""
        return cls(
            profile=config.profile,
            cache_dir=config.cache_dir,
            limits=config.limits,
            cpu=anyio.CapacityLimiter(config.limits.cpu_workers),
            content=config.content,
        )


async def run_guarded(
    ctx: PrepareContext, rel: str, func: Callable[..., T], *args: object
) -> T | workers.Refused:
    """``ctx.run_audio``, with a worker that crashed on this input reported as unreadable."""
    try:
        return await ctx.run_audio(func, *args)
    except workers.WorkerCrashed as exc:
        return workers.Refused("audio.unreadable", rel, f"the audio decoder crashed on it ({exc})")


async def run_batched(
    ctx: PrepareContext,
    items: Sequence[tuple[str, Item]],
    many: Callable[..., list[T]],
    *common: object,
) -> list[T | workers.Refused]:
    """``many(batch, *common)`` on the audio workers over ``items`` (file, item), in the
    order given: a batch is a list of items and ``many`` returns one result per item. Items
    go in jobs of several (:func:`batches`) where there are many of them.

    A batch that took its worker down twice is run again one item a job, so that only the
    item it dies on is refused (``audio.unreadable``, naming its file) and the others get
    their results, as when every item is a job of its own."""
    results: list[T | workers.Refused | None] = [None] * len(items)

    async def run(batch: list[int]) -> None:
        ran = await run_guarded(
            ctx, items[batch[0]][0], many, [items[i][1] for i in batch], *common
        )
        if not isinstance(ran, workers.Refused):
            for i, result in zip(batch, ran, strict=True):
                results[i] = result
        elif len(batch) == 1:
            results[batch[0]] = ran
        else:
            async with anyio.create_task_group() as alone:
                for i in batch:
                    alone.start_soon(run, [i])

    async with anyio.create_task_group() as tg:
        for batch in batches(list(range(len(items))), ctx.in_flight):
            tg.start_soon(run, batch)
    out = [r for r in results if r is not None]
    assert len(out) == len(items), "every item has its result or its refusal"
    return out


#: Clips per worker job at most: see batches.
MAX_BATCH: Final = 4


def batches(misses: list[Item], slots: int) -> list[list[Item]]:
    """``misses`` as worker jobs of up to :data:`MAX_BATCH` clips each (a job is one trip
    through the pool, see :func:`pipeline.audio.workers.normalize_many_job`), but never fewer
    jobs than the ``slots`` the pool keeps in flight, so that a voice with few recordings
    still keeps every worker busy. Interleaved, not cut in runs: a voice's long and short
    recordings spread over its jobs, which then end at about the same time."""
    count = min(len(misses), max(slots, -(-len(misses) // MAX_BATCH)))
    return [misses[i::count] for i in range(count)]
