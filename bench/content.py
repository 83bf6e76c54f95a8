"""The content pre-flight on real speech: throughput with and without it, and its sensitivity.

An espeak-ng English batch (four espeak voices: en-us, en-gb, en-us+f3, en-gb+m3; 20
distinct Harvard sentences each, as Huawei basic wants) is generated into
``var/bench/content/`` once. Measured in one run:

- ``voice-onboard check`` over the batch from a cold cache with ``[content] check = false``
  and ``= true``: audio seconds per wall second of each (the whole pre-flight);
- the recognizer alone in this process, one clip after another: audio seconds per CPU-second
  of content checking on one core (target >= 40x real time);
- sensitivity, with the thresholds of ``pipeline.audio.content.judge``: over every clip, a
  transcript with one word in four replaced by a random dictionary word (seeded; the share
  that gets at least a warning is the figure the README gives), another clip's sentence, and
  the right text (the share of healthy clips with a warning or an error), and a transcript
  that stops halfway through what is said.

``python -m bench.content`` runs it alone; ``make bench`` runs it with the others.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Final

from bench.common import CLI, VAR, Result, cli_env, huawei_job, require_ok, run_measured, skipped
from pipeline.commands.sample_data.harvard import HARVARD

NAME: Final = "content"
TITLE: Final = "content pre-flight (espeak-ng English speech)"
VOICES: Final = ("en-us", "en-gb", "en-us+f3", "en-gb+m3")
SENTENCES: Final = HARVARD  #: 20 distinct ones per voice
TARGET_X: Final = 40.0


def corpus(folder: Path) -> Path:
    """The batch (made once): one Huawei voice per espeak voice, 20 clips each."""
    import soundfile as sf
    import soxr

    inbox = folder / "inbox"
    done = inbox / ".complete"
    if done.exists():
        return inbox
    shutil.rmtree(inbox, ignore_errors=True)
    import io
    import subprocess

    import numpy as np

    for voice in VOICES:
        key = voice.replace("+", "-")
        out = inbox / key
        out.mkdir(parents=True)
        (out / "voice.toml").write_text(
            f'voice_name = "bench {key}"\nsex = "FEMALE"\nlanguage = "EN"\n', encoding="utf-8"
        )
        (out / "authorization.pdf").write_bytes(b"%PDF-1.4\n% bench\n%%EOF\n")
        for n, text in enumerate(SENTENCES):
            wav = subprocess.run(
                ["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True
            ).stdout
            samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
            samples = soxr.resample(samples, rate, 48000)
            pad = np.zeros(int(0.4 * 48000), dtype=np.float32)
            sf.write(out / f"{n:04d}.wav", np.concatenate([pad, samples, pad]), 48000)
            (out / f"{n:04d}.txt").write_text(text + "\n", encoding="utf-8")
    done.touch()
    return inbox


def _check(work: Path, inbox: Path, on: bool) -> float:
    """One cold-cache ``voice-onboard check`` with content checks ``on``; wall seconds."""
    name = "on" if on else "off"
    extra = f"[audio]\nmin_clip_s = 1.0\n[content]\ncheck = {'true' if on else 'false'}\n"
    job = huawei_job(work / name, inbox=inbox, endpoint="emulator", extra=extra)
    log = work / f"check-{name}.log"
    measured = run_measured([CLI, "check", str(job)], env=cli_env(), log=log)
    if measured.returncode not in (0, 1):
        require_ok(f"voice-onboard check ({name})", measured, log)
    return measured.wall_s


def _corrupt(text: str, words: list[str], rng: random.Random) -> str:
    """``text`` with one word in four (at least one) replaced by another dictionary word."""
    tokens = text.rstrip(".").split()
    for i in rng.sample(range(len(tokens)), max(1, len(tokens) // 4)):
        tokens[i] = rng.choice(words)
    return " ".join(tokens) + "."


def sensitivity(inbox: Path) -> dict[str, object]:
    """Verdicts over every clip for the right text, one word in four wrong, another clip's
    sentence; and the recognizer's speed on one core."""
    from pipeline.audio.content import judge
    from pipeline.audio.content.base import RecognizerSpec
    from pipeline.audio.content.jobs import read_samples
    from pipeline.audio.content.sphinx import SphinxRecognizer, wheel_model

    rec = SphinxRecognizer(RecognizerSpec(language="en-US"))
    words = [
        line.split()[0]
        for line in wheel_model().dict.read_text(encoding="utf-8").splitlines()
        if line and line.split()[0].isalpha()
    ]
    rng = random.Random(18)
    kinds = ("right", "quarter", "other", "half")
    counts = {k: {"ok": 0, "doubt": 0, "wrong": 0} for k in kinds}
    audio_s = cpu_s = 0.0
    clips = sorted(inbox.glob("*/*.wav"))
    for wav in clips:
        samples = read_samples(wav)
        text = wav.with_suffix(".txt").read_text(encoding="utf-8").strip()
        n = SENTENCES.index(text)
        t0 = time.process_time()
        right = rec.fit(samples, text)
        cpu_s += time.process_time() - t0
        audio_s += len(samples) / 16000
        counts["right"][judge.verdict(right)] += 1
        for _ in range(3):
            quarter = rec.fit(samples, _corrupt(text, words, rng))
            counts["quarter"][judge.verdict(quarter)] += 1
        other = rec.fit(samples, SENTENCES[(n + 7) % len(SENTENCES)])
        counts["other"][judge.verdict(other)] += 1
        tokens = text.split()
        half = rec.fit(samples, " ".join(tokens[: (len(tokens) + 1) // 2]))
        counts["half"][judge.verdict(half)] += 1

    def share(kind: str, *verdicts: str) -> float:
        total = sum(counts[kind].values())
        return round(sum(counts[kind][v] for v in verdicts) / total, 3) if total else 0.0

    return {
        "clips": len(clips),
        "verdicts": counts,
        "one_in_four_wrong_flagged": share("quarter", "doubt", "wrong"),
        "one_in_four_wrong_error": share("quarter", "wrong"),
        "other_sentence_flagged": share("other", "doubt", "wrong"),
        "other_sentence_error": share("other", "wrong"),
        "first_half_only_flagged": share("half", "doubt", "wrong"),
        "first_half_only_error": share("half", "wrong"),
        "healthy_warning": share("right", "doubt"),
        "healthy_error": share("right", "wrong"),
        "content_audio_s_per_cpu_s": round(audio_s / cpu_s, 1) if cpu_s else None,
    }


def run() -> Result:
    """The whole benchmark (see the module's docstring)."""
    if shutil.which("espeak-ng") is None:
        return skipped(NAME, TITLE, "espeak-ng is not installed (make test installs it)")
    work = VAR / NAME
    inbox = corpus(work)
    from bench.corpus import audio_seconds

    seconds = audio_seconds(sorted(inbox.glob("*/*.wav")))
    off = _check(work / "runs", inbox, on=False)
    on = _check(work / "runs", inbox, on=True)
    sens = sensitivity(inbox)
    per_core = sens["content_audio_s_per_cpu_s"]
    assert isinstance(per_core, float)
    return Result(
        name=NAME,
        title=TITLE,
        metric="content checks: audio seconds per CPU-second on one core",
        ours=per_core,
        anchor=None,
        anchor_name="",
        ratio=per_core,
        target=f">= {TARGET_X:g}x real time per core",
        passed=per_core >= TARGET_X,
        details={
            "audio_seconds": round(seconds, 1),
            "check_without_content_audio_s_per_s": round(seconds / off, 1),
            "check_with_content_audio_s_per_s": round(seconds / on, 1),
            **sens,
        },
    )


def main() -> None:
    import json

    print(json.dumps(run().as_json(), indent=2))


if __name__ == "__main__":
    main()
