"""The content pre-flight on real speech (espeak-ng): every defect found on its file, no
healthy clip or voice rejected, the healthy voices then sent end to end on the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pocketsphinx
import soundfile as sf

from pipeline.commands.sample_data.harvard import HARVARD
from tests.espeak import SENTENCES, write_speech

#: Huawei basic: 20 short sentences a voice (espeak-ng's take 2-4 s, so the clip minimum is
#: lowered; the emulator's audit counts the 20).
HUAWEI_JOB = (
    'kind = "huawei-metastudio"\nendpoint = "emulator"\nedition = "basic"\n'
    'project_id = "p1"\n\n[audio]\nmin_clip_s = 2.0\n\n[content]\ncheck = true\n'
)
AZURE_JOB = (
    'kind = "azure-personal-voice"\nendpoint = "emulator"\nproject = "onboarding"\n\n'
    "[content]\ncheck = true\n"
)
STATEMENT = (
    "I {talent} am aware that recordings of my voice will be used by {company} "
    "to create and use a synthetic version of my voice."
)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pipeline ARGS`` as cron runs it (no terminal: JSON log lines)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=300,
        check=False,
    )


def _manifest(state: Path, command: str = "check") -> dict[str, dict[str, object]]:
    latest = (
        state / "manifests" / ("t-check-latest.json" if command == "check" else "t-latest.json")
    )
    data = json.loads(latest.read_text(encoding="utf-8"))
    return {v["voice"]: v for v in data["voices"]}


def _findings(voice: dict[str, object], code: str) -> list[dict[str, str]]:
    found = voice["findings"]
    assert isinstance(found, list)
    return [f for f in found if f["code"] == code]


def _huawei_voice(inbox: Path, key: str, voice: str, texts: list[str], spoken: list[str]) -> None:
    folder = inbox / key
    folder.mkdir(parents=True)
    (folder / "voice.toml").write_text(
        f'voice_name = "voice {key}"\nsex = "FEMALE"\nlanguage = "EN"\n', encoding="utf-8"
    )
    (folder / "authorization.pdf").write_bytes(b"%PDF-1.4\n% test letter\n%%EOF\n")
    for n, text in enumerate(spoken, start=1):
        write_speech(folder / f"{n:04d}.wav", text, voice=voice)
    for n, text in enumerate(texts, start=1):
        (folder / f"{n:04d}.txt").write_text(text + "\n", encoding="utf-8")


def _azure_voice(inbox: Path, key: str, voice: str, consent_text: str) -> None:
    folder = inbox / key
    folder.mkdir(parents=True)
    (folder / "voice.toml").write_text(
        f'voice_name = "voice {key}"\ntalent_name = "Alice Walker"\n'
        'company_name = "Contoso"\nlocale = "en-US"\n',
        encoding="utf-8",
    )
    write_speech(folder / "prompt1.wav", " ".join(SENTENCES[:2]), voice=voice)
    write_speech(folder / "consent.wav", consent_text, voice=voice)


def test_huawei_defects_are_found_on_their_files(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """Swapped transcripts, another sentence, metadata.csv shifted by one and a noise clip
    each get their finding on the right file; the healthy voices have no error and are then
    succeed on the emulator; a re-run recognizes nothing (all from the cache)."""
    inbox = tmp_path / "inbox"
    s = list(HARVARD)
    _huawei_voice(inbox, "ok-us", "en-us", s, s)
    _huawei_voice(inbox, "ok-gb", "en-gb+m3", s, s)
    _huawei_voice(inbox, "swap", "en-us+f3", [s[1], s[0], *s[2:]], s)
    _huawei_voice(inbox, "other", "en-gb", [*s[:2], SENTENCES[1], *s[3:]], s)
    shifted = inbox / "shift"
    _huawei_voice(inbox, "shift", "en-us", [], s)
    (shifted / "metadata.csv").write_text(
        "".join(f"{n:04d}|{s[n % 20]}\n" for n in range(1, 21)), encoding="utf-8"
    )
    _huawei_voice(inbox, "noise", "en-us", s, s)
    rng = np.random.default_rng(1)
    sf.write(inbox / "noise" / "0002.wav", rng.normal(0, 0.1, 48000 * 4), 48000)
    job = write_job(provider=HUAWEI_JOB)

    checked = cli("check", str(job))
    assert checked.returncode == 1, checked.stderr[-2000:]
    first = [json.loads(line) for line in checked.stderr.splitlines() if '"content.heard"' in line]
    assert sum(e["recognized"] for e in first) >= 6 * 20
    voices = _manifest(tmp_path / "var")
    for key in ("ok-us", "ok-gb"):
        errors = [f for f in voices[key]["findings"] if f["severity"] == "error"]  # type: ignore[attr-defined]
        assert errors == [], errors
        assert voices[key]["status"] == "ready"
    swap = _findings(voices["swap"], "transcript.mismatch")
    assert {f["file"] for f in swap} == {"swap/0001.wav", "swap/0002.wav"}
    assert all(f["severity"] == "error" for f in swap)
    assert "swap/0002.wav" in next(f for f in swap if f["file"] == "swap/0001.wav")["message"]
    other = _findings(voices["other"], "transcript.mismatch")
    # A healthy clip may get a warning (a doubt), never an error.
    assert [f["file"] for f in other if f["severity"] == "error"] == ["other/0003.wav"]
    assert 'heard: "' in other[-1]["message"]
    shift = _findings(voices["shift"], "transcript.mismatch")
    assert {f["file"] for f in shift if f["severity"] == "error"} >= {
        f"shift/{n:04d}.wav" for n in range(2, 21)
    }
    # Each line holds the next clip's text, so clip 0002 says what the file gives 0001.
    assert "shift/0001.wav" in next(f for f in shift if f["file"] == "shift/0002.wav")["message"]
    noise = [f for f in voices["noise"]["findings"] if f["file"] == "noise/0002.wav"]  # type: ignore[attr-defined]
    # The VAD half's finding; white noise also trips the energy check (audio.silent) first.
    assert any(f["code"] in ("audio.no_speech", "audio.silent") for f in noise), noise
    assert not any(f["code"] == "transcript.mismatch" for f in noise), noise  # said once
    for key in ("swap", "other", "shift", "noise"):
        assert voices[key]["status"] == "rejected"
    page = (tmp_path / "var" / "manifests" / "t-check-latest.html").read_text(encoding="utf-8")
    heard = page[page.index('<section id="heard">') :]
    heard = heard[: heard.index("</section>")]
    row = heard[heard.index("swap/0001.wav") :]
    row = row[: row.index("</tr>")]
    # What was written beside what was heard, for every mismatch (none grouped away).
    assert f'<td class="written">{s[1]}' in row
    assert '<td class="heard">' in row
    assert heard.count("<tr class=") == sum(
        len(_findings(v, "transcript.mismatch")) for v in voices.values()
    )

    again = cli("check", str(job))
    assert again.returncode == 1
    events = [json.loads(line) for line in again.stderr.splitlines() if '"content.heard"' in line]
    assert events, again.stderr[-2000:]
    assert sum(e["recognized"] for e in events) == 0
    assert sum(e["cached"] for e in events) > 0

    ran = cli("run", str(job))
    assert ran.returncode == 1, ran.stderr[-2000:]
    voices = _manifest(tmp_path / "var", "run")
    assert voices["ok-us"]["status"] == "succeeded"
    assert voices["ok-gb"]["status"] == "succeeded"


def test_azure_consent_defects(tmp_path: Path, write_job: Callable[..., Path]) -> None:
    """A consent naming another company and a prompt filed as consent are consent.mismatch
    errors; the healthy voice's consent passes and it succeeds on the emulator; a transcript
    Azure does not use is heard, and a mismatch there is only a warning."""
    inbox = tmp_path / "inbox"
    _azure_voice(inbox, "ok", "en-us", STATEMENT.format(talent="Alice Walker", company="Contoso"))
    _azure_voice(
        inbox, "company", "en-gb", STATEMENT.format(talent="Alice Walker", company="Fabrikam")
    )
    _azure_voice(inbox, "prompt", "en-us+f3", SENTENCES[2])
    # Azure takes no transcripts: one that does not match is heard, but only a warning.
    _azure_voice(
        inbox, "texted", "en-us", STATEMENT.format(talent="Alice Walker", company="Contoso")
    )
    (inbox / "texted" / "prompt1.txt").write_text(SENTENCES[4] + "\n", encoding="utf-8")
    job = write_job(provider=AZURE_JOB)
    ran = cli("run", str(job))
    assert ran.returncode == 1, ran.stderr[-2000:]
    voices = _manifest(tmp_path / "var", "run")
    assert voices["ok"]["status"] == "succeeded"
    for key in ("company", "prompt"):
        (finding,) = _findings(voices[key], "consent.mismatch")
        assert finding["file"] == f"{key}/consent.wav"
        assert finding["severity"] == "error"
        assert voices[key]["status"] == "rejected"
    (warned,) = _findings(voices["texted"], "transcript.mismatch")
    assert (warned["file"], warned["severity"]) == ("texted/prompt1.wav", "warning")
    assert voices["texted"]["status"] == "succeeded"
    assert _findings(voices["ok"], "transcript.mismatch") == []


def test_chinese_voices_get_one_not_checked_each(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """A Chinese Huawei batch: one content.not_checked info per voice, statuses unchanged."""
    proc = cli("sample-data", str(tmp_path / "inbox"), "--voices", "3", "--profile", "huawei-basic")
    assert proc.returncode == 0, proc.stderr
    job = write_job(provider=HUAWEI_JOB.split("\n\n[audio]")[0], extra="[content]\ncheck = true\n")
    off = write_job(
        provider=HUAWEI_JOB.split("\n\n[audio]")[0],
        name="off.toml",
        batch="off",
        extra="[content]\ncheck = false\n",
    )
    checked = cli("check", str(job))
    assert checked.returncode in (0, 1), checked.stderr[-2000:]
    unheard = cli("check", str(off))
    voices = _manifest(tmp_path / "var")
    latest = tmp_path / "var" / "manifests" / "off-check-latest.json"
    before = {v["voice"]: v["status"] for v in json.loads(latest.read_text())["voices"]}
    chinese = 0
    for key, voice in voices.items():
        toml = (tmp_path / "inbox" / key / "voice.toml").read_text(encoding="utf-8")
        notes = _findings(voice, "content.not_checked")
        if 'language = "CN"' in toml:
            chinese += 1
            assert [f["severity"] for f in notes] == ["info"]
        assert voice["status"] == before[key]
    assert chinese > 0
    assert unheard.returncode == checked.returncode


def test_model_folder_loads_and_a_bad_one_is_exit_2(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """The wheel's en-US model given as a folder loads; a folder without a model, one
    pocketsphinx cannot load, or a [content] value of the wrong type is one line, exit 2,
    naming the key."""
    wheel = Path(pocketsphinx.get_model_path()) / "en-us"
    good = write_job(extra=f'[content]\nmodels = {{"en-US" = "{wheel}"}}\n', name="good.toml")
    assert cli("check", str(good)).returncode == 0
    (tmp_path / "empty").mkdir()
    bad = write_job(extra='[content]\nmodels = {"zh-CN" = "empty"}\n', name="bad.toml")
    proc = cli("check", str(bad))
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert 'content.models."zh-CN"' in lines[0]
    assert "acoustic model" in lines[0]
    for extra, needle in (
        ("[content]\nmodels = 3\n", "content.models"),
        ('[content]\ncheck = "yes"\n', "content.check"),
    ):
        proc = cli("check", str(write_job(extra=extra, name="typo.toml")))
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, proc.stderr
        assert needle in lines[0]
    # pocketsphinx exits the process on a bad mdef: still our one line and exit 2.
    broken = tmp_path / "broken"
    (broken / "am").mkdir(parents=True)
    (broken / "am" / "mdef").write_text("not a model\n", encoding="utf-8")
    (broken / "x.dict").write_text("hello HH AH L OW\n", encoding="utf-8")
    (broken / "x.lm.bin").write_bytes(b"junk")
    job = write_job(extra='[content]\nmodels = {"zh-CN" = "broken"}\n', name="broken.toml")
    proc = cli("check", str(job))
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert 'content.models."zh-CN"' in lines[0]
    assert "cannot load" in lines[0]


def test_a_changed_transcript_is_heard_again_and_nothing_else(
    tmp_path: Path, write_job: Callable[..., Path]
) -> None:
    """The content cache is keyed by audio and text: after one transcript changes, a re-run
    recognizes that clip's text only (counted in the log, not timed)."""
    inbox = tmp_path / "inbox"
    _azure_voice(inbox, "ok", "en-us", STATEMENT.format(talent="Alice Walker", company="Contoso"))
    write_speech(inbox / "ok" / "prompt2.wav", SENTENCES[3], voice="en-us")
    (inbox / "ok" / "prompt1.txt").write_text(" ".join(SENTENCES[:2]) + "\n", encoding="utf-8")
    (inbox / "ok" / "prompt2.txt").write_text(SENTENCES[3] + "\n", encoding="utf-8")
    job = write_job(provider=AZURE_JOB)

    def recognized() -> int:
        proc = cli("check", str(job))
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = [json.loads(x) for x in proc.stderr.splitlines() if '"content.heard"' in x]
        return int(sum(e["recognized"] for e in lines))

    assert recognized() == 3  # two prompts and the consent
    assert recognized() == 0
    (inbox / "ok" / "prompt2.txt").write_text(SENTENCES[3].upper() + "\n", encoding="utf-8")
    assert recognized() == 1
