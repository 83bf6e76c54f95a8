"""Scale-out end to end: `enqueue`, three `worker` processes and `manifest` on a real
PostgreSQL server, against the emulator over loopback, with faults and a SIGKILLed worker.

The emulator runs in this process (its create log has real timestamps); the workers are
separate processes, as they would be on separate hosts, sharing only the database and the
provider. One inbox of 100 voices is made once by hard-linking the recordings of 4 generated
voices (each clone has its own voice.toml and voice name), so audio work stays small.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.server import Emulator
from pipeline.scaleout.testing import max_per_window, require_test_database, scratch_schema
from tests.integration.e2e import CREDENTIALS, PROJECT_ID, link_tree

pytestmark = pytest.mark.anyio

FAST = 100_000.0  # emulated seconds per real second: a day of training in under a second
VOICES = 100
TEMPLATES = 4
ENV = {
    **{k: v for k, v in os.environ.items() if k != "VOICE_ONBOARD_DATABASE_URL"},
    "HUAWEICLOUD_SDK_AK": CREDENTIALS.huawei_ak or "",
    "HUAWEICLOUD_SDK_SK": CREDENTIALS.huawei_sk or "",
    "AZURE_SPEECH_KEY": CREDENTIALS.azure_key or "",
    "OMP_NUM_THREADS": "1",
}


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so module-scoped async fixtures can use it."""
    return "asyncio"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 huawei-basic voices: clones (hard links) of 4 generated ones, each with its own
    voice name so that Huawei tells their jobs apart."""
    base = tmp_path_factory.mktemp("scaleout")
    templates = base / "templates"
    write_inbox(templates, voices=TEMPLATES, profile="huawei-basic", seed=5)
    sources = sorted(p for p in templates.iterdir() if p.is_dir())
    root = base / "inbox"
    for i in range(VOICES):
        src, dst = sources[i % TEMPLATES], root / f"v{i:03d}"
        shutil.copytree(
            src, dst, copy_function=os.link, ignore=shutil.ignore_patterns("voice.toml")
        )
        meta = (src / "voice.toml").read_text(encoding="utf-8")
        meta = re.sub(r'(?m)^voice_name = ".*"$', f'voice_name = "Scale voice v{i:03d}"', meta)
        (dst / "voice.toml").write_text(meta, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state_dir for the module, as one host has: later tests reuse the audio cache."""
    return tmp_path_factory.mktemp("scaleout-var")


@pytest.fixture
def db_url() -> Iterator[str]:
    """A fresh schema on the test server for one test's ledger, queue and rate windows."""
    with scratch_schema(require_test_database()) as url:
        yield url


def _job(
    folder: Path, *, inbox: Path, state_dir: Path, db: str, endpoint: str, extra: str = ""
) -> tuple[Path, str]:
    batch = f"scale-{uuid.uuid4().hex[:8]}"
    path = folder / "job.toml"
    path.write_text(
        f'[batch]\nname = "{batch}"\ninbox = "{inbox}"\nstate_dir = "{state_dir}"\n'
        f'ledger = "{db}"\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "{endpoint}"\n'
        f'project_id = "{PROJECT_ID}"\nedition = "basic"\n'
        f'[await]\npoll_interval = "1s"\n{extra}\n',
        encoding="utf-8",
    )
    return path, batch


async def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """One `voice-onboard` command in a subprocess (in a thread: the emulator keeps serving)."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return await anyio.to_thread.run_sync(run)


def _start_workers(job: Path, n: int, *, concurrency: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        with (job.parent / f"worker{i}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "pipeline",
                        "worker",
                        str(job),
                        "--until-done",
                        "--concurrency",
                        str(concurrency),
                        "--heartbeat",
                        "1",
                    ],
                    env=ENV,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
    return procs


async def _wait_all(procs: Sequence[subprocess.Popen[bytes]], within_s: float) -> list[int]:
    try:
        with anyio.fail_after(within_s):
            while any(p.poll() is None for p in procs):
                await anyio.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return [p.returncode for p in procs]


def _events(log: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a worker (procrastinate's own plain-text lines are skipped)."""
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-3000:]


def test_max_per_window_counts_a_sliding_window() -> None:
    """The window helper counts across second boundaries, not per calendar second."""
    assert max_per_window([0.5, 0.9, 1.1, 1.4, 2.6]) == 4
    assert max_per_window([0.0, 1.0, 2.0]) == 1
    assert max_per_window([]) == 0


async def test_three_workers_hundred_voices_one_killed(
    inbox: Path, state_dir: Path, db_url: str, tmp_path: Path
) -> None:
    """100 voices, 3 workers, 5% faults, one SIGKILLed: all succeed, one remote job each."""
    options = EmulatorOptions(time_scale=FAST, fault_rate=0.05, seed=17)
    async with Emulator(options) as emu:
        job, batch = _job(
            tmp_path, inbox=inbox, state_dir=state_dir, db=db_url, endpoint=emu.base_url
        )
        first = await _cli("enqueue", str(job))
        again = await _cli("enqueue", str(job))
        assert first.returncode == 0, first.stderr[-2000:]
        assert f"enqueued {VOICES} voices (0 already" in first.stdout
        assert again.returncode == 0, again.stderr[-2000:]
        assert f"enqueued 0 voices ({VOICES} already queued or running" in again.stdout

        procs = _start_workers(job, 3, concurrency=4)
        victim, survivors = procs[0], procs[1:]
        with anyio.fail_after(120):
            while sum(c.batch_name == batch for c in emu.huawei.creates) < 30:
                assert victim.poll() is None, _tail(tmp_path / "worker0.log")
                await anyio.sleep(0.05)
        victim.kill()
        victim.wait()
        codes = await _wait_all(survivors, within_s=150)
        logs = [tmp_path / f"worker{i}.log" for i in range(3)]
        assert codes == [0, 0], [_tail(log) for log in logs[1:]]

        creates = [c for c in emu.huawei.creates if c.batch_name == batch]
        jobs = [j for j in emu.huawei.jobs(PROJECT_ID) if j.batch_name == batch]
        done = await _cli("enqueue", str(job))
        manifest = await _cli("manifest", str(job))

    # Exactly one remote job per voice, however many creates were retried or re-driven.
    per_voice = Counter(c.voice_name for c in creates)
    assert len(per_voice) == VOICES
    assert set(per_voice.values()) == {1}, [v for v, n in per_voice.items() if n > 1]
    assert len(jobs) == VOICES
    assert {j.state for j in jobs} == {"SUCCEED"}

    # The voices the victim was driving when it died were handed to the survivors.
    ended = {"task.voice_sent", "task.voice_deferred", "task.voice_rejected", "task.voice_failed"}
    started, finished = set(), set()
    for event in _events(logs[0]):
        if event["event"] == "task.voice_started":
            started.add(event["voice"])
        elif event["event"] in ended | {"task.voice_already_sent"}:
            finished.add(event["voice"])
    in_flight = started - finished
    retried = {
        e["voice"]
        for log in logs[1:]
        for e in _events(log)
        if e["event"] == "worker.stalled_job_retried" and e.get("voice")
    }
    assert in_flight, "the victim was killed with nothing in flight; kill it earlier"
    assert in_flight <= retried, (in_flight, retried)

    assert done.returncode == 0
    assert f"enqueued 0 voices (0 already queued or running, {VOICES} already sent" in done.stdout
    assert manifest.returncode == 0, manifest.stderr[-2000:]
    latest = state_dir / "manifests" / f"{batch}-latest.json"
    doc = json.loads(latest.read_text(encoding="utf-8"))
    assert doc["command"] == "manifest"
    assert doc["summary"]["voices"] == VOICES
    assert doc["summary"]["succeeded"] == VOICES
    assert {v["remote"]["job_id"] for v in doc["voices"]} == {j.job_id for j in jobs}
    print(f"\nscale-out: {VOICES} voices, 3 workers (1 killed), {len(retried)} stalled jobs moved")


async def test_create_limit_is_global_across_workers(
    inbox: Path, state_dir: Path, db_url: str, tmp_path: Path
) -> None:
    """create_per_second = 5 over three workers: at most 5 creates in any 1-s window."""
    voices = 40
    subset = link_tree(inbox, tmp_path / "inbox", sorted(p.name for p in inbox.iterdir())[:voices])
    unthrottled = tuple(
        (kind, 0.0) for kind in ("create", "commit", "show", "list", "delete", "other")
    )
    options = EmulatorOptions(
        time_scale=FAST, fault_rate=0.05, seed=23, huawei_rate_limits=unthrottled
    )
    async with Emulator(options) as emu:
        job, batch = _job(
            tmp_path,
            inbox=subset,
            state_dir=state_dir,
            db=db_url,
            endpoint=emu.base_url,
            extra="[limits]\ncreate_per_second = 5",
        )
        enqueued = await _cli("enqueue", str(job))
        assert enqueued.returncode == 0, enqueued.stderr[-2000:]
        procs = _start_workers(job, 3, concurrency=6)
        codes = await _wait_all(procs, within_s=150)
        assert codes == [0, 0, 0], [_tail(tmp_path / f"worker{i}.log") for i in range(3)]
        times = [c.real_time for c in emu.huawei.creates if c.batch_name == batch]
    assert len(times) == voices
    busiest = max_per_window(times)
    print(f"\nglobal create limit 5/s, 3 workers: at most {busiest} creates in any 1 s window")
    assert busiest <= 5


async def test_rejected_voice_is_recorded_and_picked_up_once_fixed(
    inbox: Path, state_dir: Path, db_url: str, tmp_path: Path
) -> None:
    """A rejected voice is kept in the ledger, not re-queued unchanged, and sent once fixed."""
    two = link_tree(inbox, tmp_path / "inbox", ["v000", "v001"])
    stash = tmp_path / "stash.wav"
    (two / "v001" / "0001.wav").rename(stash)  # 19 clips: huawei-basic needs exactly 20
    async with Emulator(EmulatorOptions(time_scale=FAST, seed=31)) as emu:
        job, _batch = _job(
            tmp_path, inbox=two, state_dir=state_dir, db=db_url, endpoint=emu.base_url
        )
        assert "enqueued 2 voices" in (await _cli("enqueue", str(job))).stdout
        assert await _wait_all(_start_workers(job, 1, concurrency=2), within_s=120) == [0]
        broken = await _cli("manifest", str(job))
        unchanged = await _cli("enqueue", str(job))
        stash.rename(two / "v001" / "0001.wav")
        fixed = await _cli("enqueue", str(job))
        assert await _wait_all(_start_workers(job, 1, concurrency=2), within_s=120) == [0]
        healed = await _cli("manifest", str(job))
        names = Counter(c.voice_name for c in emu.huawei.creates)
    assert broken.returncode == 1, broken.stdout + broken.stderr[-2000:]
    assert re.search(r"rejected\s+v001\s+voice\.clip_count", broken.stdout), broken.stdout
    assert "enqueued 0 voices (0 already queued or running, 2 already sent" in unchanged.stdout
    assert "enqueued 1 voice (0 already queued or running, 1 already sent" in fixed.stdout
    assert healed.returncode == 0, healed.stdout + healed.stderr[-2000:]
    assert "2 voices: 2 succeeded" in healed.stdout
    assert names == {"Scale voice v000": 1, "Scale voice v001": 1}


async def test_azure_batch_on_two_workers(
    tmp_path: Path, db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Azure scales out the same way: two workers, faults, one consent and voice per speaker."""
    azure_inbox = tmp_path_factory.mktemp("scaleout-azure") / "inbox"
    write_inbox(azure_inbox, voices=3, profile="azure-personal", seed=9)
    options = EmulatorOptions(time_scale=FAST, fault_rate=0.05, seed=29)
    async with Emulator(options) as emu:
        batch = f"azure-{uuid.uuid4().hex[:8]}"
        job = tmp_path / "job.toml"
        job.write_text(
            f'[batch]\nname = "{batch}"\ninbox = "{azure_inbox}"\n'
            f'state_dir = "{tmp_path / "var"}"\nledger = "{db_url}"\n'
            f'[provider]\nkind = "azure-personal-voice"\nendpoint = "{emu.base_url}"\n'
            f'[await]\npoll_interval = "1s"\n',
            encoding="utf-8",
        )
        enqueued = await _cli("enqueue", str(job))
        assert enqueued.returncode == 0, enqueued.stderr[-2000:]
        codes = await _wait_all(_start_workers(job, 2, concurrency=2), within_s=120)
        assert codes == [0, 0], [_tail(tmp_path / f"worker{i}.log") for i in range(2)]
        manifest = await _cli("manifest", str(job))
        creates = emu.azure.counters().creates
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr[-2000:]
    assert "3 voices: 3 succeeded" in manifest.stdout
    assert creates.get("consent") == 3
    assert creates.get("personalvoice") == 3


def test_worker_refuses_the_in_process_emulator(tmp_path: Path) -> None:
    """Workers cannot share `endpoint = "emulator"`; the message says what to run instead."""
    job, _ = _job(
        tmp_path,
        inbox=tmp_path,
        state_dir=tmp_path / "var",
        db="postgresql://nobody@127.0.0.1:1/none",
        endpoint="emulator",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "worker", str(job)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "voice-onboard emulator" in result.stderr


def test_enqueue_needs_a_shared_ledger(write_job: Any) -> None:
    """Without a PostgreSQL ledger, enqueue is a configuration error (exit 2), not a crash."""
    job = write_job()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "enqueue", str(job)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "VOICE_ONBOARD_DATABASE_URL" in result.stderr
