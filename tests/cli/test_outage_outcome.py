"""Outages as cron sees them: the standalone emulator (durable state) goes away or fails every
call while `voice-onboard run` is sending. An outage shorter than `[limits] outage_window` is
ridden out (exit 0, the circuit breaker shut even at 1); a longer one ends the run with exit 3,
one `cut short: huawei unreachable since …` line, a true manifest (sent voices `pending` with
their job ids, the others `deferred`), and the next run finishes without a second remote job
(Huawei jobs; Azure consents and personal voices)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.commands.sample_data import write_inbox
from tests.integration.standalone import (
    AZURE_ENV,
    HUAWEI_ENV,
    StandaloneEmulator,
    azure_per_talent,
    huawei_jobs,
    huawei_jobs_per_voice,
    job_file,
)

VOICES = 5
#: Calls give up within a second, so that the outage, not the per-call budget, decides; one
#: create per second spreads the batch's sends over a few seconds for the outage to land in.
QUICK = '[limits]\nretry_attempts = 2\nretry_budget = "1s"\ncreate_per_second = 1\n'
LINE = re.compile(
    r"^cut short: huawei unreachable since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \((.+)\); "
    rf"(\d+) of {VOICES} voices could not be sent; run again to resume$"
)


@pytest.fixture(scope="module")
def inbox5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five healthy Huawei basic voices, written once for the module."""
    root = tmp_path_factory.mktemp("outage-inbox")
    write_inbox(root / "inbox", voices=VOICES, profile="huawei-basic", seed=13)
    return root / "inbox"


@pytest.fixture
def root(tmp_path: Path, inbox5: Path) -> Path:
    """A folder with a private (hard-linked) copy of the five-voice inbox."""
    for voice in inbox5.iterdir():
        (tmp_path / "inbox" / voice.name).mkdir(parents=True)
        for f in voice.iterdir():
            os.link(f, tmp_path / "inbox" / voice.name / f.name)
    return tmp_path


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[StandaloneEmulator]:
    """The standalone emulator with a state file, fast emulated time; stopped at the end."""
    with StandaloneEmulator(tmp_path / "emulator.db", "--time-scale", "1000000") as emu:
        emu.start()
        yield emu


def start_run(job: Path, env: dict[str, str] = HUAWEI_ENV) -> subprocess.Popen[str]:
    """`python -m pipeline run JOB` as cron would start it (no terminal), in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", str(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait for a run; (exit code, stdout, stderr)."""
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def run(job: Path, env: dict[str, str] = HUAWEI_ENV) -> tuple[int, str, str]:
    """One whole run in the foreground."""
    return finish(start_run(job, env))


def wait_for_jobs(emu: StandaloneEmulator, proc: subprocess.Popen[str], count: int) -> None:
    """Until the emulator holds ``count`` remote jobs (the run is mid-batch)."""
    deadline = time.monotonic() + 180
    while len(huawei_jobs(emu.state())) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run created nothing in 3 minutes"
        time.sleep(0.1)


def told(err: str) -> list[str]:
    """stderr lines that are not JSON log events: what the operator is told there."""
    return [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("{")]


def events(err: str) -> list[str]:
    """The event names of the run's JSON log lines."""
    return [json.loads(ln)["event"] for ln in err.splitlines() if ln.startswith("{")]


def manifest_of(out: str) -> dict[str, Any]:
    """The manifest whose path the run printed."""
    line = next(ln for ln in out.splitlines() if ln.startswith("manifest: "))
    doc: dict[str, Any] = json.loads(Path(line.removeprefix("manifest: ")).read_text())
    return doc


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("refuse", "cannot connect: connection refused"),
        ("503", "HTTP 503"),
        ("reset", "server disconnected"),
    ],
)
def test_outage_longer_than_the_window_exits_3_with_a_true_manifest(
    root: Path, emulator: StandaloneEmulator, kind: str, reason: str
) -> None:
    """Down for good mid-batch: exit 3, one `unreachable since` line, sent voices pending
    with their ids, unsent ones deferred; the next run (provider back) adds no remote job."""
    job = job_file(root, "huawei", emulator.base_url, QUICK + 'outage_window = "3s"\n')
    proc = start_run(job)
    wait_for_jobs(emulator, proc, 2)
    went_down = datetime.now(UTC).replace(microsecond=0)
    if kind == "refuse":
        emulator.stop(signal.SIGKILL)  # nothing listens: every connection is refused
    else:
        emulator.restart(signal.SIGKILL, "--outage", f"after=0s,for=600s,kind={kind}")
    code, out, err = finish(proc)
    ended = datetime.now(UTC)

    assert code == 3, out + err[-3000:]
    assert "Traceback" not in err
    assert told(err) == []
    cut = [ln for ln in out.splitlines() if ln.startswith("cut short: ")]
    assert len(cut) == 1, out
    match = LINE.match(cut[0])
    assert match, cut[0]
    since = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert went_down - timedelta(seconds=1) <= since <= ended, (went_down, since, ended)
    assert match[2] == reason
    doc = manifest_of(out)
    assert doc["interrupted"] == cut[0].removeprefix("cut short: ")
    statuses = {v["voice"]: v["status"] for v in doc["voices"]}
    assert set(statuses.values()) <= {"pending", "deferred"}, statuses
    assert doc["summary"]["deferred"] == int(match[3]) >= 1
    for v in doc["voices"]:
        if v["status"] == "pending":
            assert v["remote"].get("job_id"), v  # accepted: the id is there to resume from

    emulator.stop(signal.SIGKILL)
    emulator.start()  # back, from its state file, without the outage
    again, out2, err2 = run(job)
    assert again == 0, out2 + err2[-3000:]
    assert manifest_of(out2)["summary"]["succeeded"] == VOICES
    per_voice = huawei_jobs_per_voice(emulator.state())
    assert len(per_voice) == VOICES
    assert set(per_voice.values()) == {1}, per_voice


def test_outage_shorter_than_the_window_is_ridden_out(
    root: Path, emulator: StandaloneEmulator
) -> None:
    """Down for 4 s mid-batch with outage_window 60 s and circuit_breaker 1: the run waits it
    out, every voice succeeds with one remote job, exit 0, nothing cut short."""
    job = job_file(
        root, "huawei", emulator.base_url, QUICK + 'outage_window = "60s"\ncircuit_breaker = 1\n'
    )
    proc = start_run(job)
    wait_for_jobs(emulator, proc, 1)
    emulator.stop(signal.SIGKILL)
    time.sleep(4)
    emulator.start()
    code, out, err = finish(proc)

    assert code == 0, out + err[-3000:]
    assert "cut short" not in out
    assert "voice.waiting_out_outage" in events(err)  # the outage was met, and waited out
    assert manifest_of(out)["summary"]["succeeded"] == VOICES
    per_voice = huawei_jobs_per_voice(emulator.state())
    assert len(per_voice) == VOICES
    assert set(per_voice.values()) == {1}, per_voice


def test_provider_never_reached_is_not_waited_for(root: Path, tmp_path: Path) -> None:
    """Nothing answers from the start (wrong endpoint, or down when cron starts us): no
    waiting out the window; exit 3 with the `unreachable since` line within the call budgets."""
    with StandaloneEmulator(tmp_path / "gone.db") as emu:
        emu.start()
        url = emu.base_url
    job = job_file(root, "huawei", url, QUICK + 'outage_window = "10m"\n')
    started = datetime.now(UTC).replace(microsecond=0)
    code, out, err = run(job)
    assert code == 3, out + err[-3000:]
    assert told(err) == []
    cut = [ln for ln in out.splitlines() if ln.startswith("cut short: ")]
    assert len(cut) == 1, out
    match = LINE.match(cut[0])
    assert match, cut[0]
    assert match[2] == "cannot connect: connection refused"
    assert int(match[3]) == VOICES
    since = datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert since >= started
    assert "voice.waiting_out_outage" not in events(err)


def test_azure_outage_longer_than_the_window_exits_3_and_resumes(
    tmp_path: Path, emulator: StandaloneEmulator
) -> None:
    """Azure, down for good after the first consent: exit 3 with `azure unreachable since`,
    no voice pending without its personal voice; back from its state file, the next run
    ends with one consent and one personal voice per speaker."""
    write_inbox(tmp_path / "inbox", voices=3, profile="azure-personal", seed=17)
    # Two requests a second: the batch's sends spread over seconds for the outage to land in.
    slow = 'azure_requests = 2\nazure_window_s = 1.0\noutage_window = "3s"\n'
    job = job_file(tmp_path, "azure", emulator.base_url, QUICK + slow)
    proc = start_run(job, AZURE_ENV)
    deadline = time.monotonic() + 180
    while not emulator.state()["azure"]["consents"]:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run created no consent in 3 minutes"
        time.sleep(0.1)
    emulator.stop(signal.SIGKILL)
    code, out, err = finish(proc)

    assert code == 3, out + err[-3000:]
    assert told(err) == []
    cut = [ln for ln in out.splitlines() if ln.startswith("cut short: ")]
    assert len(cut) == 1, out
    assert cut[0].startswith("cut short: azure unreachable since "), cut[0]
    assert "(cannot connect: connection refused)" in cut[0]
    doc = manifest_of(out)
    assert doc["interrupted"] == cut[0].removeprefix("cut short: ")
    assert doc["summary"]["deferred"] >= 1
    for v in doc["voices"]:
        if v["status"] == "pending":
            assert v["remote"].get("personal_voice_id"), v

    emulator.start()
    again, out2, err2 = run(job, AZURE_ENV)
    assert again == 0, out2 + err2[-3000:]
    assert manifest_of(out2)["summary"]["succeeded"] == 3
    state = emulator.state()
    consents = azure_per_talent(state, "consents")
    voices = azure_per_talent(state, "personalVoices")
    assert len(consents) == 3
    assert set(consents.values()) == {1}
    assert len(voices) == 3
    assert set(voices.values()) == {1}
