"""The content audit a commit triggers (what SYSTEM_AUDITING checks), run at commit time.

Blocking file I/O: callers run these functions in a worker thread. WAVs are parsed with the
stdlib ``wave`` module (PCM only, which is what the service asks for), never with soundfile:
the emulator must not share the pipeline's audio reader, or it would approve what our own
reader approves instead of checking the wire format.

Error codes (``error_code`` of ``system_audit_result.errors[]``):

- ``MSS.20020011`` (documented: audio format wrong): a WAV that does not parse, is empty, is
  longer than 15 s (BASIC/MIDDLE), or a long recording outside the tenant's duration limits;
- ``MSS.20020012`` (documented: files do not match the task): missing, extra or misnamed zip
  members, a missing/empty/non-UTF-8 transcript, an unconfirmed SEGMENT sentence;
- ``MSS.20020013`` (the emulator's pick for the undocumented "authorization letter" neighbour
  code): the letter is missing or is not the PDF/JPEG/PNG its Content-Type says.

``audio_name``/``text_name`` name the sentence's files (``3.wav``/``3.txt``); for the long
recording they are the WAV's member name and ""; for the letter ``authorization_letter`` and "".
"""

from __future__ import annotations

import wave
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Final

from pipeline.emulator.huawei.model import SENTENCES, AuditError, DurationLimits, JobType

AUDIO_FORMAT: Final = "MSS.20020011"
FILES_MISMATCH: Final = "MSS.20020012"
LETTER_PROBLEM: Final = "MSS.20020013"
MAX_CLIP_S: Final = 15.0
LETTER_NAME: Final = "authorization_letter"
#: Acceptable authorization-letter Content-Types and the bytes each such file starts with.
LETTER_MAGIC: Final[Mapping[str, bytes]] = {
    "application/pdf": b"%PDF",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}


class _BadAudio(Exception):
    """A WAV that does not parse."""


def wav_duration(stream: IO[bytes]) -> float:
    """Seconds of PCM audio in a WAV stream; ``_BadAudio`` when it is not a usable WAV."""
    try:
        with wave.open(stream, "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
    except (wave.Error, EOFError, ValueError) as exc:
        raise _BadAudio(str(exc) or "not a WAV file") from exc
    if rate <= 0 or frames <= 0:
        raise _BadAudio("no audio frames")
    return frames / rate


def _text_problem(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "the transcript is not UTF-8"
    return None if text.strip() else "the transcript is empty"


def _sentence_errors(index: int, wav: IO[bytes] | None, text: bytes | None) -> list[AuditError]:
    audio_name, text_name = f"{index}.wav", f"{index}.txt"
    errors: list[AuditError] = []

    def add(code: str, message: str) -> None:
        errors.append(
            AuditError(
                audio_name=audio_name, text_name=text_name, error_code=code, error_message=message
            )
        )

    if wav is None:
        add(FILES_MISMATCH, f"{audio_name} is missing")
    else:
        try:
            seconds = wav_duration(wav)
        except _BadAudio as exc:
            add(AUDIO_FORMAT, f"{audio_name} is not a readable PCM WAV file: {exc}")
        else:
            if seconds > MAX_CLIP_S:
                add(AUDIO_FORMAT, f"{audio_name} is {seconds:.2f} s long; at most 15 s allowed")
    if text is None:
        add(FILES_MISMATCH, f"{text_name} is missing")
    else:
        problem = _text_problem(text)
        if problem:
            add(FILES_MISMATCH, f"{text_name}: {problem}")
    return errors


def audit_package(
    job_type: JobType, package: Path | None, limits: DurationLimits
) -> list[AuditError]:
    """Check the training-data zip of a PACKAGE job."""
    if package is None:
        return [_package_error("training_data.zip", "the training data zip was not uploaded")]
    try:
        with zipfile.ZipFile(package) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            if job_type in SENTENCES:
                return _audit_sentences_zip(archive, names, SENTENCES[job_type])
            return _audit_long_zip(archive, names, job_type, limits)
    except (zipfile.BadZipFile, OSError) as exc:
        return [_package_error("training_data.zip", f"not a readable zip file: {exc}")]


def _package_error(name: str, message: str) -> AuditError:
    return AuditError(
        audio_name=name, text_name="", error_code=FILES_MISMATCH, error_message=message
    )


def _audit_sentences_zip(
    archive: zipfile.ZipFile, names: list[str], count: int
) -> list[AuditError]:
    expected = {f"{i}.{ext}" for i in range(count) for ext in ("wav", "txt")}
    present = set(names)
    errors = [
        _package_error(
            name,
            f"unexpected file {name}: the zip must hold exactly 0.wav … {count - 1}.wav and "
            f"0.txt … {count - 1}.txt at its root",
        )
        for name in sorted(present - expected)
    ]
    for index in range(count):
        wav_name, txt_name = f"{index}.wav", f"{index}.txt"
        text = archive.read(txt_name) if txt_name in present else None
        if wav_name in present:
            with archive.open(wav_name) as wav:
                errors.extend(_sentence_errors(index, wav, text))
        else:
            errors.extend(_sentence_errors(index, None, text))
    return errors


def _audit_long_zip(
    archive: zipfile.ZipFile, names: list[str], job_type: JobType, limits: DurationLimits
) -> list[AuditError]:
    wavs = [name for name in names if name.lower().endswith(".wav")]
    if len(wavs) != 1:
        return [
            _package_error(
                "training_data.zip",
                f"the zip must hold exactly one .wav recording, it holds {len(wavs)}",
            )
        ]
    name = wavs[0]
    try:
        with archive.open(name) as wav:
            seconds = wav_duration(wav)
    except _BadAudio as exc:
        return [_long_error(name, f"{name} is not a readable PCM WAV file: {exc}")]
    bounds = limits.long_recording_bounds(job_type)
    if bounds is not None and not bounds[0] <= seconds <= bounds[1]:
        return [
            _long_error(
                name,
                f"{name} is {seconds:.1f} s long; this tenant accepts {bounds[0]}–{bounds[1]} s",
            )
        ]
    return []


def _long_error(name: str, message: str) -> AuditError:
    return AuditError(audio_name=name, text_name="", error_code=AUDIO_FORMAT, error_message=message)


def audit_segments(
    count: int, confirmed: frozenset[int], files: Mapping[int, tuple[Path | None, Path | None]]
) -> list[AuditError]:
    """Check a SEGMENT job: every sentence 0..count-1 confirmed, and its files sound."""
    errors: list[AuditError] = []
    for index in range(count):
        if index not in confirmed:
            errors.append(
                AuditError(
                    audio_name=f"{index}.wav",
                    text_name=f"{index}.txt",
                    error_code=FILES_MISMATCH,
                    error_message=f"sentence {index} was not confirmed",
                )
            )
        wav_path, txt_path = files.get(index, (None, None))
        errors.extend(segment_errors(index, wav_path, txt_path))
    return errors


def segment_errors(index: int, wav_path: Path | None, txt_path: Path | None) -> list[AuditError]:
    """What is wrong with one uploaded sentence (also what confirm-segment checks)."""
    text = txt_path.read_bytes() if txt_path is not None else None
    if wav_path is None:
        return _sentence_errors(index, None, text)
    with wav_path.open("rb") as wav:
        return _sentence_errors(index, wav, text)


def audit_letter(letter: tuple[Path, str] | None) -> list[AuditError]:
    """Check the authorization letter: (path, Content-Type it was uploaded with) or None."""
    if letter is None:
        return [_letter_error("the authorization letter was not uploaded")]
    path, content_type = letter
    magic = LETTER_MAGIC.get(content_type, b"")
    with path.open("rb") as handle:
        head = handle.read(len(magic))
    if not magic or head != magic:
        return [_letter_error(f"the authorization letter is not a readable {content_type} file")]
    return []


def _letter_error(message: str) -> AuditError:
    return AuditError(
        audio_name=LETTER_NAME, text_name="", error_code=LETTER_PROBLEM, error_message=message
    )


def forced_error(job_type: JobType) -> AuditError:
    """The finding an ``--outcome …=AUDIT_FAILED`` adds when the content itself passed."""
    audio_name, text_name = ("0.wav", "0.txt") if job_type in SENTENCES else ("recording.wav", "")
    return AuditError(
        audio_name=audio_name,
        text_name=text_name,
        error_code=AUDIO_FORMAT,
        error_message="the recording does not meet the quality requirements (forced outcome)",
    )
