"""An operator's first commands: --version, global flags after the command, one voice first."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from tests.cli.test_honest_outcomes import (
    EMULATOR,
    cli,
    inbox3,
    job,
    manifest_of,
    one_line,
    root,
    tmpfs,
)

__all__ = ["inbox3", "root"]  # the fixtures, shared with the honest-outcome tests


def test_version_names_the_package_and_the_provider_apis() -> None:
    """`--version` prints our version and the API versions we speak, and exits 0."""
    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"voice-onboard {version('voice-onboarding')} ")
    assert "Huawei MetaStudio" in proc.stdout
    assert "api-version" in proc.stdout


def test_global_flags_after_the_command(root: Path) -> None:
    """`run job.toml -v --log-json` is accepted: JSON log lines on stderr, exit 0."""
    proc = cli("run", str(job(root, "emulator", EMULATOR)), "-v", "--log-json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(ln)["event"] for ln in proc.stderr.splitlines() if ln.startswith("{")]
    assert "run.finished" in events


def test_run_one_voice_first(root: Path) -> None:
    """`run --voices KEY` sends only that voice; the manifest lists it alone."""
    key = min(p.name for p in (root / "inbox").iterdir())
    proc = cli("run", str(job(root, "emulator", EMULATOR)), "--voices", key)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = manifest_of(proc)
    assert [v["voice"] for v in doc["voices"]] == [key]
    assert doc["voices"][0]["status"] == "succeeded"


def test_voices_glob_matching_nothing_exits_2(root: Path) -> None:
    """A --voices pattern that matches no folder is one line naming it, exit 2, no run."""
    path = job(root, "emulator", EMULATOR)
    for command in ("check", "run"):
        one_line(cli(command, str(path), "--voices", "nobody*"), 2, "'nobody*'", "no voice folder")
    assert not (root / "var").exists() or not any((root / "var").rglob("*.json"))


def test_schema_prints_what_jobs_ship() -> None:
    """`schema job|voice` print the files in jobs/ that the examples point editors at."""
    jobs = Path(__file__).resolve().parents[2] / "jobs"
    for which in ("job", "voice"):
        proc = cli("schema", which)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == (jobs / f"{which}.schema.json").read_text()
        assert json.loads(proc.stdout)["$schema"].startswith("https://json-schema.org/")


def test_init_writes_a_checkable_skeleton_and_never_overwrites(tmp_path: Path) -> None:
    """`init DIR --profile P` writes a job `check` can read; a second init exits 2."""
    target = tmp_path / "first"
    proc = cli("init", str(target), "--profile", "huawei-basic")
    assert proc.returncode == 0, proc.stderr
    assert (target / "inbox" / "voice-001" / "voice.toml").is_file()
    checked = cli("check", str(target / "job.toml"))
    assert checked.returncode == 1, checked.stdout + checked.stderr  # no recordings yet
    assert "voice.no_audio" in checked.stdout
    assert "voice.toml" not in checked.stdout  # the skeleton's voice.toml itself is fine
    before = (target / "job.toml").read_text()
    one_line(cli("init", str(target)), 2, "already exists", "job.toml")
    assert (target / "job.toml").read_text() == before


def test_init_into_a_read_only_folder_exits_2(tmp_path: Path) -> None:
    """`init` on a read-only filesystem is one line naming the path, exit 2."""
    with tmpfs(tmp_path / "ro", "ro", "size=1m"):
        one_line(cli("init", str(tmp_path / "ro" / "sub")), 2, "cannot write", "ro")


def test_in_process_emulator_says_its_jobs_end_and_the_next_run_sends_them_again(
    root: Path,
) -> None:
    """endpoint = "emulator", cut short with voices training: exit 3 and a note that the
    emulator's jobs end with the run; the next run sends them again and all succeed — none
    reads as "failed, no longer exists"."""
    path = root / "job.toml"
    head = (
        '[batch]\nname = "b"\ninbox = "inbox"\nstate_dir = "var"\n\n'
        '[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "basic"\n\n'
    )
    # Real-time emulation: a day of training never ends within the 1 s deadline.
    path.write_text(head + '[await]\npoll_interval = "0.2s"\ndeadline = "1s"\n'
                    "[emulator]\ntime_scale = 1\n")  # fmt: skip
    first = cli("run", str(path))
    assert first.returncode == 3, first.stdout + first.stderr
    assert any(ln.startswith('note: endpoint = "emulator"') for ln in first.stdout.splitlines())
    assert {v["status"] for v in manifest_of(first)["voices"]} == {"pending"}
    path.write_text(head + '[await]\npoll_interval = "0.2s"\ndeadline = "2m"\n' + EMULATOR)
    second = cli("run", str(path))
    assert second.returncode == 0, second.stdout + second.stderr
    voices = manifest_of(second)["voices"]
    assert {v["status"] for v in voices} == {"succeeded"}
    status = json.loads(cli("status", str(path), "--json").stdout)
    rows = status["voices"] if isinstance(status, dict) else status
    assert len(rows) == 3
    assert all(row["history"] for row in rows)  # the ended jobs are remembered, not reused
