"""Crashes, signals, overlapping runs and a flaky provider: nothing lost, nothing duplicated.

Sizes are small in `make test`; `make soak` (VOICE_ONBOARD_SOAK=1) runs the issue's figures:
200 voices under faults, 50 voices killed at 20 random moments.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.huawei.model import HuaweiSettings
from pipeline.emulator.server import Emulator
from pipeline.ledger.sqlite import SqliteLedger
from pipeline.records import Phase, VoiceStatus
from pipeline.runner import run_check
from tests.integration.e2e import CREDENTIALS, PROJECT_ID, huawei_job, link_tree, run

pytestmark = pytest.mark.anyio

SOAK = os.environ.get("VOICE_ONBOARD_SOAK") == "1"
FAST = 1_000_000.0
ENV = {
    **os.environ,
    "HUAWEICLOUD_SDK_AK": CREDENTIALS.huawei_ak or "",
    "HUAWEICLOUD_SDK_SK": CREDENTIALS.huawei_sk or "",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so module-scoped async fixtures can use it."""
    return "asyncio"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Healthy basic voices shared by the module (50 for the soak, 8 otherwise)."""
    root = tmp_path_factory.mktemp("crash") / "inbox"
    write_inbox(root, voices=50 if SOAK else 8, profile="huawei-basic", seed=21)
    return root


@pytest.fixture(scope="module")
async def cache(inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The normalized-audio cache, made once (a crash test is about the network stages)."""
    config = huawei_job(tmp_path_factory.mktemp("crash-check"), endpoint="emulator", inbox=inbox)
    assert (await run_check(config)).exit_code == 0
    return config.cache_dir


def _start(job: Path) -> subprocess.Popen[bytes]:
    """`voice-onboard run JOB` as a separate process (its log goes to a file beside the job)."""
    log = (job.parent / "runs.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", str(job)],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    finally:
        log.close()  # the child has its own copy of the descriptor


def _log_tail(job: Path) -> str:
    return (job.parent / "runs.log").read_text(errors="replace")[-2000:]


def _jobs_per_voice(emu: Emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in emu.huawei.jobs(PROJECT_ID):
        counts[job.voice_name] = counts.get(job.voice_name, 0) + 1
    return counts


async def test_sigkill_after_create_adopts_the_job(
    inbox: Path, cache: Path, tmp_path: Path
) -> None:
    """Killed after the create reached the provider but before its answer was recorded, the
    next run adopts that job instead of creating a second one."""
    one = link_tree(inbox, tmp_path / "inbox", [min(p.name for p in inbox.iterdir())])
    settings = HuaweiSettings(create_answer_delay_s=60.0)
    async with Emulator(EmulatorOptions(time_scale=FAST), huawei_settings=settings) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=one, cache_from=cache)
        proc = _start(config.path)
        try:
            with anyio.fail_after(60):
                while not emu.huawei.creates:
                    await anyio.sleep(0.02)
        finally:
            proc.kill()
            proc.wait()
        async with SqliteLedger(config.ledger_path, config.batch) as ledger:
            (state,) = await ledger.all()
        assert state.stage is Phase.CREATING  # the intent is durable; the job id is not
        assert "job_id" not in state.remote
        report = await run(config)
    assert [r.status for r in report.results] == [VoiceStatus.SUCCEEDED]
    assert len(emu.huawei.creates) == 1
    assert report.results[0].remote["job_id"] == emu.huawei.creates[0].job_id


async def test_killed_at_random_moments(inbox: Path, cache: Path, tmp_path: Path) -> None:
    """A batch killed with SIGKILL again and again ends like an uninterrupted run: every voice
    succeeded, one remote job each, and a ledger that passes integrity_check."""
    kills = 20 if SOAK else 4
    rng = random.Random(7)
    async with Emulator(EmulatorOptions(time_scale=FAST, seed=7)) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=inbox, cache_from=cache)
        for _ in range(kills):
            proc = _start(config.path)
            await anyio.sleep(rng.uniform(0.3, 4.0 if SOAK else 2.5))
            proc.kill()
            proc.wait()
        report = await run(config)
    voices = len(list(inbox.iterdir()))
    assert [r.status for r in report.results] == [VoiceStatus.SUCCEEDED] * voices
    assert _jobs_per_voice(emu) == dict.fromkeys(_jobs_per_voice(emu), 1)
    assert len(_jobs_per_voice(emu)) == voices
    conn = sqlite3.connect(config.ledger_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


async def test_sigterm_mid_upload_then_resume(inbox: Path, cache: Path, tmp_path: Path) -> None:
    """SIGTERM in the middle of uploads: the run stops (exit 3, it does not hang) with a
    manifest naming the unfinished voices deferred; the next run completes."""
    async with Emulator(EmulatorOptions(time_scale=FAST, latency=0.3)) as emu:
        config = huawei_job(
            tmp_path,
            endpoint=emu.base_url,
            inbox=inbox,
            cache_from=cache,
            extra="[limits]\nuploads = 2",
        )
        proc = _start(config.path)
        with anyio.fail_after(120):
            while emu.huawei.store.outcomes.get("stored", 0) < 1:
                await anyio.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < 15:
            await anyio.sleep(0.05)
        code = proc.poll()
        if code is None:
            proc.kill()
        assert code == 3, _log_tail(config.path)
        manifest = json.loads((config.manifest_dir / "b-latest.json").read_text())
        assert manifest["interrupted"]
        assert manifest["summary"]["deferred"] >= 1
        assert all(
            v["remote"].get("job_id") for v in manifest["voices"] if v["status"] == "pending"
        )
        report = await run(config)
    assert {r.status for r in report.results} == {VoiceStatus.SUCCEEDED}
    assert len(_jobs_per_voice(emu)) == len(report.results)
    assert set(_jobs_per_voice(emu).values()) == {1}


async def test_two_runs_at_once(inbox: Path, cache: Path, tmp_path: Path) -> None:
    """Two runs of the same job started together: one works, the other exits 75."""
    keys = sorted(p.name for p in inbox.iterdir())[:3]
    small = link_tree(inbox, tmp_path / "inbox", keys)
    async with Emulator(EmulatorOptions(time_scale=FAST)) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=small, cache_from=cache)
        procs = [_start(config.path), _start(config.path)]
        while any(p.poll() is None for p in procs):
            await anyio.sleep(0.05)
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 75], _log_tail(config.path)
    conn = sqlite3.connect(config.ledger_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert len(emu.huawei.creates) == 3


async def test_fault_soak(inbox: Path, cache: Path, tmp_path: Path) -> None:
    """Under 10% control faults, 2% upload resets and 30 s URLs every voice succeeds with
    exactly one remote job (make soak: 200 voices)."""
    if SOAK:
        big = tmp_path / "inbox"
        write_inbox(big, voices=200, profile="huawei-basic", seed=33)
        source, cache_from = big, None
    else:
        source, cache_from = inbox, cache
    options = EmulatorOptions(
        time_scale=FAST, fault_rate=0.1, upload_fault_rate=0.02, url_ttl=30, seed=11
    )
    async with Emulator(options) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=source, cache_from=cache_from)
        report = await run(config)
    voices = len(list(source.iterdir()))
    bad = [
        (r.voice, r.status, r.last_error)
        for r in report.results
        if r.status is not VoiceStatus.SUCCEEDED
    ]
    assert not bad
    per_voice = _jobs_per_voice(emu)
    assert len(per_voice) == voices
    assert set(per_voice.values()) == {1}
    lost = sum(1 for c in emu.huawei.creates if not c.answered)
    print(
        f"fault soak: {voices} voices, {len(emu.huawei.creates)} jobs, {lost} lost create answers, "
        f"store outcomes {dict(emu.huawei.store.outcomes)}"
    )


async def test_circuit_breaker_ends_the_run(inbox: Path, cache: Path, tmp_path: Path) -> None:
    """A provider that keeps failing ends the run early: exit 3, a manifest with every voice
    pending, and a ledger the next run can resume from."""
    keys = sorted(p.name for p in inbox.iterdir())[:4]
    small = link_tree(inbox, tmp_path / "inbox", keys)
    extra = '[limits]\ncircuit_breaker = 2\nretry_attempts = 2\nretry_budget = "1s"'
    async with Emulator(EmulatorOptions(time_scale=FAST, fault_rate=1.0, seed=5)) as emu:
        config = huawei_job(
            tmp_path, endpoint=emu.base_url, inbox=small, cache_from=cache, extra=extra
        )
        with anyio.fail_after(120):
            report = await run(config)
    assert report.exit_code == 3
    assert report.interrupted
    assert "kept failing" in report.interrupted
    manifest = json.loads(report.manifest.read_text())
    assert manifest["summary"]["deferred"] == 4
    assert manifest["summary"]["pending"] == 0
    conn = sqlite3.connect(config.ledger_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    async with Emulator(EmulatorOptions(time_scale=FAST)) as healthy:
        config = huawei_job(tmp_path, endpoint=healthy.base_url, inbox=small)
        again = await run(config)
    assert {r.status for r in again.results} == {VoiceStatus.SUCCEEDED}


async def test_azure_fault_soak(tmp_path: Path) -> None:
    """Azure under 10% control faults: every voice succeeds with exactly one consent and one
    personal voice (make soak: 100 voices)."""
    from tests.integration.test_azure_provider import make_inbox, make_job

    voices = 100 if SOAK else 6
    inbox = make_inbox(tmp_path, voices, seed=41)
    async with Emulator(EmulatorOptions(time_scale=FAST, fault_rate=0.1, seed=13)) as emu:
        config = make_job(tmp_path / "job", endpoint=emu.base_url, inbox=inbox, batch="az")
        report = await run(config)
        consents = emu.azure.consents()
        personal = emu.azure.personal_voices()
    bad = [
        (r.voice, r.status, r.last_error)
        for r in report.results
        if r.status is not VoiceStatus.SUCCEEDED
    ]
    assert not bad
    assert len(report.results) == voices
    assert len(consents) == voices
    assert len(personal) == voices
    print(
        f"azure fault soak: {voices} voices, {len(consents)} consents, {len(personal)} personal voices"
    )


async def test_expired_upload_urls_are_refreshed(inbox: Path, cache: Path, tmp_path: Path) -> None:
    """URLs that expired before the PUT (here: held up behind a slow create answer) are
    refused by the store, fetched again through uploading-address, and the upload succeeds."""
    keys = sorted(p.name for p in inbox.iterdir())[:2]
    small = link_tree(inbox, tmp_path / "inbox", keys)
    settings = HuaweiSettings(create_answer_delay_s=2.5)
    async with Emulator(
        EmulatorOptions(time_scale=FAST, url_ttl=1.0), huawei_settings=settings
    ) as emu:
        config = huawei_job(tmp_path, endpoint=emu.base_url, inbox=small, cache_from=cache)
        report = await run(config)
        outcomes = dict(emu.huawei.store.outcomes)
        addresses = emu.huawei.counters().get("uploading_address", 0)
    assert {r.status for r in report.results} == {VoiceStatus.SUCCEEDED}
    assert outcomes.get("expired", 0) >= 2
    assert addresses >= 2
