"""Clips go to the audio workers several to a job; a job that kills its worker is re-run one
clip a job, so that only the clip it died on is refused."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from pipeline.audio import PROFILES, workers
from pipeline.config import Limits
from pipeline.stages.audio_jobs import MAX_BATCH, PrepareContext, batches, run_batched

#: The item whose job takes its worker down (as a decoder crashing on a hostile file would).
HOSTILE = 13


def squares(items: list[int]) -> list[tuple[int, int]]:
    """Per item: its square and how many items its job held; the worker dies outright when
    the job holds :data:`HOSTILE`."""
    if HOSTILE in items:
        os._exit(3)
    return [(x * x, len(items)) for x in items]


def _context(tmp_path: Path) -> PrepareContext:
    limits = Limits()
    return PrepareContext(
        profile=PROFILES["huawei-basic"],
        cache_dir=tmp_path,
        limits=limits,
        cpu=anyio.CapacityLimiter(limits.cpu_workers),
    )


@pytest.mark.parametrize(("n", "slots"), [(1, 4), (3, 4), (6, 4), (20, 4), (21, 4), (200, 4)])
def test_batches_cover_every_item_once_in_no_fewer_jobs_than_slots(n: int, slots: int) -> None:
    """Every item in exactly one job; jobs of at most MAX_BATCH, at least ``slots`` of them
    (or one per item), sizes within one of each other."""
    jobs = batches(list(range(n)), slots)
    assert sorted(x for job in jobs for x in job) == list(range(n))
    assert len(jobs) >= min(n, slots)
    sizes = [len(job) for job in jobs]
    assert max(sizes) <= MAX_BATCH
    assert max(sizes) - min(sizes) <= 1


def test_batches_interleave_a_voice_s_recordings() -> None:
    """A job takes every count-th recording, not a run of neighbours."""
    assert batches(list(range(8)), 2) == [[0, 2, 4, 6], [1, 3, 5, 7]]


@pytest.mark.anyio
async def test_results_come_back_in_order_from_jobs_of_several(tmp_path: Path) -> None:
    """Twenty items on the real pool: each result in its place, four items to a job."""
    values = range(100, 120)
    results = await run_batched(_context(tmp_path), [(f"{x}.wav", x) for x in values], squares)
    done = [r for r in results if not isinstance(r, workers.Refused)]
    assert [r[0] for r in done] == [x * x for x in values]
    assert {r[1] for r in done} == {MAX_BATCH}


@pytest.mark.anyio
async def test_a_job_that_kills_its_worker_refuses_only_the_item_it_died_on(
    tmp_path: Path,
) -> None:
    """The hostile item's batch dies twice, runs again one item a job: the hostile item is
    refused as unreadable under its own file name, its batch-mates get their results."""
    items = [(f"clip-{x}.wav", x) for x in range(20)]
    results = await run_batched(_context(tmp_path), items, squares)
    refused = [r for r in results if isinstance(r, workers.Refused)]
    assert refused == [results[HOSTILE]]
    assert refused[0].code == "audio.unreadable"
    assert refused[0].file == f"clip-{HOSTILE}.wav"
    assert "crashed" in refused[0].message
    done = {x: r for x, r in enumerate(results) if not isinstance(r, workers.Refused)}
    assert sorted(done) == [x for x in range(20) if x != HOSTILE]
    assert all(r[0] == x * x for x, r in done.items())
    mates = [x for x in range(HOSTILE % 5, 20, 5) if x != HOSTILE]  # its job: every fifth
    assert all(done[x][1] == 1 for x in mates)  # run alone after the crash
    assert all(done[x][1] == MAX_BATCH for x in done if x not in mates)
