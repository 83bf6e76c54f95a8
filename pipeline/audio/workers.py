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
a parent killed outright (see :func:`_worker_init`). A worker that dies (a decoder crashing on
a hostile file, the OOM killer) breaks the pool; the pool is replaced and the job retried once,
and if it breaks the pool again the caller gets :class:`WorkerCrashed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeVar

import anyio
import anyio.to_thread

from pipeline.audio.cache import NormalizedAudio, lookup
from pipeline.audio.profiles import AudioProfile
from pipeline.errors import InputError, PipelineError

T = TypeVar("T")

#: What the fork server imports before it forks a worker: the audio stack comes with
#: :mod:`.normalize`. This module imports it only inside the jobs, so a process that only
#: looks clips up in the cache (a re-run over unchanged input) never loads NumPy.
PRELOAD: Final = ("__main__", __name__, "pipeline.audio.normalize")

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
                    max_workers=workers, mp_context=_context(), initializer=_worker_init
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
                pool.submit(_ready)

    thread = threading.Thread(target=start, name="audio-workers-start", daemon=True)
    thread.start()
    return thread


def _ready() -> None:
    """The job that makes a worker start: nothing."""


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where there is one, else ``spawn``.

    The fork server starts once, imports the audio stack and the parent's main module, and
    forks every worker from that single-threaded process: a worker is ready in milliseconds,
    shares the imported code copy-on-write, and nothing of the parent's threads or event loop
    is inherited. (``spawn`` would import everything again in each worker: ~0.5 s of CPU each.)
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


#: glibc mallopt() parameters (malloc.h) and the values workers use; see _keep_heap.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_HEAP_SETTINGS = (
    (_M_MMAP_THRESHOLD, 32 << 20),
    (_M_TRIM_THRESHOLD, 128 << 20),
    (_M_TOP_PAD, 16 << 20),
)


def _keep_heap() -> None:
    """Let a worker reuse its heap instead of returning it to the kernel after every clip.

    A clip's temporaries are NumPy arrays of a few MB; by default glibc serves each from a
    fresh mmap (or trims the freed heap back), so every clip paid ~500-900 page faults and
    1-2 ms of kernel time zeroing pages (measured: 6 faults a clip with these settings, sys
    time per clip down from ~3.2 to ~2 ms). A worker's heap then stays at its high-water
    mark, tens of MB. No effect (and no error) without glibc.
    """
    with contextlib.suppress(AttributeError, OSError):
        libc = ctypes.CDLL(None)
        for parameter, value in _HEAP_SETTINGS:
            libc.mallopt(parameter, value)


def _worker_init() -> None:
    """Set up a worker process: no SIGINT, its heap kept, and no outliving the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _keep_heap()
    # A run killed outright (SIGKILL, or a default SIGTERM) cannot shut its pool down, and an
    # idle worker waits on its job queue forever. Two things make the workers go with it:
    # the fork server exits when the run's end of its "alive" pipe closes, but every worker
    # inherits a copy of that end and would keep it open, so drop the copy (workers never
    # start processes of their own); and each worker asks the kernel (Linux) for SIGKILL
    # when its parent, the fork server, is gone.
    with contextlib.suppress(AttributeError, OSError, TypeError):
        from multiprocessing import forkserver

        server: object = forkserver._forkserver
        alive = getattr(server, "_forkserver_alive_fd", None)
        if isinstance(alive, int):
            setattr(server, "_forkserver_alive_fd", None)  # noqa: B010
            os.close(alive)
    with contextlib.suppress(AttributeError, OSError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


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
                    raise WorkerCrashed(str(exc) or "an audio worker process died") from None


# --- jobs: module-level so they pickle by reference ------------------------------------------


@dataclass(frozen=True, slots=True)
class Refused:
    """An InputError crossing the process boundary (exceptions with custom constructors do not
    unpickle; this plain value does)."""

    code: str
    file: str | None
    message: str

    @classmethod
    def of(cls, exc: InputError) -> Refused:
        return cls(exc.code, exc.file, exc.message)

    def error(self, file: str) -> InputError:
        """Back into an InputError, naming ``file`` when the worker named none."""
        return InputError(self.code, self.file or file, self.message)


def lookup_job(
    src: Path, profile: AudioProfile, cache_dir: Path, file: str, speech_detection: bool = True
) -> tuple[str | None, NormalizedAudio | None] | Refused:
    """:func:`~pipeline.audio.normalize.lookup`, with input errors returned as values."""
    try:
        return lookup(src, profile, cache_dir, file=file, speech_detection=speech_detection)
    except InputError as exc:
        return Refused.of(exc)


def normalize_job(
    src: Path,
    profile: AudioProfile,
    cache_dir: Path,
    file: str,
    source_sha256: str | None = None,
    speech_detection: bool = True,
) -> NormalizedAudio | Refused:
    """:func:`~pipeline.audio.normalize.normalize`, with input errors returned as values;
    ``speech_detection`` as there (``[content] check``)."""
    from pipeline.audio.normalize import normalize  # preloaded by the fork server (_context)

    try:
        return normalize(
            src,
            profile,
            cache_dir,
            file=file,
            source_sha256=source_sha256,
            speech_detection=speech_detection,
        )
    except InputError as exc:
        return Refused.of(exc)


def join_job(clips: Sequence[Path], profile: AudioProfile, out: Path) -> Refused | None:
    """:func:`~pipeline.audio.normalize.write_joined`, with input errors returned as values."""
    from pipeline.audio.normalize import write_joined

    try:
        write_joined(clips, profile, out)
    except InputError as exc:
        return Refused.of(exc)
    return None
