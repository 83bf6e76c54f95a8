"""Huawei MetaStudio onboarding end to end against the emulator over loopback: every edition,
both upload modes, re-runs, --detach, forced outcomes, and exactly one remote job per voice."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.server import Emulator
from pipeline.records import VoiceStatus
from pipeline.runner import RunReport, run_check
from tests.integration.e2e import PROJECT_ID, huawei_job, link_tree, run

pytestmark = pytest.mark.anyio

FAST = 1_000_000.0  # emulated seconds per real second: days of training in a fraction of a second


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so module-scoped async fixtures can use it."""
    return "asyncio"


@pytest.fixture(scope="module")
def basic_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 healthy huawei-basic voices, generated once for the module."""
    root = tmp_path_factory.mktemp("basic") / "inbox"
    write_inbox(root, voices=30, profile="huawei-basic", seed=11)
    return root


@pytest.fixture(scope="module")
async def basic_cache(basic_inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The normalized-audio cache of the basic inbox, made once by a pre-flight."""
    folder = tmp_path_factory.mktemp("basic-check")
    config = huawei_job(folder, endpoint="emulator", inbox=basic_inbox)
    report = await run_check(config)
    assert report.exit_code == 0, report.summary
    return config.cache_dir


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A standalone emulator that outlives several runs of one test."""
    async with Emulator(EmulatorOptions(time_scale=FAST, seed=3)) as emu:
        yield emu


def _assert_all(report: RunReport, status: VoiceStatus, count: int) -> None:
    assert [r.status for r in report.results] == [status] * count, [
        (r.voice, r.status, r.last_error, [f.code for f in r.findings if f.severity == "error"])
        for r in report.results
        if r.status is not status
    ]


def _jobs_by_voice(emu: Emulator) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for job in emu.huawei.jobs(PROJECT_ID):
        out.setdefault(job.voice_name, []).append(job.job_id)
    return out


async def test_basic_package_batch_and_rerun(
    emulator: Emulator, basic_inbox: Path, basic_cache: Path, tmp_path: Path
) -> None:
    """30 basic voices all succeed with one job each, the right zip and letter; a re-run sends
    no create, upload or commit and exits 0."""
    config = huawei_job(
        tmp_path, endpoint=emulator.base_url, inbox=basic_inbox, cache_from=basic_cache
    )
    report = await run(config)
    _assert_all(report, VoiceStatus.SUCCEEDED, 30)
    assert report.exit_code == 0
    jobs = _jobs_by_voice(emulator)
    assert len(jobs) == 30
    assert all(len(ids) == 1 for ids in jobs.values())
    for job in emulator.huawei.jobs(PROJECT_ID):
        assert job.state == "SUCCEED"
        objects = emulator.huawei.objects(job.job_id)
        package = next(o for name, o in objects.items() if name.endswith(".zip"))
        assert package.content_type == "application/zip"
        with zipfile.ZipFile(package.path) as zf:
            names = sorted(zf.namelist())
        assert names == sorted([f"{i}.wav" for i in range(20)] + [f"{i}.txt" for i in range(20)])
        letters = [o for name, o in objects.items() if "authorization" in name]
        assert len(letters) == 1
        assert letters[0].content_type == "application/pdf"
    manifest = json.loads(report.manifest.read_text())
    assert manifest["summary"]["succeeded"] == 30
    assert all(v["remote"]["asset_id"] for v in manifest["voices"])

    before = dict(emulator.huawei.counters())
    stored_before = emulator.huawei.store.outcomes.get("stored", 0)
    again = await run(config)
    _assert_all(again, VoiceStatus.SUCCEEDED, 30)
    assert again.exit_code == 0
    after = emulator.huawei.counters()
    for kind in ("create", "commit"):
        assert after.get(kind, 0) == before.get(kind, 0), kind
    assert emulator.huawei.store.outcomes.get("stored", 0) == stored_before


async def test_segment_mode(
    emulator: Emulator, basic_inbox: Path, basic_cache: Path, tmp_path: Path
) -> None:
    """10 basic voices uploaded sentence by sentence: every index confirmed, one job each."""
    keys = sorted(p.name for p in basic_inbox.iterdir())[:10]
    inbox = link_tree(basic_inbox, tmp_path / "inbox", keys)
    config = huawei_job(
        tmp_path,
        endpoint=emulator.base_url,
        inbox=inbox,
        upload_mode="segment",
        cache_from=basic_cache,
    )
    report = await run(config)
    _assert_all(report, VoiceStatus.SUCCEEDED, 10)
    for job in emulator.huawei.jobs(PROJECT_ID):
        assert job.create_type == "SEGMENT"
        assert job.confirmed == frozenset(range(20))
        objects = emulator.huawei.objects(job.job_id)
        wavs = [o for n, o in objects.items() if n.endswith(".wav")]
        txts = [o for n, o in objects.items() if n.endswith(".txt")]
        assert len(wavs) == 20
        assert {o.content_type for o in wavs} == {"audio/wav"}
        assert len(txts) == 20
        assert {o.content_type for o in txts} == {"text/plain"}
    assert all(len(ids) == 1 for ids in _jobs_by_voice(emulator).values())


async def test_detach_then_run(
    emulator: Emulator, basic_inbox: Path, basic_cache: Path, tmp_path: Path
) -> None:
    """--detach submits and exits 0 with voices pending; the next run only polls."""
    keys = sorted(p.name for p in basic_inbox.iterdir())[:6]
    inbox = link_tree(basic_inbox, tmp_path / "inbox", keys)
    config = huawei_job(tmp_path, endpoint=emulator.base_url, inbox=inbox, cache_from=basic_cache)
    first = await run(config, detach=True)
    assert first.exit_code == 0
    # One polling round before exiting: at this time scale some may already have finished.
    assert {r.status for r in first.results} <= {VoiceStatus.PENDING, VoiceStatus.SUCCEEDED}
    stored = emulator.huawei.store.outcomes.get("stored", 0)
    creates = emulator.huawei.counters().get("create", 0)
    second = await run(config)
    _assert_all(second, VoiceStatus.SUCCEEDED, 6)
    assert emulator.huawei.store.outcomes.get("stored", 0) == stored  # nothing uploaded twice
    assert emulator.huawei.counters().get("create", 0) == creates


async def test_forced_outcomes(basic_inbox: Path, basic_cache: Path, tmp_path: Path) -> None:
    """AUDIT_FAILED → needs_attention with per-file findings; FAILED → failed with the reason;
    the others succeed and the run exits 1."""
    keys = sorted(p.name for p in basic_inbox.iterdir())[:4]
    inbox = link_tree(basic_inbox, tmp_path / "inbox", keys)
    names = {k: _voice_name(inbox / k) for k in keys}
    options = EmulatorOptions(
        time_scale=FAST,
        outcomes=((names[keys[0]], "AUDIT_FAILED"), (names[keys[1]], "FAILED")),
    )
    async with Emulator(options) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=inbox, cache_from=basic_cache)
        report = await run(config)
    by_key = {r.voice: r for r in report.results}
    audit = by_key[keys[0]]
    assert audit.status is VoiceStatus.NEEDS_ATTENTION
    assert any(f.code == "remote.audit_failed" and f.file for f in audit.findings)
    failed = by_key[keys[1]]
    assert failed.status is VoiceStatus.FAILED
    assert failed.remote.get("job_failed_code")
    assert failed.remote.get("job_failed_reason")
    assert any(f.code == "remote.job_failed" for f in failed.findings)
    assert by_key[keys[2]].status is VoiceStatus.SUCCEEDED
    assert by_key[keys[3]].status is VoiceStatus.SUCCEEDED
    assert report.exit_code == 1
    manifest = json.loads(report.manifest.read_text())
    entry = next(v for v in manifest["voices"] if v["voice"] == keys[1])
    assert entry["remote"]["job_failed_reason"]


def _voice_name(folder: Path) -> str:
    import tomllib

    return str(tomllib.loads((folder / "voice.toml").read_text(encoding="utf-8"))["voice_name"])


async def test_middle_and_advance(tmp_path: Path, emulator: Emulator) -> None:
    """5 middle voices (100 sentences) and 3 advance voices (one long joined WAV) succeed."""
    middle = tmp_path / "middle"
    write_inbox(middle / "inbox", voices=5, profile="huawei-middle", seed=5)
    report = await run(
        huawei_job(
            middle, endpoint=emulator.base_url, inbox=middle / "inbox", edition="middle", batch="m"
        )
    )
    _assert_all(report, VoiceStatus.SUCCEEDED, 5)
    advance = tmp_path / "advance"
    write_inbox(advance / "inbox", voices=3, profile="huawei-advance", seed=6)
    report = await run(
        huawei_job(
            advance,
            endpoint=emulator.base_url,
            inbox=advance / "inbox",
            edition="advance",
            batch="a",
        )
    )
    _assert_all(report, VoiceStatus.SUCCEEDED, 3)
    for job in emulator.huawei.jobs(PROJECT_ID):
        assert job.state == "SUCCEED"
        objects = emulator.huawei.objects(job.job_id)
        package = next(o for name, o in objects.items() if name.endswith(".zip"))
        assert package.content_type == "application/zip"
        letters = [o for name, o in objects.items() if "authorization" in name]
        assert len(letters) == 1
        assert letters[0].content_type == "application/pdf"
        with zipfile.ZipFile(package.path) as zf:
            names = zf.namelist()
        if job.job_type == "MIDDLE":
            assert len(names) == 200
        else:
            assert job.job_type == "ADVANCE"
            assert len(names) == 1
            assert names[0].endswith(".wav")
    assert all(len(ids) == 1 for ids in _jobs_by_voice(emulator).values())
