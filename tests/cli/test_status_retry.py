"""`voice-onboard status` and `voice-onboard retry` as an operator runs them, on the emulator.

One batch of four voices is run once for the module (voice-002 forced to FAILED, voice-003 to
AUDIT_FAILED); tests that change it work on a private copy.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.commands.sample_data import write_inbox
from pipeline.commands.status import load_rows, render_rich
from pipeline.config import load_job
from pipeline.ledger import open_ledger
from pipeline.lock import batch_lock
from pipeline.records import Finding, Phase, Severity, VoiceStatus

JOB = """\
[batch]
name = "cli"
inbox = "inbox"
state_dir = "var"

[provider]
kind = "huawei-metastudio"
endpoint = "emulator"
edition = "basic"

[await]
poll_interval = "0.2s"
deadline = "2m"

[emulator]
time_scale = 1000000
outcomes = ["*voice-002*=FAILED", "*voice-003*=AUDIT_FAILED"]

[report]
metrics_textfile = "metrics/voice_onboard.prom"
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m pipeline ARGS` the way cron would (no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def ran_batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with an inbox, a job file and the state of one finished run (exit 1)."""
    root = tmp_path_factory.mktemp("cli-batch")
    write_inbox(root / "inbox", voices=4, profile="huawei-basic", seed=5)
    (root / "job.toml").write_text(JOB, encoding="utf-8")
    proc = cli("run", str(root / "job.toml"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return root


def _link_or_copy(src: str, dst: str) -> None:
    """copytree's copy function: hard links for audio and packages, copies for the rest."""
    # Audio and packages are only read (and replaced by rename, never rewritten): hard links
    # keep the copy cheap. Everything else is copied — the ledger is written, and a linked
    # lock file would share its flock with the original.
    if src.endswith((".wav", ".WAV", ".zip")):
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


@pytest.fixture
def batch(ran_batch: Path, tmp_path: Path) -> Path:
    """A private copy of the finished batch for a test that changes files or the ledger."""
    dst = tmp_path / "batch"
    shutil.copytree(ran_batch, dst, copy_function=_link_or_copy)
    return dst


def status_json(root: Path, *args: str) -> dict[str, Any]:
    """`status --json` of the batch in ``root``, parsed."""
    proc = cli("status", str(root / "job.toml"), "--json", *args)
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def by_voice(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The status document's voices by key."""
    return {v["voice"]: v for v in doc["voices"]}


def replace_file(path: Path, text: str) -> None:
    """Write a new file in place of ``path`` (never through a hard link to the original)."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --- status ----------------------------------------------------------------------------------


def test_status_plain_table(ran_batch: Path) -> None:
    """Without a terminal: a header, one line per voice with stage/status/remote, a summary."""
    proc = cli("status", str(ran_batch / "job.toml"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:7] == ["voice", "stage", "status", "remote", "age", "tries", "last"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert rows["voice-001"][1:4] == ["done", "succeeded", "SUCCEED"]
    assert rows["voice-002"][1:4] == ["done", "failed", "FAILED"]
    assert rows["voice-003"][1:4] == ["done", "needs_attention", "AUDIT_FAILED"]
    assert "Model training failed" in " ".join(rows["voice-002"])
    assert lines[-1] == "4 voices: 2 succeeded, 1 failed, 1 needs_attention"


def test_status_json(ran_batch: Path) -> None:
    """--json: summary counts and per voice the remote state, errors and findings."""
    doc = status_json(ran_batch)
    assert doc["batch"] == "cli"
    assert doc["summary"]["voices"] == 4
    assert doc["summary"]["failed"] == 1
    voices = by_voice(doc)
    v3 = voices["voice-003"]
    assert v3["status"] == "needs_attention"
    assert v3["remote_state"] == "AUDIT_FAILED"
    assert v3["remote"]["job_id"]
    assert v3["last_error"]
    assert v3["reason"].startswith("remote.audit_failed voice-003/")
    assert "remote.audit_failed" in {f["code"] for f in v3["findings"]}
    assert voices["voice-001"]["last_error"] is None
    assert all(v["age_s"] >= 0 and v["history"] == [] for v in doc["voices"])


def test_status_filters_and_events(ran_batch: Path) -> None:
    """--status and --voices narrow the list; --events adds each voice's stage changes."""
    bad = status_json(ran_batch, "--status", "failed", "--status", "needs_attention")
    assert sorted(by_voice(bad)) == ["voice-002", "voice-003"]
    some = status_json(ran_batch, "--voices", "voice-00[14]", "--events")
    assert sorted(by_voice(some)) == ["voice-001", "voice-004"]
    stages = [e["stage"] for e in by_voice(some)["voice-001"]["events"]]
    assert stages[0] == "prepared"
    assert stages[-1] == "done"
    assert "submitted" in stages


def test_status_before_any_run(write_job: Callable[..., Path], tmp_path: Path) -> None:
    """A batch that never ran: one line, exit 0, and no ledger file is created."""
    job = write_job()
    proc = cli("status", str(job))
    assert proc.returncode == 0, proc.stderr
    assert "knows no voices" in proc.stdout
    assert not (tmp_path / "var" / "ledger.sqlite3").exists()
    assert json.loads(cli("status", str(job), "--json").stdout)["voices"] == []


def test_status_rich_table(ran_batch: Path) -> None:
    """The terminal renderer draws one table row per voice with the summary as caption."""
    config = load_job(ran_batch / "job.toml")
    rows = anyio.run(lambda: load_rows(config))
    out = io.StringIO()
    render_rich(config.batch, rows, out)
    text = out.getvalue()
    assert "batch cli" in text
    assert "4 voices: 2 succeeded, 1 failed, 1 needs_attention" in text
    assert sorted(re.findall(r"│ (voice-00\d) ", text)) == [f"voice-00{i}" for i in range(1, 5)]
    assert "AUDIT_FAILED" in text


#: A Huawei error_msg as some endpoints send it: CR LF, tabs, a Unicode line separator.
MULTI_LINE = "MSS.00000002 Training failed:\r\n\tsegment 3: noise\u2028segment 7: clipping\n"


def _rewrite(root: Path, key: str, **changes: Any) -> None:
    """Change one voice's ledger state in place (with a stage-change event)."""
    config = load_job(root / "job.toml")

    async def go() -> None:
        async with open_ledger(config) as ledger:
            state = await ledger.get(key)
            assert state is not None
            stage = changes.pop("stage", state.stage)
            await ledger.put(state.advance(stage, **changes), detail=MULTI_LINE)

    anyio.run(go)


def test_status_is_one_line_per_voice_with_multi_line_errors(batch: Path) -> None:
    """A provider message with line breaks in the ledger: `status` (and --events) still prints
    exactly one line per voice (events indented below it), the message's lines joined."""
    _rewrite(batch, "voice-001", last_error=MULTI_LINE)
    finding = Finding(
        severity=Severity.ERROR, code="remote.job_failed", file=None, message=MULTI_LINE
    )
    _rewrite(batch, "voice-002", findings=(finding,))
    for extra in ((), ("--events",)):
        proc = cli("status", str(batch / "job.toml"), *extra)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        voice_lines = [ln for ln in lines[1:-1] if not ln.startswith("    ")]
        assert [ln.split()[0] for ln in voice_lines] == [f"voice-00{i}" for i in range(1, 5)]
        assert all(ln.split()[0].startswith("20") for ln in lines[1:-1] if ln.startswith("    "))
        assert lines[-1].startswith("4 voices: ")
        flat = "MSS.00000002 Training failed: segment 3: noise"
        assert [ln.split()[0] for ln in voice_lines if flat in ln] == ["voice-001", "voice-002"]
        assert "\r" not in proc.stdout
        assert "\u2028" not in proc.stdout
        assert "\t" not in proc.stdout
    voices = by_voice(status_json(batch))
    flat = "MSS.00000002 Training failed: segment 3: noise segment 7: clipping"
    assert voices["voice-001"]["reason"] == flat
    assert voices["voice-002"]["reason"] == f"remote.job_failed: {flat}"


def test_status_names_a_voice_not_yet_sent_deferred(batch: Path) -> None:
    """A voice the ledger holds before it was submitted is `deferred` in status (plain and
    JSON, and in --status filters), never `pending`."""
    _rewrite(batch, "voice-004", stage=Phase.CREATED, status=VoiceStatus.PENDING)
    proc = cli("status", str(batch / "job.toml"))
    rows = {ln.split()[0]: ln.split() for ln in proc.stdout.splitlines()[1:-1]}
    assert rows["voice-004"][1:3] == ["created", "deferred"]
    assert proc.stdout.splitlines()[-1] == (
        "4 voices: 1 deferred, 1 succeeded, 1 failed, 1 needs_attention"
    )
    only = status_json(batch, "--status", "deferred")
    assert sorted(by_voice(only)) == ["voice-004"]
    assert only["summary"]["deferred"] == 1
    assert only["summary"]["pending"] == 0


# --- retry -----------------------------------------------------------------------------------


def test_retry_usage(write_job: Callable[..., Path]) -> None:
    """`retry --help` shows the JOB-first usage; without --voices it is a usage error (exit 2)."""
    help_ = cli("retry", "--help")
    assert help_.returncode == 0
    assert "usage: voice-onboard retry JOB --voices KEY" in help_.stdout
    missing = cli("retry", str(write_job()))
    assert missing.returncode == 2
    assert "--voices" in missing.stderr


def test_retry_refuses_what_it_must(batch: Path) -> None:
    """Succeeded, unchanged, unknown and unmatched voices are refused, one line each, exit 1."""
    before = status_json(batch)
    proc = cli(
        "retry", str(batch / "job.toml"), "--voices", "voice-001", "voice-002", "nobody", "zz*"
    )
    assert proc.returncode == 1, proc.stderr
    lines = dict(line.split(": ", 1) for line in proc.stdout.splitlines())
    assert lines["voice-001"].startswith("refused: it is succeeded")
    assert lines["voice-002"].startswith("refused: its files did not change")
    assert "--force" in lines["voice-002"]
    assert lines["nobody"].startswith("refused: the ledger does not know")
    assert lines["zz*"].startswith("refused: matches no failed or needs_attention voice")
    after = status_json(batch)
    for v in before["voices"]:
        v.pop("age_s")
    for v in after["voices"]:
        v.pop("age_s")
    assert after == before  # nothing changed


def test_retry_after_a_fix_creates_a_new_job(batch: Path) -> None:
    """Fixed files → re-queued with the old job in history → the next run makes a new job."""
    job = str(batch / "job.toml")
    old = by_voice(status_json(batch))["voice-003"]["remote"]["job_id"]
    tsv = batch / "inbox" / "voice-003" / "transcripts.tsv"
    first, *rest = tsv.read_text(encoding="utf-8").splitlines()
    stem, _, _ = first.partition("\t")
    # The voices are EN: a new English line (a CJK one would fail the transcript check now).
    fixed = f"{stem}\tThe weather is lovely today, so we walk together in the park."
    replace_file(tsv, "\n".join([fixed, *rest]) + "\n")

    proc = cli("retry", job, "--voices", "voice-003")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == (
        f"voice-003: re-queued: files changed; job {old} kept in history; "
        "the next `voice-onboard run` creates a new job"
    )
    queued = by_voice(status_json(batch))["voice-003"]
    # Not sent yet: deferred (pending means the provider has accepted it).
    assert (queued["stage"], queued["status"]) == ("prepared", "deferred")
    assert queued["remote"] == {}
    assert queued["history"] == [old]
    assert queued["last_error"] is None

    rerun = cli("run", job)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr  # voice-002 is still failed
    done = by_voice(status_json(batch))["voice-003"]
    assert done["stage"] == "done"
    assert done["status"] == "needs_attention"  # the emulator forces AUDIT_FAILED again
    assert done["remote"]["job_id"] not in ("", old)
    assert done["history"] == [old]

    prom = (batch / "metrics" / "voice_onboard.prom").read_text(encoding="utf-8")
    samples = {
        (s.name, s.labels.get("kind")): s.value
        for f in text_string_to_metric_families(prom)
        for s in f.samples
    }
    assert samples[("voice_onboard_retries_total", "operator")] == 1
    report = (batch / "var" / "manifests" / "cli-latest.html").read_text(encoding="utf-8")
    assert "replaces 1 earlier job(s)" in report


def test_retry_force_with_the_same_files(batch: Path) -> None:
    """A glob skips nothing silently: unchanged voices are refused; --force re-queues one."""
    job = str(batch / "job.toml")
    refused = cli("retry", job, "--voices", "voice-00*")
    assert refused.returncode == 1
    assert [line.split(":")[0] for line in refused.stdout.splitlines()] == [
        "voice-002",
        "voice-003",
    ]
    assert all("refused" in line for line in refused.stdout.splitlines())

    old = by_voice(status_json(batch))["voice-002"]["remote"]["job_id"]
    forced = cli("retry", job, "--voices", "voice-002", "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert "re-queued: forced, same files" in forced.stdout
    rerun = cli("run", job)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    v2 = by_voice(status_json(batch))["voice-002"]
    assert v2["status"] == "failed"  # forced outcome again, but on a new job
    assert v2["remote"]["job_id"] != old
    assert v2["history"] == [old]


def test_retry_refusal_names_a_voice_not_yet_sent_deferred(batch: Path) -> None:
    """retry's refusal of a voice not yet sent calls it deferred, as status does (not
    "pending at created"), on one line."""
    _rewrite(batch, "voice-004", stage=Phase.CREATED, status=VoiceStatus.PENDING)
    proc = cli("retry", str(batch / "job.toml"), "--voices", "voice-004")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == [
        "voice-004: refused: it is deferred (stage created); only failed or needs_attention "
        + "voices are retried"
    ]


def test_retry_while_a_run_holds_the_batch(batch: Path) -> None:
    """retry takes the batch lock: with a run holding it, exit 75 and nothing changes."""
    config = load_job(batch / "job.toml")
    with batch_lock(config.state_dir, config.batch):
        proc = cli("retry", str(batch / "job.toml"), "--voices", "voice-002", "--force")
    assert proc.returncode == 75, proc.stdout + proc.stderr
    assert "locked" in proc.stderr
    assert by_voice(status_json(batch))["voice-002"]["status"] == "failed"
