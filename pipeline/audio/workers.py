"""Where audio work runs: a shared pool of worker processes (the default), or threads.

Every audio function is blocking and CPU-bound. Threads would do if the heavy loops were all
that ran, because NumPy, soxr and libsndfile release the GIL inside them; but each clip also
runs thousands of small NumPy calls and Python lines between them, which need it. Measured
here with a busy Python thread beside the audio (as the event loop is while it uploads): a
clip took 33 ms alone and 108 ms beside it in a thread, 38 ms in a process, and the busy
thread itself ran 60% faster with the audio in a process. So the run's event loop keeps its
GIL to itself (uploads and API calls of early voices go at full speed while later voices are
normalized: that is what makes the stages overlap), and two processes keep both cores busy.

The pool is shared by every run in the process (sized to the largest ``cpu_workers`` asked
for); each caller's CapacityLimiter bounds its jobs in flight. Workers come from a
``forkserver``: one clean process imports the audio stack once and forks every worker from
itself, so a worker starts in milliseconds and shares that memory copy-on-write, and nothing of
the parent's threads or event loop is inherited (``fork`` from the parent could inherit a lock
held by one of its threads). Where there is no fork server, workers are spawned.

Like any multiprocessing user, a program that calls the pipeline must guard its main script
with ``if __name__ == "__main__"``: the fork server imports it (our console script and
``python -m pipeline`` are safe).

Workers ignore SIGINT: a Ctrl-C in a terminal reaches the whole process group, and it is the
parent's to handle (finish the current clip, write the manifest, exit 3). They do not outlive
a parent killed outright (see :func:`.jobs.worker_init`). A worker that dies (a decoder crashing on
a hostile file, the OOM killer) breaks the pool, and every job in flight with it; the pool is
replaced and those jobs retried. A job in flight through two breaks is run once more alone, on
a worker of its own: only if it takes that one down too does its caller get
:class:`WorkerCrashed` (the job in flight beside a hostile file's twice is not blamed for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Literal, TypeVar

import anyio
import anyio.to_thread

from pipeline.audio.fork_server import start_fork_server
from pipeline.audio.jobs import (
    Refused,
    join_job,
    lookup_job,
    normalize_many_job,
    ready,
    worker_init,
)
from pipeline.errors import PipelineError

__all__ = [
    "Executor",
    "Refused",
    "WorkerCrashed",
    "join_job",
    "lookup_job",
    "normalize_many_job",
    "run",
    "start_early",
]

T = TypeVar("T")


#: ``process``: the shared worker-process pool; ``thread``: anyio's worker threads.
Executor = Literal["process", "thread"]


class WorkerCrashed(PipelineError):
    """An audio job took its worker process down twice (the input is likely hostile)."""


class _Pool:
    """The process-wide pool, created on first use and grown when a run asks for more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._size = 0

    def get(self, workers: int) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None or self._size < workers:
                old = self._executor
                self._executor = ProcessPoolExecutor(
                    max_workers=workers, mp_context=_context(), initializer=worker_init
                )
                self._size = workers
                if old is not None:
                    old.shutdown(wait=False)  # its running jobs finish; it takes no new ones
            return self._executor

    def discard(self, broken: ProcessPoolExecutor) -> None:
        """Forget ``broken`` (if it is still the current pool); the next get() makes a new one."""
        with self._lock:
            if self._executor is broken:
                self._executor = None
                self._size = 0
        broken.shutdown(wait=False)


_POOL = _Pool()


def start_early(workers: int) -> threading.Thread:
    """Start the pool's worker processes now, in a thread of their own, for a run that will
    surely need them (a fresh cache): the fork server's imports and the workers' start-up
    then overlap discovery and the first look-ups, and the event loop never waits for them
    (the first ``submit`` would otherwise start them on the loop's thread). Best effort:
    a failure here leaves the pool to be made on first use, as without this call. The
    caller joins the returned thread before it ends (a process that exits while a worker is
    still being started leaves that worker without its semaphores)."""

    def start() -> None:
        with contextlib.suppress(Exception):
            pool = _POOL.get(workers)
            for _ in range(workers):
                pool.submit(ready)

    thread = threading.Thread(target=start, name="audio-workers-start", daemon=True)
    thread.start()
    return thread


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where there is one, else ``spawn``.

    The fork server starts once, imports the audio stack and the parent's main module, and
    forks every worker from that single-threaded process: a worker is ready in milliseconds,
    shares the imported code copy-on-write, and nothing of the parent's threads or event loop
    is inherited. (``spawn`` would import everything again in each worker: ~0.5 s of CPU each.)
    """
    if not start_fork_server():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("forkserver")


async def run(
    executor: Executor,
    limiter: anyio.CapacityLimiter,
    workers: int,
    func: Callable[..., T],
    *args: object,
) -> T:
    """``func(*args)`` on a worker under ``limiter``; ``func`` and its arguments and result
    must pickle for the process executor (module-level functions, plain data).

    ``limiter`` bounds this caller's jobs in flight (running or queued in the pool). Not
    cancellable once started (like ``anyio.to_thread.run_sync``): a cancelled caller waits
    for its job, so the limiter's count stays true. The process executor needs the asyncio
    backend (as aiohttp does).
    """
    if executor == "thread":
        return await anyio.to_thread.run_sync(lambda: func(*args), limiter=limiter)
    async with limiter:
        crashes = stale = 0
        while True:
            pool = _POOL.get(workers)
            try:
                future = pool.submit(func, *args)
            except (RuntimeError, BrokenProcessPool):
                # Shut down by another run (grown or found broken) since get(): take the new one.
                _POOL.discard(pool)
                stale += 1
                if stale == 3:
                    raise
                continue
            try:
                # The pool's own manager thread completes the future and wakes the loop
                # (asyncio.wrap_future): no thread of ours waits on it (a thread hop per clip
                # cost ~0.2 ms of CPU here). Shielded: once submitted the job runs to its end
                # and the caller waits for it (see the docstring).
                with anyio.CancelScope(shield=True):
                    return await asyncio.wrap_future(future)
            except BrokenProcessPool as exc:
                _POOL.discard(pool)
                crashes += 1
                if crashes == 2:
                    return await _alone(func, args, str(exc))


async def _alone(func: Callable[..., T], args: tuple[object, ...], broke: str) -> T:
    """``func(*args)`` on a pool of one worker of its own, for a job that was in flight when
    the shared pool broke twice: any job beside the one that killed the workers was too, and
    only the culprit breaks a pool it has to itself (WorkerCrashed). Shielded, as in run()."""
    one = ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=worker_init)
    try:
        with anyio.CancelScope(shield=True):
            result = await asyncio.wrap_future(one.submit(func, *args))
    except BrokenProcessPool as exc:
        raise WorkerCrashed(str(exc) or broke or "an audio worker process died") from None
    finally:
        one.shutdown(wait=False)
    return result
