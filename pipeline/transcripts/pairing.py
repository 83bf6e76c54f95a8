"""Pairing a voice folder's transcripts with its recordings, every problem a finding.

:func:`read_transcripts` never raises for bad input: every problem becomes a finding, and
``TranscriptSet.by_stem`` holds only transcripts that pair with a recording. Blank lines of a
list file are skipped, and so is a first line that looks like a header (``id``, ``name``,
``file`` …) when no recording has that stem. Hostile folders stay cheap: stems quoted in
messages are cut short and made printable, and one file yields at most
:data:`MAX_FINDINGS_PER_SOURCE` line findings of each kind plus one "… and N more" finding, so
a 16 MB list of orphans cannot flood the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pipeline.errors import InputError
from pipeline.records import Finding, Severity
from pipeline.sanitize import name_problem
from pipeline.transcripts.clean import clean_text
from pipeline.transcripts.sources import (
    CONSENT_STEM,
    CSV,
    HEADER_STEMS,
    TSV,
    find_sources,
    parse_line,
    read_source,
    stem_of,
)

__all__ = ["MAX_FINDINGS_PER_SOURCE", "Transcript", "TranscriptSet", "read_transcripts"]

#: Findings of one (severity, code) listed per transcript source before "… and N more".
MAX_FINDINGS_PER_SOURCE: Final = 20
#: Characters of a stem read from a file that a message quotes.
_STEM_SHOWN: Final = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Transcript:
    """The text of one clip and where it came from."""

    stem: str  #: the recording's stem ("0001" for 0001.wav)
    text: str  #: cleaned: NFC, no control characters, single spaces, stripped
    source: str  #: inbox-relative path of the file the text came from


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptSet:
    """Every transcript of a voice folder that pairs with a recording, and what was wrong."""

    by_stem: Mapping[str, Transcript]  #: keyed by wav stem; orphans and empty texts are left out
    findings: tuple[Finding, ...]


def read_transcripts(
    folder: Path,
    *,
    wav_stems: Sequence[str],
    rel: str,
    max_line_chars: int = 2000,
    language: str | None = None,
    files: Sequence[Path] | None = None,
) -> TranscriptSet:
    """Read every transcript in a voice folder and pair it with the recordings' stems.

    ``language``: the voice's, from :func:`~pipeline.transcripts.transcript_language` (None:
    unknown), which decides how the files may be decoded (see
    :func:`~pipeline.transcripts.decode_text`). ``files``: read only these (the transcript
    files discover vetted: regular files, no symlinks, inside the inbox); None lists
    ``folder`` itself, skipping symlinks and anything not a regular file.
    """
    reader = _Reader(
        folder,
        wav_stems=wav_stems,
        rel=rel,
        max_line_chars=max_line_chars,
        language=language,
        files=files,
    )
    reader.run()
    return TranscriptSet(by_stem=dict(reader.by_stem), findings=tuple(reader.findings))


def _shown(stem: str) -> str:
    """A stem read from a file, safe to quote in a one-line message (no ESC, no newline)."""
    cut = stem if len(stem) <= _STEM_SHOWN else stem[:_STEM_SHOWN] + "…"
    return cut if name_problem(cut) is None else ascii(cut)[1:-1]


class _Reader:
    """One pass over a folder; collects transcripts and findings."""

    def __init__(
        self,
        folder: Path,
        *,
        wav_stems: Sequence[str],
        rel: str,
        max_line_chars: int,
        language: str | None,
        files: Sequence[Path] | None,
    ) -> None:
        self.folder = folder
        self.rel = rel
        self.max_line_chars = max_line_chars
        self.language = language
        self.files = files
        self.wavs: dict[str, None] = dict.fromkeys(s for s in wav_stems if s != CONSENT_STEM)
        self.by_stem: dict[str, Transcript] = {}
        self.findings: list[Finding] = []
        self.seen: set[str] = set()  # stems that had a transcript, even an empty or bad one
        self.list_unreadable = False
        # Per source (a list file, or all per-clip files together): findings listed so far
        # and those left out, by (severity, code).
        self.listed: dict[tuple[str, Severity, str], int] = {}
        self.left_out: dict[tuple[str, Severity, str], int] = {}

    def path_of(self, name: str) -> str:
        return f"{self.rel}/{name}" if self.rel else name

    def add(
        self, severity: Severity, code: str, file: str, message: str, *, source: str = ""
    ) -> None:
        """Record a finding; past the per-source budget only count it (see ``summarize``)."""
        if source:
            key = (source, severity, code)
            if self.listed.get(key, 0) >= MAX_FINDINGS_PER_SOURCE:
                self.left_out[key] = self.left_out.get(key, 0) + 1
                return
            self.listed[key] = self.listed.get(key, 0) + 1
        self.findings.append(Finding(severity=severity, code=code, file=file, message=message))

    def summarize(self) -> None:
        """One finding per (source, severity, code) whose findings were left out: an error
        left out still rejects the voice."""
        for (source, severity, code), count in self.left_out.items():
            self.add(
                severity,
                code,
                source,
                f"… and {count} more {code} findings in {source} (not listed)",
            )
        self.left_out.clear()

    def run(self) -> None:
        per_clip, lists = find_sources(self.folder, self.files)
        for path in per_clip:
            self.read_per_clip(path)
        for path in lists:
            self.read_list(path)
        self.summarize()
        # After an unreadable list file, every stem might have been in it: one error says it all.
        if not self.list_unreadable:
            for stem in self.wavs:
                if stem not in self.seen:
                    self.add(
                        Severity.ERROR,
                        "transcript.missing",
                        self.path_of(f"{stem}.wav"),
                        f"no transcript for {stem}.wav ({stem}.txt, {TSV} or {CSV})",
                    )

    def load(self, path: Path) -> str | None:
        file = self.path_of(path.name)
        try:
            return read_source(path, file=file, language=self.language)
        except InputError as exc:
            self.add(Severity.ERROR, exc.code, file, exc.message)
            return None

    def read_per_clip(self, path: Path) -> None:
        stem = stem_of(path.name[:-4])
        file = self.path_of(path.name)
        if stem not in self.wavs:
            # Not read: its content cannot matter when no recording uses it.
            self.add(
                Severity.WARNING,
                "transcript.orphan",
                file,
                f"no recording {_shown(stem)}.wav for this transcript",
                source=self.path_of("*.txt"),
            )
            return
        self.seen.add(stem)
        text = self.load(path)
        if text is not None:
            self.accept(stem, text, file, where="", source=self.path_of("*.txt"))

    def read_list(self, path: Path) -> None:
        file = self.path_of(path.name)
        text = self.load(path)
        if text is None:
            self.list_unreadable = True
            return
        is_tsv = path.name.lower() == TSV
        # Old Mac files end lines with a lone CR; only CR/LF split lines (not U+2028, NEL …).
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        first = True
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parsed = parse_line(line, is_tsv=is_tsv)
            if isinstance(parsed, str):
                self.add(
                    Severity.ERROR,
                    "transcript.malformed",
                    file,
                    f"line {number}: {parsed}",
                    source=file,
                )
                first = False
                continue
            stem, raw = parsed
            if first and stem not in self.wavs and stem.lower() in HEADER_STEMS:
                first = False
                continue  # a header row
            first = False
            where = f"line {number}: "
            if stem not in self.wavs:
                if stem != CONSENT_STEM:
                    self.add(
                        Severity.WARNING,
                        "transcript.orphan",
                        file,
                        f"{where}no recording {_shown(stem)}.wav for this transcript",
                        source=file,
                    )
                continue
            self.seen.add(stem)
            self.accept(stem, raw, file, where=where, source=file)

    def accept(self, stem: str, raw: str, file: str, *, where: str, source: str) -> None:
        text, had_controls = clean_text(raw)
        if had_controls:
            self.add(
                Severity.FIXED,
                "transcript.control_chars",
                file,
                f"{where}control characters removed from the transcript of {stem}.wav",
                source=source,
            )
        if not text:
            self.add(
                Severity.ERROR,
                "transcript.empty",
                file,
                f"{where}empty transcript for {stem}.wav",
                source=source,
            )
            return
        if len(text) > self.max_line_chars:
            self.add(
                Severity.ERROR,
                "transcript.too_long",
                file,
                f"{where}transcript of {stem}.wav has {len(text)} characters "
                f"(> {self.max_line_chars})",
                source=source,
            )
        earlier = self.by_stem.get(stem)
        if earlier is None:
            self.by_stem[stem] = Transcript(stem=stem, text=text, source=file)
            return
        # The first source wins; a repeat is harmless when it agrees, an error when it does not.
        if earlier.text == text:
            self.add(
                Severity.WARNING,
                "transcript.duplicate",
                file,
                f"{where}{stem}.wav already has the same transcript in {earlier.source}",
                source=source,
            )
        else:
            self.add(
                Severity.ERROR,
                "transcript.duplicate",
                file,
                f"{where}{stem}.wav already has a different transcript in {earlier.source}",
                source=source,
            )
