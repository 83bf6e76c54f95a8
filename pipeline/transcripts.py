"""Transcripts of one voice folder: reading, decoding, cleaning and pairing with the recordings.

Three forms are read (DESIGN §3.1), and a folder may mix them:

- ``<stem>.txt`` beside each clip (the whole file is the text; line breaks become spaces);
- ``transcripts.tsv``: ``<stem>\\t<text>`` per line (exactly two columns, as Azure wants);
- ``metadata.csv``, LJSpeech style: ``<stem>|<text>[|<normalized text>]``. Column 2 is used, never
  column 3: column 2 is the script the speaker read, while column 3 is whatever a TTS front end
  made of it (numbers spelled out, but in many Chinese sets pinyin or phonemes), and Huawei wants
  the text exactly as recorded.

Stems may carry a ``.wav`` suffix (any case). Blank lines are skipped, and so is a first line that
looks like a header (``id``, ``name``, ``file`` …) when no recording has that stem.

Decoding (:func:`decode_text`): a byte-order mark decides (UTF-8, UTF-16 LE/BE, and UTF-32 LE/BE
since it costs nothing); without one, UTF-8 is tried strictly, then GB18030 (a superset of GBK).
ASCII-heavy UTF-16 without a BOM is recognised by its NUL bytes. Text holding U+0000 after
decoding is a binary file, not a transcript.

Cleaning (:func:`clean_text`): control characters are removed (or turned into a space where they
separate words: form feed, vertical tab, NEL, the C0 separators), as are invisible format
characters that only confuse aligners (BOM/ZWNBSP, zero-width space, bidi controls); runs of
whitespace collapse to one space; the text is stripped and put in Unicode NFC.

:func:`read_transcripts` never raises for bad input: every problem becomes a finding, and
``TranscriptSet.by_stem`` holds only transcripts that pair with a recording. Hostile folders
stay cheap: files are read with ``pipeline.sanitize.read_small_file`` (symlinks are never
followed, FIFOs never block, at most :data:`MAX_FILE_BYTES`), names that cannot be shown are
skipped (discover refuses them), stems quoted in messages are cut short and made printable, and
one file yields at most :data:`MAX_FINDINGS_PER_SOURCE` line findings of each kind plus one
"… and N more" finding, so a 16 MB list of orphans cannot flood the manifest.
"""

from __future__ import annotations

import re
import stat
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pipeline.errors import InputError
from pipeline.records import Finding, Severity
from pipeline.sanitize import FileRefused, name_problem, read_small_file

__all__ = ["Transcript", "TranscriptSet", "clean_text", "decode_text", "read_transcripts"]

#: A transcript list for even a huge voice is well under this; bigger is not a transcript, and
#: reading it whole would only cost memory.
MAX_FILE_BYTES: Final = 16 * 1024 * 1024
#: Findings of one (severity, code) listed per transcript source before "… and N more".
MAX_FINDINGS_PER_SOURCE: Final = 20
#: Characters of a stem read from a file that a message quotes.
_STEM_SHOWN: Final = 60

_TSV: Final = "transcripts.tsv"
_CSV: Final = "metadata.csv"
#: The consent recording is never a clip; a consent.txt (the statement's text) is not an orphan.
_CONSENT_STEM: Final = "consent"
#: First-line stems that mark a header row rather than a clip.
_HEADER_STEMS: Final = frozenset(
    {"id", "name", "file", "filename", "file_name", "stem", "audio", "audio_file", "wav", "path"}
    | {"utt", "utt_id", "utterance", "utterance_id"}
)

# UTF-32 before UTF-16: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: Final = (
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32-LE"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32-BE"),
    (b"\xff\xfe", "utf-16-le", "UTF-16-LE"),
    (b"\xfe\xff", "utf-16-be", "UTF-16-BE"),
)

# Controls that separate words (str.isspace() is true for them) become a space; the rest are
# removed, so NULs interleaved by a mis-decoded file do not split words apart.
_SPACING_CONTROLS: Final = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_DROPPED: Final = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"  # C0/C1 controls other than \t \n \r and the above
    "\ufeff\u200b"  # BOM / zero-width no-break space, zero-width space
    "\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, embeddings, overrides, isolates
)


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


def decode_text(data: bytes, *, file: str) -> str:
    """Decode a transcript file's bytes; raise ``InputError(transcript.unreadable)`` if impossible."""
    text: str | None = None
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise InputError(
                    "transcript.unreadable",
                    file,
                    f"starts with a {label} byte-order mark but is not valid {label} "
                    f"(byte {exc.start + len(bom)})",
                ) from None
            break
    else:
        for guess in (_sniff_utf16(data), "utf-8", "gb18030"):
            if guess is None:
                continue
            try:
                text = data.decode(guess)
            except UnicodeDecodeError:
                continue
            break
    if text is None:
        raise InputError(
            "transcript.unreadable",
            file,
            "not UTF-8, UTF-16 with a byte-order mark or GB18030/GBK text",
        )
    if "\x00" in text:
        raise InputError("transcript.unreadable", file, "holds NUL characters: a binary file?")
    return text


def _sniff_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM, recognised by NULs in every other byte (ASCII-heavy text)."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    half = len(data) // 2
    # A real text file has no NUL bytes; in ASCII-range UTF-16 every other byte is one.
    if even == 0 and odd * 2 >= half:
        return "utf-16-le"
    if odd == 0 and even * 2 >= half:
        return "utf-16-be"
    return None


def clean_text(text: str) -> tuple[str, bool]:
    """NFC, control characters removed, whitespace collapsed; and whether controls were found."""
    spaced = _SPACING_CONTROLS.sub(" ", text)
    dropped = _DROPPED.sub("", spaced)
    had_controls = spaced != text or dropped != spaced
    # Controls go first: removing one between a letter and a combining mark lets NFC compose them.
    cleaned = unicodedata.normalize("NFC", " ".join(dropped.split()))
    return cleaned, had_controls


def read_transcripts(
    folder: Path, *, wav_stems: Sequence[str], rel: str, max_line_chars: int = 2000
) -> TranscriptSet:
    """Read every transcript in a voice folder and pair it with the recordings' stems."""
    reader = _Reader(folder, wav_stems=wav_stems, rel=rel, max_line_chars=max_line_chars)
    reader.run()
    return TranscriptSet(by_stem=dict(reader.by_stem), findings=tuple(reader.findings))


def _stem_of(name: str) -> str:
    name = name.strip()
    return name[:-4] if name.lower().endswith(".wav") else name


def _shown(stem: str) -> str:
    """A stem read from a file, safe to quote in a one-line message (no ESC, no newline)."""
    cut = stem if len(stem) <= _STEM_SHOWN else stem[:_STEM_SHOWN] + "…"
    return cut if name_problem(cut) is None else ascii(cut)[1:-1]


class _Reader:
    """One pass over a folder; collects transcripts and findings."""

    def __init__(
        self, folder: Path, *, wav_stems: Sequence[str], rel: str, max_line_chars: int
    ) -> None:
        self.folder = folder
        self.rel = rel
        self.max_line_chars = max_line_chars
        self.wavs: dict[str, None] = dict.fromkeys(s for s in wav_stems if s != _CONSENT_STEM)
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
        per_clip, lists = self.sources()
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
                        f"no transcript for {stem}.wav ({stem}.txt, {_TSV} or {_CSV})",
                    )

    def sources(self) -> tuple[list[Path], list[Path]]:
        try:
            entries = sorted(self.folder.iterdir(), key=lambda p: p.name)
        except OSError:
            return [], []  # an unreadable folder is discover's finding, not ours
        per_clip: list[Path] = []
        lists: list[Path] = []
        for path in entries:
            name = path.name.lower()
            if path.name.startswith("."):
                continue  # macOS ._0001.txt resource forks and editor files are not transcripts
            if name_problem(path.name) is not None:
                continue  # discover refuses the name; it could not be reported here anyway
            try:
                # discover refuses every symlink (with a finding); never read through one here,
                # not even one inside the folder: resolve() of a loop raises RuntimeError.
                st = path.lstat()
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # symlinks, folders, FIFOs, devices: discover's findings
            if name in (_TSV, _CSV):
                lists.append(path)
            elif name.endswith(".txt"):
                stem = _stem_of(path.name[:-4])
                if stem.lower() in ("authorization", _CONSENT_STEM):
                    continue
                per_clip.append(path)
        # Lists after per-clip files, tsv before csv: the order duplicates are judged in.
        lists.sort(key=lambda p: (p.name.lower() != _TSV, p.name))
        return per_clip, lists

    def load(self, path: Path) -> str | None:
        file = self.path_of(path.name)
        try:
            data = read_small_file(path, max_bytes=MAX_FILE_BYTES)
        except FileRefused as exc:
            self.add(Severity.ERROR, "transcript.unreadable", file, f"not read: {exc}")
            return None
        except OSError as exc:
            self.add(
                Severity.ERROR, "transcript.unreadable", file, f"cannot read: {exc.strerror or exc}"
            )
            return None
        try:
            return decode_text(data, file=file)
        except InputError as exc:
            self.add(Severity.ERROR, exc.code, file, exc.message)
            return None

    def read_per_clip(self, path: Path) -> None:
        stem = _stem_of(path.name[:-4])
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
        is_tsv = path.name.lower() == _TSV
        # Old Mac files end lines with a lone CR; only CR/LF split lines (not U+2028, NEL …).
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        first = True
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parsed = self.parse_line(line, is_tsv=is_tsv)
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
            if first and stem not in self.wavs and stem.lower() in _HEADER_STEMS:
                first = False
                continue  # a header row
            first = False
            where = f"line {number}: "
            if stem not in self.wavs:
                if stem != _CONSENT_STEM:
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

    @staticmethod
    def parse_line(line: str, *, is_tsv: bool) -> tuple[str, str] | str:
        """``(stem, text)``, or why the line does not parse."""
        if is_tsv:
            cols = line.split("\t")
            if len(cols) != 2:
                return f"expected '<stem><TAB><text>', found {len(cols)} tab-separated columns"
        else:
            cols = line.split("|")
            if not 2 <= len(cols) <= 3:
                return f"expected '<stem>|<text>[|<normalized text>]', found {len(cols)} columns"
        stem = _stem_of(cols[0])
        if not stem:
            return "the stem (first column) is empty"
        return stem, cols[1]

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
