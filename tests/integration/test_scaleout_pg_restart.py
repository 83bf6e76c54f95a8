"""Scale-out through a PostgreSQL restart: three `worker` processes drive a batch while the
server is restarted (`pg_ctlcluster … restart`) under them; they reconnect, no voice is lost or
created twice on the provider, and `manifest` afterwards is complete.

The restart is real, of the server the suite shares, so it happens only inside this scenario,
which waits until the server answers again before it goes on. 12 voices in `make test`;
`make soak` (VOICE_ONBOARD_SOAK=1) runs the issue's 60.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import psycopg
import pytest

from pipeline.commands.sample_data import write_inbox
from pipeline.emulator.context import EmulatorOptions
from pipeline.emulator.server import Emulator
from pipeline.scaleout.testing import database_url_for_tests
from tests.integration.e2e import PROJECT_ID, link_tree
from tests.integration.test_scaleout import (
    FAST,
    _cli,
    _events,
    _job,
    _start_workers,
    _tail,
    _wait_all,
    db_url,  # noqa: F401  (the fixture: a scratch schema per test)
)

pytestmark = pytest.mark.anyio

SOAK = os.environ.get("VOICE_ONBOARD_SOAK") == "1"
VOICES = 60 if SOAK else 12
TEMPLATES = 4


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped like test_scaleout's, whose helpers this module shares."""
    return "asyncio"


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """VOICES huawei-basic voices: hard-linked clones of 4 generated ones, each named apart."""
    base = tmp_path_factory.mktemp("pg-restart")
    templates = base / "templates"
    write_inbox(templates, voices=TEMPLATES, profile="huawei-basic", seed=41)
    sources = sorted(p for p in templates.iterdir() if p.is_dir())
    root = base / "inbox"
    for i in range(VOICES):
        src, dst = sources[i % TEMPLATES], root / f"r{i:03d}"
        shutil.copytree(
            src, dst, copy_function=os.link, ignore=shutil.ignore_patterns("voice.toml")
        )
        meta = (src / "voice.toml").read_text(encoding="utf-8")
        meta = re.sub(r'(?m)^voice_name = ".*"$', f'voice_name = "Restart voice r{i:03d}"', meta)
        (dst / "voice.toml").write_text(meta, encoding="utf-8")
    return root


def _cluster() -> tuple[str, str]:
    """(version, name) of the local cluster on the test server's port; skips without one we
    may restart (not root, no pg_ctlcluster, or the test server is elsewhere)."""
    url = database_url_for_tests()
    if "127.0.0.1" not in url and "localhost" not in url:
        pytest.skip("the test database is not a local cluster this test may restart")
    if os.geteuid() != 0 or shutil.which("pg_ctlcluster") is None:
        pytest.skip("restarting PostgreSQL needs root and pg_ctlcluster")
    port = re.search(r":(\d+)/", url)
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == (port.group(1) if port else "5432"):
            return fields[0], fields[1]
    pytest.skip(f"no local cluster on the test server's port: {listing!r}")


def _restart(version: str, name: str) -> float:
    """Restart the cluster (pg_ctlcluster: a fast shutdown, sessions cut) and wait until
    it answers a query again; returns the seconds it was away."""
    # Two suites on one machine (two clones' CI) must not restart the server at once: two
    # overlapping `pg_ctlcluster restart`s were seen to leave it down. So one at a time, and
    # the server is started again whatever happened to the restart.
    with open("/tmp/voice-onboard-pg-restart.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        started = time.monotonic()
        try:
            subprocess.run(
                ["pg_ctlcluster", version, name, "restart"],
                check=True,
                capture_output=True,
                timeout=120,
            )
        finally:
            subprocess.run(
                ["pg_ctlcluster", version, name, "start"],
                check=False,
                capture_output=True,
                timeout=120,
            )  # exits 2 when it is already running: fine
        deadline = started + 120
        while True:
            try:
                with psycopg.connect(database_url_for_tests(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return time.monotonic() - started
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


# It restarts the shared server: `make test` runs it alone, after the rest (marker `exclusive`).
@pytest.mark.exclusive
async def test_three_workers_ride_out_a_postgres_restart(
    inbox: Path,
    db_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """3 workers, PostgreSQL restarted mid-batch: all voices succeed, one remote job each,
    every worker ends on its own (exit 0) and `manifest` lists the whole batch."""
    version, name = _cluster()
    state_dir = tmp_path / "var"
    async with Emulator(EmulatorOptions(time_scale=FAST, seed=43)) as emu:
        job, batch = _job(
            tmp_path, inbox=inbox, state_dir=state_dir, db=db_url, endpoint=emu.base_url
        )
        enqueued = await _cli("enqueue", str(job))
        assert enqueued.returncode == 0, enqueued.stderr[-2000:]
        procs = _start_workers(job, 3, concurrency=3)
        logs = [tmp_path / f"worker{i}.log" for i in range(3)]

        def created() -> int:
            return sum(c.batch_name == batch for c in emu.huawei.creates)

        try:
            with anyio.fail_after(240):
                while created() < VOICES // 3:
                    assert all(p.poll() is None for p in procs), [_tail(log) for log in logs]
                    await anyio.sleep(0.05)
            before = created()
            away = await anyio.to_thread.run_sync(_restart, version, name)
        finally:
            # Whatever failed above, no worker outlives the test (nor the emulator it needs).
            codes = await _wait_all(procs, within_s=600 if SOAK else 300)
        assert codes == [0, 0, 0], [_tail(log) for log in logs]
        creates = Counter(c.voice_name for c in emu.huawei.creates if c.batch_name == batch)
        jobs = [j for j in emu.huawei.jobs(PROJECT_ID) if j.batch_name == batch]
        manifest = await _cli("manifest", str(job))

    assert before < VOICES, "the batch was sent before the restart; restart it earlier"
    assert len(creates) == VOICES
    assert set(creates.values()) == {1}, [v for v, n in creates.items() if n > 1]
    assert len(jobs) == VOICES
    assert {j.state for j in jobs} == {"SUCCEED"}
    assert manifest.returncode == 0, manifest.stdout + manifest.stderr[-2000:]
    doc = json.loads((state_dir / "manifests" / f"{batch}-latest.json").read_text())
    assert doc["summary"]["voices"] == VOICES
    assert doc["summary"]["succeeded"] == VOICES
    assert {v["remote"]["job_id"] for v in doc["voices"]} == {j.job_id for j in jobs}
    events = Counter(e.get("event") for log in logs for e in _events(log))
    assert events["worker.reconnected"] >= 1, "no worker noticed the restart"
    failed = events["task.voice_failed"]
    print(
        f"\nPostgreSQL restart under 3 workers: {VOICES} voices, restarted after {before} "
        f"creates, away {away:.1f} s, {events['worker.reconnected']} worker reconnections, "
        f"{failed} voice tasks failed and were retried; "
        f"{VOICES} succeeded, one remote job each"
    )


@pytest.fixture
def private_cluster() -> Iterator[tuple[str, str, str]]:
    """A throwaway PostgreSQL cluster of this test alone (so it may stay down): (version,
    name, URL); dropped afterwards."""
    version, _ = _cluster()
    if shutil.which("pg_createcluster") is None:
        pytest.skip("a private cluster needs pg_createcluster")
    name = f"vo_gone_{uuid.uuid4().hex[:8]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run(
        ["pg_createcluster", version, name, "-p", str(port), "--start", "--", "-A", "trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield version, name, f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            ["pg_dropcluster", version, name, "--stop"],
            check=False,  # a failed drop must not hide the test's own outcome
            capture_output=True,
            timeout=120,
        )


async def test_a_database_gone_for_good_ends_the_worker_with_exit_3(
    inbox: Path, tmp_path: Path, private_cluster: tuple[str, str, str]
) -> None:
    """The workers' database stops and stays down past outage_window: the worker gives up
    with exit 3 and one line that names the database and says what to do."""
    version, name, url = private_cluster
    voices = link_tree(inbox, tmp_path / "inbox", ["r000"])
    # Training takes an emulated day at this pace: the worker is still waiting when it stops.
    async with Emulator(EmulatorOptions(time_scale=10.0, seed=47)) as emu:
        job, batch = _job(
            tmp_path,
            inbox=voices,
            state_dir=tmp_path / "var",
            db=url,
            endpoint=emu.base_url,
            extra='[limits]\noutage_window = "2s"',
        )
        assert (await _cli("enqueue", str(job))).returncode == 0
        procs = _start_workers(job, 1, concurrency=1)
        try:
            with anyio.fail_after(120):
                while not any(c.batch_name == batch for c in emu.huawei.creates):
                    assert procs[0].poll() is None, _tail(tmp_path / "worker0.log")
                    await anyio.sleep(0.05)
            stop = ["pg_ctlcluster", version, name, "stop"]
            await anyio.run_process(stop, check=True)
        finally:
            codes = await _wait_all(procs, within_s=120)
    log = (tmp_path / "worker0.log").read_text(encoding="utf-8", errors="replace")
    assert codes == [3], log[-3000:]
    # procrastinate logs its own plain-text lines; ours are JSON, and one told line.
    told = [ln for ln in log.splitlines() if ln.startswith("voice-onboard:")]
    assert len(told) == 1, told
    assert told[0].startswith("voice-onboard: run cut short: postgresql://")
    assert f"@127.0.0.1:{url.rpartition(':')[2]}" in told[0]  # names the database, no secret
    assert "the database did not come back within 2 s" in told[0]
    assert "start the worker again once it is back" in told[0]
