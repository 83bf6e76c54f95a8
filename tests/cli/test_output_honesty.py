"""What voice-onboard tells the operator is true and safe to act on: the report and metrics of a
run that sent nothing, commands that can be pasted into a shell whatever the voices are called,
a `check` that leaves the run's "latest" alone, one line per voice, a `sample-data` that never
writes into someone's inbox, and a `status` that only reads.

Every test runs the CLI as cron would (`python -m pipeline`, no terminal, an environment without
the operator's credentials) and asserts the exit code, what was said, and no traceback.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.commands.sample_data import write_inbox

#: The operator's variables a test must never see (or leak into a run).
_OPERATOR_PREFIXES = ("HUAWEICLOUD_", "METASTUDIO_", "AZURE_", "VOICE_ONBOARD_")
FAST = '[await]\npoll_interval = "0.2s"\ndeadline = "2m"\n'
EMULATOR = "[emulator]\ntime_scale = 1000000\n"
#: One try per call and a one-second budget: an unreachable provider is known in seconds.
IMPATIENT = '[limits]\nretry_attempts = 1\nretry_budget = "1s"\n'
FAKE_CREDENTIALS = {"HUAWEICLOUD_SDK_AK": "x", "HUAWEICLOUD_SDK_SK": "y"}
#: Voice folder names a pasted command must pass as one literal word each. The two with a
#: command substitution leave a file behind if a shell ever runs them.
HOSTILE = ("$(touch PWNED-1)", "a b", "-rf", "it's", "x`touch PWNED-2`y")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any credentials or VOICE_ONBOARD_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OPERATOR_PREFIXES)}
    return env | extra


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipeline ARGS` the way cron would (no terminal, clean environment)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        cwd=cwd,
        timeout=300,
        check=False,
    )


def said(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of stderr that are not JSON log events: what the operator is told."""
    return [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("{")]


def ok(proc: subprocess.CompletedProcess[str], code: int) -> None:
    """Assert the exit code and that nothing crashed."""
    assert proc.returncode == code, (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr


def job(folder: Path, name: str, endpoint: str, extra: str = "", *, state_dir: str = "var") -> Path:
    """A Huawei basic job file ``name`` in ``folder`` against ``endpoint`` (batch `honesty`)."""
    path = folder / name
    path.write_text(
        f'[batch]\nname = "honesty"\ninbox = "inbox"\nstate_dir = "{state_dir}"\n\n'
        f'[provider]\nkind = "huawei-metastudio"\nendpoint = "{endpoint}"\nedition = "basic"\n\n'
        f"{FAST}{extra}",
        encoding="utf-8",
    )
    return path


def printed(proc: subprocess.CompletedProcess[str], what: str) -> Path:
    """The path a run printed on its ``manifest: …`` or ``report: …`` line."""
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(f"{what}: "))
    return Path(line.removeprefix(f"{what}: "))


def samples(path: Path) -> dict[str, float]:
    """A metrics textfile's samples by name (and status label)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in family.samples:
            status = s.labels.get("status")
            out[f"{s.name}{{{status}}}" if status else s.name] = s.value
    return out


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``folder`` (hidden ones too) with its size and mtime."""
    return {
        str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in [folder, *folder.rglob("*")]
    }


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def inbox3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three healthy Huawei basic voices, written once for the module."""
    root = tmp_path_factory.mktemp("inbox3")
    write_inbox(root / "inbox", voices=3, profile="huawei-basic", seed=3)
    return root / "inbox"


def copy_inbox(src: Path, dst: Path) -> Path:
    """A private copy of ``src`` at ``dst`` (hard-linked files; nothing writes into them)."""
    dst.mkdir(parents=True)
    for voice in src.iterdir():
        (dst / voice.name).mkdir()
        for f in voice.iterdir():
            os.link(f, dst / voice.name / f.name)
    return dst


@pytest.fixture
def root(tmp_path: Path, inbox3: Path) -> Path:
    """A folder with a private copy of the three-voice inbox."""
    copy_inbox(inbox3, tmp_path / "inbox")
    return tmp_path


# --- 1. a run that sent nothing is never reported as a success -------------------------------


def test_unreachable_run_reports_deferred_and_keeps_the_last_success(root: Path) -> None:
    """A good run, then one whose provider is unreachable (exit 3): its report shows every voice
    deferred ("not sent", with the error) under a bad verdict, and the metrics count them
    deferred while last_success_timestamp stays at the good run's."""
    prom = '[report]\nmetrics_textfile = "metrics/voice_onboard.prom"\n'
    good = cli("run", str(job(root, "good.toml", "emulator", EMULATOR + prom, state_dir="v1")))
    ok(good, 0)
    before = samples(root / "metrics" / "voice_onboard.prom")
    assert before["voice_onboard_last_success_timestamp_seconds"] > 0

    down = job(root, "down.toml", f"http://127.0.0.1:{free_port()}", IMPATIENT + prom)
    proc = cli("run", str(down), env=clean_env(**FAKE_CREDENTIALS))
    ok(proc, 3)
    assert [ln for ln in proc.stdout.splitlines() if ln.startswith("cut short: ")]

    page = printed(proc, "report").read_text(encoding="utf-8")
    assert 'data-verdict="bad"' in page
    assert "voices succeeded" not in page
    assert "still with the provider" not in page
    cards = re.findall(r'<article class="card voice-card act".*?</article>', page)
    assert len(cards) == 3
    for card in cards:
        assert 'data-status="deferred"' in card
        assert "not sent: the provider could not be reached this run" in card
        assert "the next run sends it" in card
        assert "<b>Last error:</b>" in card
    assert re.search(r'data-status="deferred"><b>3</b><span>deferred</span>', page)

    after = samples(root / "metrics" / "voice_onboard.prom")
    assert after["voice_onboard_voices{deferred}"] == 3
    assert after["voice_onboard_voices{pending}"] == 0
    assert after["voice_onboard_last_run_exit_code"] == 3
    assert (
        after["voice_onboard_last_success_timestamp_seconds"]
        == before["voice_onboard_last_success_timestamp_seconds"]
    )


# --- 2. suggested commands can be pasted into a shell ----------------------------------------


def test_pasted_retry_commands_retry_exactly_the_named_voice(tmp_path: Path) -> None:
    """Voices named `$(touch …)`, `a b`, `-rf`, `it's`, `x\\`…\\`y` in a job folder with a
    hostile name: each retry command of the report, pasted into bash, re-queues that one voice
    (with --force added, as the hint says) and runs nothing else."""
    folder = tmp_path / "jobs $(touch PWNED-3) it's"
    inbox = folder / "inbox"
    write_inbox(inbox, voices=len(HOSTILE), profile="huawei-basic", seed=4)
    for voice, name in zip(sorted(inbox.iterdir()), HOSTILE, strict=True):
        voice.rename(inbox / name)
    toml = job(folder, "job.toml", "emulator", EMULATOR + 'outcomes = {"*" = "FAILED"}\n')
    # From the folder above, as the operator would: the report names the job relative to it.
    ran = cli("run", str(toml.relative_to(tmp_path)), cwd=tmp_path)
    ok(ran, 1)
    page = (tmp_path / printed(ran, "report")).read_text(encoding="utf-8")
    commands = [html.unescape(c) for c in re.findall(r'<pre class="cmd">(.*?)</pre>', page)]
    assert len(commands) == len(HOSTILE)

    bash = f'voice-onboard() {{ {sys.executable} -m pipeline "$@"; }}\n'
    requeued = []
    for command in commands:
        assert command.startswith("voice-onboard retry ")
        pasted = subprocess.run(
            ["bash", "-c", bash + command + " --force"],
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=tmp_path,
            timeout=300,
            check=False,
        )
        ok(pasted, 0)
        lines = pasted.stdout.splitlines()
        assert len(lines) == 1, lines
        key, sep, _rest = lines[0].partition(": re-queued: forced, same files")
        assert sep, lines
        requeued.append(key)
    assert sorted(requeued) == sorted(HOSTILE)
    assert not list(tmp_path.rglob("PWNED-*"))  # no command substitution ever ran
    status = json.loads(cli("status", str(toml), "--json").stdout)
    assert {v["voice"]: v["stage"] for v in status["voices"]} == dict.fromkeys(HOSTILE, "prepared")


# --- 3. check has its own latest ------------------------------------------------------------


def test_check_keeps_the_runs_latest_and_manifest_replaces_it(root: Path) -> None:
    """After a run, `check` writes <batch>-check-latest.json/.html and leaves the run's
    <batch>-latest.* (statuses, asset ids) byte for byte; the scale-out `manifest` command
    writes <batch>-latest.* as a run does."""
    path = job(root, "job.toml", "emulator", EMULATOR)
    ok(cli("run", str(path)), 0)
    manifests = root / "var" / "manifests"
    run_json = (manifests / "honesty-latest.json").read_bytes()
    run_html = (manifests / "honesty-latest.html").read_bytes()
    assert all(v["remote"].get("asset_id") for v in json.loads(run_json)["voices"])

    checked = cli("check", str(path))
    ok(checked, 0)
    assert (manifests / "honesty-latest.json").read_bytes() == run_json
    assert (manifests / "honesty-latest.html").read_bytes() == run_html
    check_doc = json.loads((manifests / "honesty-check-latest.json").read_text())
    assert check_doc == json.loads(printed(checked, "manifest").read_text())
    assert {v["status"] for v in check_doc["voices"]} == {"ready"}
    check_page = (manifests / "honesty-check-latest.html").read_text(encoding="utf-8")
    assert 'data-command="check"' in check_page

    summed = cli("manifest", str(path))
    ok(summed, 0)
    latest = json.loads((manifests / "honesty-latest.json").read_text())
    assert latest["command"] == "manifest"
    assert all(v["remote"].get("asset_id") for v in latest["voices"])
    assert json.loads((manifests / "honesty-check-latest.json").read_text()) == check_doc
    stamped = list(manifests.glob("honesty-2*.json"))
    assert len(stamped) == 3  # every command keeps its own timestamped manifest


# (4. one line per voice: tests/cli/test_status_retry.py and tests/unit/test_report_html.py)


# --- 5. sample-data never writes into someone's inbox ----------------------------------------


def test_sample_data_refuses_a_non_empty_folder_without_force(tmp_path: Path) -> None:
    """`sample-data DIR` into a folder holding anything: exit 2, one line naming the folder and
    --force, nothing written; with --force the voices are added beside what was there."""
    target = tmp_path / "inbox"
    target.mkdir()
    (target / "alice").mkdir()
    (target / "alice" / "0001.wav").write_bytes(b"a real recording")
    refused = cli("sample-data", str(target), "--voices", "1")
    ok(refused, 2)
    assert said(refused) == [
        f"voice-onboard: {target}: not empty; choose an empty folder or pass --force"
    ]
    assert refused.stdout == ""
    assert [p.name for p in target.iterdir()] == ["alice"]

    forced = cli("sample-data", str(target), "--voices", "1", "--force")
    ok(forced, 0)
    assert forced.stdout.splitlines() == [f"wrote 1 voices (0 with defects) to {target}"]
    assert sorted(p.name for p in target.iterdir()) == ["alice", "voice-001"]
    assert (target / "alice" / "0001.wav").read_bytes() == b"a real recording"


# --- 6. status only reads --------------------------------------------------------------------


def test_status_writes_nothing(root: Path) -> None:
    """`status` (plain, --json, --events) changes nothing in state_dir: no file created (not
    even SQLite's -wal/-shm), none touched; before any run it creates no state_dir at all."""
    path = job(root, "job.toml", "emulator", EMULATOR)
    fresh = cli("status", str(path))
    ok(fresh, 0)
    assert fresh.stdout.splitlines() == ["batch honesty: the ledger knows no voices (that match)"]
    assert not (root / "var").exists()

    ok(cli("run", str(path)), 0)
    state = root / "var"
    before = snapshot(state)
    for extra in ((), ("--json",), ("--events",)):
        proc = cli("status", str(path), *extra)
        ok(proc, 0)
        assert said(proc) == []
        assert snapshot(state) == before, extra
