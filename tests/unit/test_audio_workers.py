"""The audio worker pool: results come back, a crashing job is WorkerCrashed (and the jobs beside
it are not), cancel waits."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio
import pytest

from pipeline.audio import workers


def square(x: int) -> int:
    """A job that works."""
    return x * x


def die(code: int) -> int:
    """A job that takes its worker process down, as a crashing decoder would."""
    os._exit(code)


def niceness() -> int:
    """A job that reports its worker's CPU niceness."""
    return os.getpriority(os.PRIO_PROCESS, 0)


def die_soon(started: str) -> int:
    """A job that marks that it runs (``started``), then takes its worker down."""
    Path(started).touch()
    time.sleep(0.3)
    os._exit(3)


def sleep_then(seconds: float, value: int, started: str) -> tuple[int, float]:
    """A job that takes a while (creating the file ``started`` first, so a test knows it is
    running); returns ``value`` and when it finished."""
    Path(started).touch()
    time.sleep(seconds)
    return value, time.monotonic()


@pytest.mark.anyio
async def test_process_jobs_return_their_results() -> None:
    """Jobs run in the worker processes (not here) and their results come back in order."""
    limiter = anyio.CapacityLimiter(4)
    results: dict[int, int] = {}

    async def one(x: int) -> None:
        results[x] = await workers.run("process", limiter, 2, square, x)

    async with anyio.create_task_group() as tg:
        for x in range(20):
            tg.start_soon(one, x)
    assert results == {x: x * x for x in range(20)}
    assert limiter.borrowed_tokens == 0


@pytest.mark.anyio
async def test_workers_run_nicer_than_the_run_itself() -> None:
    """A worker's niceness is the run's plus WORKER_NICENESS (capped at 19): the run's event
    loop gets a core before the audio does."""
    from pipeline.audio.jobs import WORKER_NICENESS

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    theirs = await workers.run("process", anyio.CapacityLimiter(2), 2, niceness)
    assert theirs == min(19, ours + WORKER_NICENESS)


@pytest.mark.anyio
async def test_a_job_that_kills_its_worker_is_worker_crashed_and_the_pool_recovers() -> None:
    """A job that breaks the pool twice raises WorkerCrashed; the next job gets a new pool."""
    limiter = anyio.CapacityLimiter(2)
    with pytest.raises(workers.WorkerCrashed):
        await workers.run("process", limiter, 2, die, 3)
    assert await workers.run("process", limiter, 2, square, 7) == 49
    assert limiter.borrowed_tokens == 0


@pytest.mark.anyio
async def test_a_job_queued_behind_a_crashing_one_is_not_blamed(tmp_path: Path) -> None:
    """On a pool of one worker, a job queued behind one that kills the worker loses its
    place both times the pool breaks, yet it comes back with its result (run alone on a
    worker of its own); only the job that kills its workers is WorkerCrashed."""
    limiter = anyio.CapacityLimiter(4)
    await workers.run("process", limiter, 1, square, 1)  # the pool is up
    started = tmp_path / "started"
    outcome: dict[str, object] = {}

    async def hostile() -> None:
        try:
            await workers.run("process", limiter, 1, die_soon, str(started))
        except workers.WorkerCrashed:
            outcome["hostile"] = "crashed"

    async def innocent() -> None:
        with anyio.fail_after(30):
            while not started.exists():  # the worker is busy with the hostile job
                await anyio.sleep(0.005)
        value, _ = await workers.run("process", limiter, 1, sleep_then, 0.1, 9, str(tmp_path / "i"))
        outcome["innocent"] = value

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hostile)
            tg.start_soon(innocent)
    assert outcome == {"innocent": 9, "hostile": "crashed"}
    assert limiter.borrowed_tokens == 0


@pytest.mark.anyio
async def test_a_cancelled_caller_waits_for_its_running_job(tmp_path: Path) -> None:
    """Cancelling the caller does not abandon a submitted job: the call returns once the job
    has finished, so the limiter never counts fewer jobs than are really running."""
    limiter = anyio.CapacityLimiter(2)
    await workers.run("process", limiter, 2, square, 1)  # the pool is up: timings are the job's
    returned: list[tuple[int, float, float]] = []
    started = tmp_path / "started"

    async def call() -> None:
        value, finished = await workers.run("process", limiter, 2, sleep_then, 0.5, 5, str(started))
        returned.append((value, finished, time.monotonic()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        with anyio.fail_after(30):
            while not started.exists():  # the job is running in a worker
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    assert len(returned) == 1
    value, finished, at = returned[0]
    assert value == 5
    assert at >= finished  # the call came back only after the job had finished
    assert limiter.borrowed_tokens == 0
