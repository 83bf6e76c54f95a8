"""The voice-activity checks as cron sees them: `check` over sample voices that speak (espeak-ng),
one clip replaced by music: exit 1, the voice rejected with audio.no_speech on that clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.espeak import require_espeak


def _music(rate: int, seconds: float) -> np.ndarray:
    """A melody of decaying harmonic notes with a quiet room under it: music, no speech."""
    n = round(rate * seconds)
    out = np.zeros(n)
    note = round(rate * 0.4)
    for k, start in enumerate(range(round(rate * 0.5), n - note - rate // 2, note)):
        f0 = 220 * 2 ** ((k * 5 % 12) / 12)
        t = np.arange(note) / rate
        out[start : start + note] = sum(
            np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6)
        ) * np.exp(-t * 4)
    out *= 0.4 / np.abs(out).max()
    return out + np.random.default_rng(5).standard_normal((n,)) * 1e-4


def test_music_clip_rejects_the_voice(tmp_path: Path, write_job: Callable[..., Path]) -> None:
    """A clip of music in a speaking voice: `check` exits 1, its one summary line names
    audio.no_speech, and the manifest puts it on that clip and no other VAD finding anywhere."""
    require_espeak()
    path = write_job(extra="[content]\ncheck = true\n")  # the VAD belongs to the content checks
    inbox = tmp_path / "inbox"
    inbox.rmdir()
    env = {**os.environ}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipeline", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )

    made = cli("sample-data", str(inbox), "--voices", "2", "--profile", "huawei-basic")
    assert made.returncode == 0, made.stderr
    victim = inbox / "voice-002" / "0005.wav"
    sf.write(str(victim), _music(48000, 8.0), 48000, subtype="PCM_16")
    proc = cli("check", str(path))
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = {line.split()[1]: line for line in proc.stdout.splitlines() if line.count(" ")}
    assert lines["voice-002"].startswith("rejected voice-002 audio.no_speech: no speech detected")
    assert lines["voice-001"] == "ready voice-001"
    manifest = json.loads((tmp_path / "var" / "manifests" / "t-check-latest.json").read_text())
    vad = {"audio.no_speech", "audio.little_speech", "audio.long_pause"}
    found = [
        (f["code"], f["severity"], f["file"])
        for v in manifest["voices"]
        for f in v["findings"]
        if f["code"] in vad
    ]
    assert found == [("audio.no_speech", "error", "voice-002/0005.wav")]
