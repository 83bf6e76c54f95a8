"""The batch lock and the atomic manifest writer."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.errors import LockHeld
from pipeline.lock import batch_lock
from pipeline.outputs import latest_name
from pipeline.records import Finding, Severity, VoiceStatus
from pipeline.stages import manifest


def test_second_holder_is_refused(tmp_path: Path) -> None:
    """While one process holds the lock, another gets LockHeld at once."""
    with batch_lock(tmp_path, "b"):
        code = (
            "import sys; from pathlib import Path; from pipeline.lock import batch_lock\n"
            "from pipeline.errors import LockHeld\n"
            "try:\n    with batch_lock(Path(sys.argv[1]), 'b'): sys.exit(0)\n"
            "except LockHeld: sys.exit(75)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
        assert proc.returncode == 75
    with batch_lock(tmp_path, "b"):
        pass  # released: can be taken again


def test_lock_same_process_twice(tmp_path: Path) -> None:
    """flock is per open file: a second open in the same process is refused too."""
    with (
        batch_lock(tmp_path, "b"),
        pytest.raises(LockHeld, match="locked by pid"),
        batch_lock(tmp_path, "b"),
    ):
        pass


def test_manifest_written_with_latest(tmp_path: Path) -> None:
    """A check's manifest and <batch>-check-latest.json hold the same document with summary
    counts; <batch>-latest.json (a run's) is left alone."""
    t = datetime(2026, 11, 21, 2, 15, tzinfo=UTC)
    results = [
        manifest.VoiceResult(voice="a", voice_name="A", status=VoiceStatus.READY),
        manifest.VoiceResult(
            voice="b",
            voice_name="B",
            status=VoiceStatus.REJECTED,
            findings=(
                Finding(
                    severity=Severity.ERROR, code="audio.too_long", file="b/1.wav", message="16 s"
                ),
            ),
        ),
    ]
    doc = manifest.build(
        batch="n",
        command="check",
        provider={"kind": "k"},
        started_at=t,
        finished_at=t,
        results=results,
    )
    path = manifest.write(doc, tmp_path, "n", t)
    assert path.name == "n-20261121T021500Z.json"
    data = json.loads(path.read_text())
    assert data == json.loads((tmp_path / "n-check-latest.json").read_text())
    assert not (tmp_path / "n-latest.json").exists()  # a run's latest is never replaced by check
    assert data["summary"]["ready"] == 1
    assert data["summary"]["rejected"] == 1
    assert data["voices"][1]["findings"][0]["code"] == "audio.too_long"
    second = manifest.write(doc, tmp_path, "n", t)
    assert second != path
    assert second.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("command", "latest"),
    [("run", "n-latest"), ("manifest", "n-latest"), ("check", "n-check-latest")],
)
def test_latest_is_keyed_on_the_command(tmp_path: Path, command: str, latest: str) -> None:
    """`run` and the scale-out `manifest` write <batch>-latest.json, `check` its own
    <batch>-check-latest.json; a check after a run leaves the run's latest as it was."""
    t = datetime(2026, 11, 21, 2, 15, tzinfo=UTC)
    ran = manifest.build(
        batch="n",
        command="run",
        provider={"kind": "k"},
        started_at=t,
        finished_at=t,
        results=[
            manifest.VoiceResult(
                voice="a",
                voice_name="A",
                status=VoiceStatus.SUCCEEDED,
                remote={"job_id": "j1", "asset_id": "asset-1"},
            )
        ],
    )
    manifest.write(ran, tmp_path, "n", t)
    run_latest = (tmp_path / "n-latest.json").read_bytes()
    doc = manifest.build(
        batch="n",
        command=command,
        provider={"kind": "k"},
        started_at=t,
        finished_at=t,
        results=[manifest.VoiceResult(voice="a", voice_name="A", status=VoiceStatus.READY)],
    )
    path = manifest.write(doc, tmp_path, "n", t)
    assert latest_name("n", command) == latest
    assert json.loads((tmp_path / f"{latest}.json").read_text()) == json.loads(path.read_text())
    if command == "check":
        assert (tmp_path / "n-latest.json").read_bytes() == run_latest  # asset ids kept
