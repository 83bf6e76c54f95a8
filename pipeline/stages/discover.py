"""discover: inbox folder → one ``VoiceSource`` per voice folder.

Reads names and ``voice.toml`` only; never opens audio. Refuses symlinks and anything that
leads outside the inbox (a finding, never a silent skip).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Final

from pipeline.errors import ConfigError
from pipeline.records import Finding, Severity, VoiceMeta, VoiceSource

_AUTH_EXTS: Final = (".pdf", ".jpg", ".jpeg", ".png")
_TRANSCRIPT_FILES: Final = ("transcripts.tsv", "metadata.csv")
_META_KEYS: Final = tuple(f.name for f in fields(VoiceMeta))
_ENUMS: Final = {"sex": ("FEMALE", "MALE"), "language": ("CN", "EN")}
_TAGS: Final = ("ECOMMERCE", "NEWS", "MARKETING", "LIVE", "EDUCATION", "CUSTOMER", "STORYTELLING")


def natural_key(name: str) -> tuple[object, ...]:
    """Sort "2.wav" before "10.wav"."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name))


def discover(inbox: Path) -> list[VoiceSource]:
    """Every voice folder of the inbox, sorted by key."""
    if not inbox.exists():
        raise ConfigError(f"{inbox}: inbox not found")
    if not inbox.is_dir():
        raise ConfigError(f"{inbox}: inbox is not a folder")
    root = inbox.resolve()
    voices: list[VoiceSource] = []
    for entry in sorted(inbox.iterdir(), key=lambda p: natural_key(p.name)):
        if entry.name.startswith("."):
            continue  # .DS_Store, .git and editors' files are not voices
        if entry.is_symlink():
            voices.append(_refused(entry, "the voice folder is a symlink"))
            continue
        if not entry.is_dir():
            continue  # loose files beside the voice folders (a README, a zip) are not voices
        voices.append(_voice(entry, root))
    return voices


def _refused(folder: Path, why: str) -> VoiceSource:
    return VoiceSource(
        key=folder.name,
        folder=folder,
        meta=None,
        wavs=(),
        transcript_files=(),
        authorization=None,
        consent=None,
        findings=(
            Finding(
                severity=Severity.ERROR, code="voice.unsafe_path", file=folder.name, message=why
            ),
        ),
    )


def _voice(folder: Path, root: Path) -> VoiceSource:
    key = folder.name
    findings: list[Finding] = []
    wavs: list[Path] = []
    transcripts: list[Path] = []
    authorization: Path | None = None
    consent: Path | None = None
    meta: VoiceMeta | None = None
    for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
        rel = f"{key}/{path.name}"
        name = path.name.lower()
        if path.name.startswith("."):
            continue
        if path.is_symlink() or not path.resolve().is_relative_to(root):
            findings.append(
                Finding(
                    severity=Severity.ERROR,
                    code="voice.unsafe_path",
                    file=rel,
                    message="symlinks are refused (they may lead outside the inbox)",
                )
            )
            continue
        if path.is_dir():
            findings.append(_unexpected(rel, "sub-folders are not read"))
        elif name == "voice.toml":
            meta, meta_findings = read_meta(path, rel)
            findings.extend(meta_findings)
        elif name == "consent.wav":
            consent = path
        elif name.endswith(".wav"):
            wavs.append(path)
        elif name.endswith(".txt") or name in _TRANSCRIPT_FILES:
            transcripts.append(path)
        elif name.startswith("authorization") and name.endswith(_AUTH_EXTS):
            authorization = path
        else:
            findings.append(_unexpected(rel, "not part of the inbox layout; not sent"))
    if not (folder / "voice.toml").exists():
        findings.append(
            Finding(
                severity=Severity.ERROR,
                code="voice.metadata_missing",
                file=f"{key}/voice.toml",
                message="voice.toml is missing (voice_name is required)",
            )
        )
    return VoiceSource(
        key=key,
        folder=folder,
        meta=meta,
        wavs=tuple(wavs),
        transcript_files=tuple(transcripts),
        authorization=authorization,
        consent=consent,
        findings=tuple(findings),
    )


def _unexpected(rel: str, why: str) -> Finding:
    return Finding(severity=Severity.WARNING, code="voice.unexpected_file", file=rel, message=why)


def read_meta(path: Path, rel: str) -> tuple[VoiceMeta | None, list[Finding]]:
    """Parse voice.toml; problems become ``voice.metadata_invalid`` errors naming the key."""

    def bad(message: str) -> tuple[None, list[Finding]]:
        return None, [
            Finding(
                severity=Severity.ERROR, code="voice.metadata_invalid", file=rel, message=message
            )
        ]

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        return bad("voice.toml is not UTF-8")
    except tomllib.TOMLDecodeError as exc:
        return bad(f"not valid TOML: {exc}")
    except OSError as exc:
        return bad(f"cannot read: {exc.strerror or exc}")
    for k in data:
        if k not in _META_KEYS:
            return bad(f"unknown key '{k}'")
    values: dict[str, str | None] = {}
    for k in _META_KEYS:
        v = data.get(k)
        if v is None:
            values[k] = None
            continue
        if not isinstance(v, str):
            return bad(f"{k} must be a string")
        v = v.strip()
        if k in _ENUMS and v not in _ENUMS[k]:
            return bad(f"{k} must be one of {', '.join(_ENUMS[k])} (got {v!r})")
        if k == "tag" and v not in _TAGS:
            return bad(f"tag must be one of {', '.join(_TAGS)} (got {v!r})")
        if len(v) > 256:
            return bad(f"{k} is longer than 256 characters")
        values[k] = v or None
    voice_name = values.pop("voice_name")
    if not voice_name:
        return bad("voice_name is required")
    return VoiceMeta(voice_name=voice_name, **values), []
