"""Durable emulator state (``--state FILE``): a killed and restarted emulator keeps everything.

The emulator runs as a process and the CLI as another, as an operator runs them; the figures
(jobs, creates, uploads, consents, voices) are read through ``GET /_emulator/state``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio.to_thread
import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.server import Emulator
from tests.cli.test_honest_outcomes import cli, manifest_of
from tests.integration.standalone import (
    AZURE_ENV,
    HUAWEI_ENV,
    StandaloneEmulator,
    azure_per_talent,
    free_port,
    huawei_jobs,
    huawei_jobs_per_voice,
    job_file,
)


def put(request: urllib.request.Request) -> int:
    """The HTTP status a PUT gets."""
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def statuses(proc: object) -> set[str]:
    """The voice statuses of the manifest a run printed."""
    return {v["status"] for v in manifest_of(proc)["voices"]}  # type: ignore[arg-type]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_huawei_jobs_survive_a_restart_and_are_collected_without_a_second_create(
    tmp_path: Path, sig: int
) -> None:
    """Detached Huawei jobs, their creates, uploads and counters survive a SIGKILL/SIGTERM
    restart; emulated time continues (never back to the wall clock); the next run collects
    them with no new create and no new upload."""
    write_inbox(tmp_path / "inbox", voices=3, profile="huawei-basic", seed=7)
    with StandaloneEmulator(tmp_path / "emu.sqlite3", "--time-scale", "100000") as emu:
        job = job_file(tmp_path, "huawei", emu.start())
        first = cli("run", str(job), "--detach", env=HUAWEI_ENV)
        assert first.returncode == 0, first.stderr
        # An emulated day is under a second here: a loaded machine may see some finish.
        assert statuses(first) <= {"pending", "succeeded"}
        before = emu.state()
        emu.restart(sig)
        after = emu.state()
        assert [j["job_id"] for j in huawei_jobs(after)] == [
            j["job_id"] for j in huawei_jobs(before)
        ]
        assert after["huawei"]["creates"] == before["huawei"]["creates"]
        assert after["huawei"]["uploads"] == before["huawei"]["uploads"]
        assert after["huawei"]["counters"]["create"] == 3
        # Restarted from the wall clock, emulated time would be far behind: it was days ahead.
        assert after["emulated_now"] >= before["emulated_now"]
        second = cli("run", str(job), env=HUAWEI_ENV)
        assert second.returncode == 0, second.stderr
        assert statuses(second) == {"succeeded"}
        final = emu.state()
        assert len(final["huawei"]["creates"]) == 3
        assert final["huawei"]["uploads"] == before["huawei"]["uploads"]


def test_azure_consents_and_voices_survive_a_sigkill_restart(tmp_path: Path) -> None:
    """Detached Azure consents and personal voices, their operations and counts survive a
    SIGKILL restart; the next run succeeds with no resource created twice."""
    write_inbox(tmp_path / "inbox", voices=3, profile="azure-personal", seed=8)
    with StandaloneEmulator(tmp_path / "emu.sqlite3", "--time-scale", "100000") as emu:
        job = job_file(tmp_path, "azure", emu.start())
        first = cli("run", str(job), "--detach", env=AZURE_ENV)
        assert first.returncode == 0, first.stderr
        before = emu.state()
        assert len(before["azure"]["personalVoices"]) == 3
        emu.restart(signal.SIGKILL)
        after = emu.state()
        assert azure_per_talent(after, "consents") == azure_per_talent(before, "consents")
        assert azure_per_talent(after, "personalVoices") == azure_per_talent(
            before, "personalVoices"
        )
        assert after["azure"]["counters"]["creates"] == before["azure"]["counters"]["creates"]
        second = cli("run", str(job), env=AZURE_ENV)
        assert second.returncode == 0, second.stderr
        assert statuses(second) == {"succeeded"}
        creates = emu.state()["azure"]["counters"]["creates"]
        assert creates == before["azure"]["counters"]["creates"]
        assert set(azure_per_talent(emu.state(), "personalVoices").values()) == {1}


@pytest.mark.anyio
async def test_upload_url_minted_before_a_restart_is_accepted_after_it(tmp_path: Path) -> None:
    """The object store's signing secret is durable: a pre-signed URL handed out before a
    restart still takes its PUT afterwards, and the object is then listed."""
    options = EmulatorOptions(port=0, state=tmp_path / "emu.sqlite3")
    async with Emulator(options) as emu:
        url = emu.huawei.store.presign_put("bucket", "a/b.txt", ("text/plain",))
        port = int(emu.base_url.rpartition(":")[2])
    again = EmulatorOptions(port=port, state=tmp_path / "emu.sqlite3")
    async with Emulator(again) as emu:
        request = urllib.request.Request(
            url, data=b"hello", method="PUT", headers={"Content-Type": "text/plain"}
        )
        # In a worker thread: the emulator answers on this test's event loop.
        status = await anyio.to_thread.run_sync(put, request)
        assert status == 200
        stored = emu.huawei.store.get("bucket", "a/b.txt")
        assert stored is not None
        assert stored.path.read_bytes() == b"hello"


@pytest.mark.anyio
async def test_without_a_state_file_a_new_emulator_starts_empty(tmp_path: Path) -> None:
    """The in-memory default keeps nothing: the same URL is refused by the next emulator
    (the contrast that shows the state file is what carries the secret)."""
    async with Emulator(EmulatorOptions(port=0)) as emu:
        url = emu.huawei.store.presign_put("bucket", "k.txt", ("text/plain",))
        port = int(emu.base_url.rpartition(":")[2])
    async with Emulator(EmulatorOptions(port=port)):
        request = urllib.request.Request(
            url, data=b"x", method="PUT", headers={"Content-Type": "text/plain"}
        )
        assert await anyio.to_thread.run_sync(put, request) == 403


def test_emulator_sigkilled_mid_run_forgets_nothing_it_answered(tmp_path: Path) -> None:
    """SIGKILL the emulator while a run is creating and uploading, restart it from its state
    file on the same port: the run rides out the gap and ends with every voice succeeded,
    one remote job and one create per voice — nothing answered before the kill was lost
    (a lost create would show as a second job, a lost upload as a failed commit)."""
    n = 6
    write_inbox(tmp_path / "inbox", voices=n, profile="huawei-basic", seed=9)
    with StandaloneEmulator(tmp_path / "emu.sqlite3") as emu:
        emu.port = free_port()
        job = job_file(tmp_path, "huawei", f"http://127.0.0.1:{emu.port}")
        assert cli("check", str(job)).returncode == 0  # audio prepared before the clock starts
        # Slow enough that nothing finishes training before the kill.
        emu.start("--time-scale", "1000")
        run = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", str(job)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **HUAWEI_ENV},
        )  # fmt: skip
        try:
            for _ in range(600):  # until the run is part-way through its creates
                if len(emu.state()["huawei"]["creates"]) >= 2:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the run never created a job")
            emu.restart(signal.SIGKILL, "--time-scale", "100000")
            out, err = run.communicate(timeout=280)
        finally:
            if run.poll() is None:
                run.kill()
                run.communicate()
        assert run.returncode == 0, err[-3000:]
        final = emu.state()
        assert set(huawei_jobs_per_voice(final).values()) == {1}
        assert len(huawei_jobs_per_voice(final)) == n
        assert len(final["huawei"]["creates"]) == n
        assert "6 voices: 6 succeeded" in out
