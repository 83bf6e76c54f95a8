"""The prepare stage as a stream: voices prepared concurrently, each handed on when ready,
and the counters the terminal progress display reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from pipeline.audio import workers
from pipeline.audio.identity import index_dir
from pipeline.config import JobConfig
from pipeline.records import (
    PreparedVoice,
    VoiceSource,
)
from pipeline.stages.prepare import PrepareContext, prepare


class Progress:
    """Counters the terminal progress display reads; no-ops when nobody reads them."""

    def __init__(self) -> None:
        self.voices_total = 0
        self.voices_prepared = 0
        self.voices_submitted = 0
        self.voices_done = 0
        self.bytes_uploaded = 0


@contextmanager
def workers_started_early(config: JobConfig) -> Iterator[None]:
    """Start the audio workers while discovery runs when the run will surely need them: its
    cache holds no stat identity yet (a first run, or a fresh cache), so every recording is
    normalized. Otherwise they start at the first recording the cache cannot answer for, and
    a re-run over unchanged input starts none. The start is complete when the block ends."""
    starting = None
    if not index_dir(config.cache_dir).is_dir():
        starting = workers.start_early(config.limits.cpu_workers)
    try:
        yield
    finally:
        if starting is not None:
            starting.join()


@asynccontextmanager
async def prepare_stream(
    config: JobConfig, progress: Progress, sources: Sequence[VoiceSource]
) -> AsyncIterator[MemoryObjectReceiveStream[PreparedVoice]]:
    """Prepare the discovered voices concurrently (a few more than there are cores, so I/O
    overlaps); the stream hands out each voice as soon as it is ready.

    A context manager, not an async generator: the producers' task group then lives in the
    caller's task and scope, so cancellation and errors travel the way anyio expects."""
    progress.voices_total = len(sources)
    ctx = PrepareContext.from_config(config)
    send, receive = anyio.create_memory_object_stream[PreparedVoice](config.limits.cpu_workers * 2)
    voice_slots = anyio.CapacityLimiter(config.limits.cpu_workers * 2)

    async def one(src_index: int) -> None:
        async with voice_slots:
            voice = await prepare(sources[src_index], ctx)
        progress.voices_prepared += 1
        await send.send(voice)

    async def produce() -> None:
        async with send, anyio.create_task_group() as tg:
            for i in range(len(sources)):
                tg.start_soon(one, i)

    async with anyio.create_task_group() as tg, receive:
        tg.start_soon(produce)
        yield receive
