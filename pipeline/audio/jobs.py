"""What runs in an audio worker process: the jobs, the worker's set-up, and the fork server
that forks the workers (:mod:`.workers` keeps the pool, in the run's own process).

Jobs are module-level functions on plain values, so they pickle by reference. This module
imports neither asyncio nor anyio nor the audio stack: the fork server imports it (and
:mod:`.normalize`, whose NumPy, libsndfile and soxr every worker then shares copy-on-write)
before it can fork the first worker, and a cold run waits for that; a process that only
looks clips up in the cache (a re-run over unchanged input) never loads NumPy.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pipeline.audio.cache import NormalizedAudio, lookup
from pipeline.audio.identity import Identities
from pipeline.audio.profiles import AudioProfile
from pipeline.errors import InputError

__all__ = [
    "Refused",
    "join_job",
    "lookup_job",
    "normalize_job",
    "normalize_many_job",
    "worker_init",
]

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


#: How much nicer than the run's process its audio workers are (see worker_init).
WORKER_NICENESS: Final = 5


def worker_init() -> None:
    """Set up a worker process: no SIGINT, its heap kept, a lower CPU priority than the
    run's, and no outliving the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _keep_heap()
    # Below the run's own process in the scheduler's eyes: on a machine with as many workers
    # as cores, the event loop (uploads, API calls, handing out the next jobs) otherwise
    # waits for a core behind them, and uploads fall behind normalization instead of
    # overlapping it (end to end, 200 voices on two cores: 30.5 / 34.0 s against 35.4 /
    # 38.5 s in two alternating pairs of runs; a `check`, which uploads nothing, unchanged).
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
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


def ready() -> None:
    """The job that makes a worker start: nothing."""


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
    src: Path,
    profile: AudioProfile,
    cache_dir: Path,
    file: str,
    speech_detection: bool = True,
    identities: Identities | None = None,
) -> tuple[str | None, NormalizedAudio | None] | Refused:
    """:func:`~pipeline.audio.normalize.lookup`, with input errors returned as values."""
    try:
        return lookup(
            src,
            profile,
            cache_dir,
            file=file,
            speech_detection=speech_detection,
            identities=identities,
        )
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
    ``speech_detection`` as there (``[content] check``). The source's identity is not
    recorded here but returned (``hashed``): the run records a voice's in one write."""
    from pipeline.audio.normalize import normalize  # preloaded by the fork server (PRELOAD)

    try:
        return normalize(
            src,
            profile,
            cache_dir,
            file=file,
            source_sha256=source_sha256,
            speech_detection=speech_detection,
            record_identity=False,
        )
    except InputError as exc:
        return Refused.of(exc)


def normalize_many_job(
    clips: Sequence[tuple[Path, str, str | None]],
    profile: AudioProfile,
    cache_dir: Path,
    speech_detection: bool = True,
) -> list[NormalizedAudio | Refused]:
    """:func:`normalize_job` for each of ``clips`` (source, file, its hash if known), in one
    job: one trip through the pool for all of them. Each trip costs the calling process's
    event loop and the pool's two threads ~1 ms of CPU (the submission, the wake-ups, the
    result's hand-over), which a machine with as many workers as cores takes from the
    workers."""
    return [
        normalize_job(src, profile, cache_dir, file, sha, speech_detection)
        for src, file, sha in clips
    ]


def join_job(clips: Sequence[Path], profile: AudioProfile, out: Path) -> Refused | None:
    """:func:`~pipeline.audio.normalize.write_joined`, with input errors returned as values."""
    from pipeline.audio.normalize import write_joined

    try:
        write_joined(clips, profile, out)
    except InputError as exc:
        return Refused.of(exc)
    return None
