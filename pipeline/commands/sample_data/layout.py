"""One sample voice folder on disk: its clips, transcripts, voice.toml and papers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from pipeline.commands.sample_data.defects import _AUDIO_DEFECTS, _write_bad_clip
from pipeline.commands.sample_data.formats import (
    _OTHER_FORMAT_P,
    Signal,
    _pick_format,
    _wav_bytes,
)
from pipeline.commands.sample_data.plan import PROFILES, _Plan, _rng_for
from pipeline.commands.sample_data.spoken import SENTENCE_S, _Espeak, voice_for
from pipeline.commands.sample_data.synth import _Synth
from pipeline.commands.sample_data.text import _sentences, _write_transcripts


def _pdf_bytes(title: str) -> bytes:
    """A one-page PDF with a line of text; offsets in the xref table are computed, not guessed."""
    safe = title.encode("ascii", "replace").replace(b"\\", b"\\\\")
    safe = safe.replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 14 Tf 72 720 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _toml(values: Mapping[str, str]) -> str:
    # JSON string escapes are valid TOML basic-string escapes.
    return "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items())


_TAGS: Final = ("EDUCATION", "ECOMMERCE", "NEWS", "CUSTOMER", "LIVE", "MARKETING", "STORYTELLING")
_ADJECTIVES: Final = ("Warm", "Bright", "Calm", "Clear", "Gentle", "Lively", "Steady", "Soft")
_ROLES: Final = ("narrator", "host", "teacher", "guide", "assistant", "presenter")
_TALENTS_EN: Final = ("Alex Morgan", "Jamie Chen", "Sam Rivera", "Taylor Brooks", "Jordan Lee")
_TALENTS_CN: Final = ("王小明", "李华", "张静", "陈晨", "刘洋")


def _consent_text(language: str, talent: str, company: str) -> str:
    """The Azure consent statement for the voice's locale (reference §5.4)."""
    if language == "CN":
        return f"我{talent}知悉，{company}将使用我的声音录音来创建和使用我声音的合成版本。"
    return (
        f"I {talent} am aware that recordings of my voice will be used by {company} "
        "to create and use a synthetic version of my voice."
    )


def _write_voice(
    root: Path,
    plan: _Plan,
    profile_name: str,
    synth: _Synth,
    *,
    seed: int,
    snr_db: float,
    speaker: _Espeak | None = None,
) -> None:
    profile = PROFILES[profile_name]
    folder = root / plan.key
    folder.mkdir(parents=True)
    rng = _rng_for(seed, plan.key + "/audio")
    defect = plan.defect

    # Recording plan: how many clips and how long each speech span is.
    lo, hi = profile.speech_s
    if profile.huawei:
        count = profile.clips - (1 if defect == "clip-count" else 0)
        spans = [float(s) for s in rng.uniform(lo, hi, size=count)]
    else:
        count = int(rng.integers(2, profile.clips + 1))
        if defect == "total-too-long":
            count, spans = 4, [24.0] * 4  # 96 s of speech: over Azure's 90 s even after trimming
        else:
            # 15–40 s in total (16–36 s of speech), at least 5.5 s per clip.
            total = rng.uniform(max(16.0, lo * count), min(36.0, hi * count))
            weights = rng.uniform(0.85, 1.15, size=count)
            spans = [float(s) for s in total * weights / weights.sum()]
    bad = min(2, count - 1)  # the clip that carries an audio defect
    if defect == "too-long":
        spans[bad] = 16.0  # Huawei: never longer than 15 s

    # What each clip says: as many sentences as fit its length (from a stream of their own).
    sentence_s = SENTENCE_S["CN" if plan.language == "CN" else "EN"]
    groups = [max(1, round(span / sentence_s)) for span in spans]
    pool = _sentences(_rng_for(seed, plan.key + "/text"), plan.language, sum(groups) + 1)
    joiner = "" if plan.language == "CN" else " "
    said = [pool[sum(groups[:i]) : sum(groups[: i + 1])] for i in range(count)]
    texts = [joiner.join(group) for group in said]
    voice = voice_for(plan.language, plan.style, plan.sex == "FEMALE")

    def say(text: list[str], seconds: float) -> Callable[[int], tuple[Signal, Signal] | None]:
        def at(rate: int) -> tuple[Signal, Signal] | None:
            if speaker is None:
                return None
            return speaker.speech(text, voice, plan.style, rate, seconds)

        return at

    ext = ".WAV" if plan.tricky == "uppercase-ext" else ".wav"
    stems = [f"{i + 1:04d}" for i in range(count)]
    for i, (stem, span) in enumerate(zip(stems, spans, strict=True)):
        fmt = plan.base if rng.random() >= _OTHER_FORMAT_P else _pick_format(rng, base=False)
        peak = rng.uniform(-8.0, -3.5)
        path = folder / f"{stem}{ext}"
        if i == bad and defect in _AUDIO_DEFECTS:
            _write_bad_clip(
                path, defect, rng, plan, synth, span, snr_db=snr_db, say=say(said[i], span)
            )
            continue
        spoken = say(said[i], span)(fmt.rate)
        audio = synth.clip(rng, plan.style, fmt, span, snr_db=snr_db, peak_dbfs=peak, spoken=spoken)
        path.write_bytes(_wav_bytes(audio, fmt.rate, fmt.subtype))

    # Huawei voices come with the script they read (advance does not upload it, but keeps it);
    # Azure prompts need none.
    if profile.huawei:
        entries = list(zip(stems, texts, strict=True))
        if defect == "missing-transcript":
            del entries[bad]
        if defect == "orphan-transcript":
            entries.append((f"{count + 1:04d}", pool[-1]))
        # Stems sometimes carry the .wav suffix in list files, as exported by many tools.
        if plan.form != "txt" and rng.random() < 0.3:
            entries = [(f"{stem}.wav", text) for stem, text in entries]
        _write_transcripts(
            folder,
            entries,
            form=plan.form,
            encoding=plan.encoding,
            language=plan.language,
            eol=plan.eol,
            third_column=plan.third_column,
        )

    adjective = _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))]
    role = _ROLES[int(rng.integers(len(_ROLES)))]
    # Unique per voice because it ends with the folder key (Huawei looks jobs up by voice_name).
    voice_name = f"{adjective} {plan.sex.lower()} {role} {plan.key}"
    meta: dict[str, str] = {"voice_name": voice_name}
    if profile.huawei:
        meta |= {
            "sex": plan.sex,
            "language": plan.language,
            "tag": _TAGS[int(rng.integers(len(_TAGS)))],
            "description": (
                f"示例声音 {plan.key}（合成音频）"
                if plan.language == "CN"
                else f"Sample voice {plan.key} (synthetic audio)"
            ),
        }
        if defect != "missing-authorization":
            (folder / "authorization.pdf").write_bytes(
                _pdf_bytes(f"Authorization letter (sample) for {plan.key}: {voice_name}")
            )
    else:
        talents = _TALENTS_CN if plan.language == "CN" else _TALENTS_EN
        if defect != "missing-talent":
            meta |= {
                "talent_name": talents[int(rng.integers(len(talents)))],
                "company_name": "Contoso 示例公司" if plan.language == "CN" else "Contoso Samples",
            }
        meta["locale"] = "zh-CN" if plan.language == "CN" else "en-US"
        if defect != "missing-consent":
            seconds = rng.uniform(5.0, 7.2)
            statement = _consent_text(
                plan.language, meta.get("talent_name", ""), meta.get("company_name", "")
            )
            consent = synth.clip(
                rng,
                plan.style,
                plan.base,
                seconds,
                snr_db=snr_db,
                peak_dbfs=-6.0,
                spoken=say([statement], seconds)(plan.base.rate),
            )
            (folder / "consent.wav").write_bytes(
                _wav_bytes(consent, plan.base.rate, plan.base.subtype)
            )
    (folder / "voice.toml").write_text(_toml(meta), encoding="utf-8")
