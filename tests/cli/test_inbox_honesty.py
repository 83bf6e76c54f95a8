"""Issue 14, the inbox side, as cron sees it through `voice-onboard check` (and `run`): transcripts
decoded for the voice's language, nothing read through a symlink, hidden folders reported, and
one voice_name per voice. Each case asserts the exit code, the finding in the manifest, the one
line on stdout for the voice, and that nothing crashed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.commands.sample_data import write_inbox

#: Environment variables of ours that must not leak into the CLI under test.
_OURS = ("HUAWEICLOUD_", "METASTUDIO_", "AZURE_", "VOICE_ONBOARD_")
_TRANSCRIPT_NAMES = ("transcripts.tsv", "metadata.csv")


def clean_env() -> dict[str, str]:
    """os.environ without credentials, endpoints or options of ours."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline ARGS` as cron runs it (no terminal, a clean environment)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
        check=False,
    )


def manifest_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The manifest named by the `manifest: PATH` line the CLI prints."""
    paths = [
        line[len("manifest: ") :]
        for line in proc.stdout.splitlines()
        if line.startswith("manifest: ")
    ]
    assert len(paths) == 1, proc.stdout
    data: dict[str, Any] = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    return data


def voice_lines(proc: subprocess.CompletedProcess[str], key: str) -> list[str]:
    """The stdout lines about voice ``key`` (`STATUS KEY [CODE: MESSAGE]`)."""
    return [line for line in proc.stdout.splitlines() if line.split()[1:2] == [key]]


def entry(manifest: dict[str, Any], key: str) -> dict[str, Any]:
    """Voice ``key``'s entry in the manifest."""
    voices: list[dict[str, Any]] = manifest["voices"]
    (found,) = [v for v in voices if v["voice"] == key]
    return found


def no_crash(proc: subprocess.CompletedProcess[str]) -> None:
    """No traceback and no 'please report' on stderr."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "please report" not in proc.stderr.lower(), proc.stderr[-3000:]


def sample_inbox(root: Path, voices: int, *, seed: int = 7) -> list[Path]:
    """``voices`` healthy huawei-basic voice folders under ``root``."""
    return [
        root / v.key for v in write_inbox(root, voices=voices, profile="huawei-basic", seed=seed)
    ]


def set_meta(folder: Path, **values: str) -> None:
    """Change keys of a voice's voice.toml."""
    path = folder / "voice.toml"
    meta = tomllib.loads(path.read_text(encoding="utf-8")) | values
    path.write_text(
        "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in meta.items()),
        encoding="utf-8",
    )


def set_transcripts(folder: Path, data: bytes) -> None:
    """Replace every transcript of a voice folder with one transcripts.tsv of ``data``."""
    for path in folder.iterdir():
        if path.suffix.lower() == ".txt" or path.name.lower() in _TRANSCRIPT_NAMES:
            path.unlink()
    (folder / "transcripts.tsv").write_bytes(data)


def stems(folder: Path) -> list[str]:
    """The recordings' stems, sorted."""
    return sorted(p.stem for p in folder.glob("*.wav"))


def test_check_rejects_a_latin1_transcript_of_an_en_voice(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """A Latin-1 transcripts.tsv that happens to be valid GBK is transcript.unreadable for an
    EN voice (exit 1, the byte offset named), while GBK Chinese of a CN voice stays ready."""
    en, cn = sample_inbox(tmp_path / "inbox", 2)
    set_meta(en, language="EN")
    latin1 = "".join(f"{s}\tRenée Garçon reads line {s}\n" for s in stems(en))
    set_transcripts(en, latin1.encode("latin-1"))
    set_meta(cn, language="CN")
    gbk = "".join(f"{s}\t今天的天气比昨天暖和了许多，第{s}句。\n" for s in stems(cn))
    set_transcripts(cn, gbk.encode("gbk"))
    proc = cli("check", str(write_job()))
    no_crash(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    manifest = manifest_of(proc)
    rejected = entry(manifest, en.name)
    assert rejected["status"] == "rejected"
    errors = [f for f in rejected["findings"] if f["severity"] == "error"]
    message = "not UTF-8 at byte 8 (0xe9); save it as UTF-8"
    assert errors == [
        {
            "severity": "error",
            "code": "transcript.unreadable",
            "file": f"{en.name}/transcripts.tsv",
            "message": message,
        }
    ]
    assert entry(manifest, cn.name)["status"] == "ready"
    (line,) = voice_lines(proc, en.name)
    assert line.split() == ["rejected", en.name, "transcript.unreadable:", *message.split()]
    assert [line.split()[0] for line in voice_lines(proc, cn.name)] == ["ready"]


def test_check_reads_nothing_through_a_symlinked_voice_folder(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """A voice folder that is a symlink to outside the inbox is rejected with voice.unsafe_path
    only: its transcripts.tsv is never read, so no finding quotes the outside file."""
    (ok,) = sample_inbox(tmp_path / "inbox", 1)
    (outside,) = sample_inbox(tmp_path / "elsewhere", 1, seed=8)
    set_transcripts(outside, b"9999\tsecret line from outside the inbox\n")
    (tmp_path / "inbox" / "linked").symlink_to(outside, target_is_directory=True)
    proc = cli("check", str(write_job()))
    no_crash(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    manifest = manifest_of(proc)
    linked = entry(manifest, "linked")
    assert linked["status"] == "rejected"
    assert [(f["code"], f["file"]) for f in linked["findings"]] == [("voice.unsafe_path", "linked")]
    assert "9999" not in json.dumps(manifest)
    assert entry(manifest, ok.name)["status"] == "ready"
    (line,) = voice_lines(proc, "linked")
    assert line.split()[:3] == ["rejected", "linked", "voice.unsafe_path:"]
    assert "symlink" in line


def test_check_rejects_every_voice_sharing_a_voice_name(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """Two voice folders with the same voice_name (after stripping) are both rejected with
    voice.duplicate_name naming the other; a voice with its own name stays ready."""
    first, second, third = sample_inbox(tmp_path / "inbox", 3)
    set_meta(first, voice_name="Anna")
    set_meta(second, voice_name="  Anna ")
    proc = cli("check", str(write_job()))
    no_crash(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    manifest = manifest_of(proc)
    for voice, other in ((first, second), (second, first)):
        found = entry(manifest, voice.name)
        assert found["status"] == "rejected"
        message = (
            f"voice_name 'Anna' is also used by {other.name}; each voice needs its own voice_name"
        )
        assert [f for f in found["findings"] if f["severity"] == "error"] == [
            {
                "severity": "error",
                "code": "voice.duplicate_name",
                "file": f"{voice.name}/voice.toml",
                "message": message,
            }
        ]
        (line,) = voice_lines(proc, voice.name)
        assert line.split() == ["rejected", voice.name, "voice.duplicate_name:", *message.split()]
    assert entry(manifest, third.name)["status"] == "ready"
    assert manifest["summary"]["rejected"] == 2


def test_run_sends_no_voice_that_shares_its_voice_name(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """`run` rejects voices sharing a voice_name in pre-flight, before any remote call: no
    remote job exists for either (today the second adopts the first's job)."""
    first, second = sample_inbox(tmp_path / "inbox", 2)
    set_meta(first, voice_name="Anna")
    set_meta(second, voice_name="Anna")
    job = write_job(extra='[await]\npoll_interval = "0.2s"\n[emulator]\ntime_scale = 1000000')
    proc = cli("run", str(job))
    no_crash(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    manifest = manifest_of(proc)
    for voice in (first, second):
        found = entry(manifest, voice.name)
        assert found["status"] == "rejected"
        assert found["remote"] == {}
        assert "voice.duplicate_name" in {f["code"] for f in found["findings"]}
        (line,) = voice_lines(proc, voice.name)
        assert line.split()[:3] == ["rejected", voice.name, "voice.duplicate_name:"]


def test_check_reports_hidden_folders_in_the_manifest(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """Hidden folders at the inbox's top level (a hidden voice, .git) are not voices: each is
    one inbox.skipped warning among the manifest's batch findings; the real voice is ready."""
    ok, hidden = sample_inbox(tmp_path / "inbox", 2)
    hidden.rename(tmp_path / "inbox" / f".{hidden.name}")
    (tmp_path / "inbox" / ".git").mkdir()
    (tmp_path / "inbox" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    proc = cli("check", str(write_job()))
    no_crash(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    manifest = manifest_of(proc)
    assert [v["voice"] for v in manifest["voices"]] == [ok.name]
    assert manifest["summary"]["voices"] == 1
    skipped = [f for f in manifest["findings"] if f["code"] == "inbox.skipped"]
    assert [(f["severity"], f["file"]) for f in skipped] == [
        ("warning", ".git"),
        ("warning", f".{hidden.name}"),
    ]
    assert [line.split()[0] for line in voice_lines(proc, ok.name)] == ["ready"]
    assert voice_lines(proc, f".{hidden.name}") == []
