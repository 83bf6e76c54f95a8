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

Decoding (:func:`decode_text`) never guesses against the voice's language (``language``: the
primary subtag :func:`transcript_language` derives from voice.toml, passed in explicitly): a
byte-order mark decides (UTF-8, UTF-16 LE/BE, and UTF-32 LE/BE since it costs nothing); without
one, ASCII-heavy UTF-16 is recognised by its NUL bytes, then UTF-8 is tried strictly. Only when
that fails is GB18030 (a superset of GBK) tried, and only for a Chinese voice (``CN``, a ``zh``
locale), or for a voice of unknown language when the text then reads as Chinese (its non-ASCII
characters are predominantly common CJK ideographs and punctuation) — never for ``EN``: a
Latin-1 "Renée" is valid GBK too ("Ren閑"). Decoded text that holds what no transcript of the
voice can (U+0000: a binary file; C1 controls or U+FFFD: damage from an earlier conversion; CJK
in a voice of another language) is refused too. Every refusal is an ``InputError`` with code
``transcript.unreadable`` whose message names the byte offset of the first bad byte or
character and the fix.

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
from pipeline.records import Finding, Severity, VoiceMeta
from pipeline.sanitize import FileRefused, name_problem, read_small_file

__all__ = [
    "Transcript",
    "TranscriptSet",
    "clean_text",
    "decode_text",
    "read_transcripts",
    "transcript_language",
]

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

#: Huawei's voice.toml ``language`` values as primary language subtags.
_HUAWEI_LANGUAGES: Final = {"CN": "zh", "EN": "en"}
#: Voices whose transcripts may be GB18030/GBK: Chinese (Mandarin, Cantonese and Wu locales).
_GB_LANGUAGES: Final = frozenset({"zh", "cmn", "yue", "wuu"})
#: Voices whose transcripts may hold CJK characters (Japanese and Korean: UTF-8 only).
_CJK_LANGUAGES: Final = _GB_LANGUAGES | {"ja", "ko"}
#: Share of a GB18030 text's non-ASCII characters that must be common Chinese (GB2312 CJK) for
#: a voice of unknown language to be read as GBK.
_CHINESE_SHARE: Final = 0.8
#: Code point ranges of :func:`_is_cjk`. The ideographic space U+3000 is left out: it is
#: whitespace (cleaning makes it a space) and harmless in any language.
_CJK_RANGES: Final = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FFF),  # CJK and Kangxi radicals, ideographic description
    (0x3001, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x31FF),  # kana, bopomofo, Hangul compatibility jamo, kanbun, strokes
    (0x3200, 0x4DBF),  # enclosed CJK, compatibility, extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended-A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended-B
    (0xE000, 0xF8FF),  # private use (GBK's user-defined areas)
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF01, 0xFFEF),  # full-width and half-width forms
    (0x20000, 0x3FFFF),  # CJK extensions B–H, compatibility supplement
)
_CJK_CLASS: Final = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES)
#: What no transcript holds: NUL (a binary file), C1 controls and U+FFFD (text damaged by an
#: earlier conversion, e.g. Windows-1252 read as Latin-1); and, for a voice of a language
#: written without them, CJK characters too.
_NEVER: Final = re.compile("[\x00\x80-\x9f\ufffd]")
_NEVER_OR_CJK: Final = re.compile(f"[\x00\x80-\x9f\ufffd{_CJK_CLASS}]")

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


def transcript_language(meta: VoiceMeta | None) -> str | None:
    """The primary language subtag of a voice's transcripts, lower case, or None if unknown.

    Huawei's ``language`` (``CN`` → ``zh``, ``EN`` → ``en``) when voice.toml has one, else the
    Azure ``locale``'s first subtag (``zh-CN`` → ``zh``, ``en-US`` → ``en``).
    """
    if meta is None:
        return None
    if meta.language:
        return _HUAWEI_LANGUAGES.get(meta.language.upper(), meta.language.lower())
    if meta.locale:
        primary = meta.locale.replace("_", "-").split("-")[0].strip().lower()
        return primary or None
    return None


def decode_text(data: bytes, *, file: str, language: str | None = None) -> str:
    """Decode a transcript file's bytes for a voice of ``language`` (a primary subtag from
    :func:`transcript_language`; None when voice.toml does not say); raise
    ``InputError(transcript.unreadable)`` when that is impossible or the text cannot be the
    voice's."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                at = exc.start + len(bom)
                raise InputError(
                    "transcript.unreadable",
                    file,
                    f"starts with a {label} byte-order mark but is not {label} at byte {at}"
                    f"{_byte_shown(data, at)}; save it as UTF-8",
                ) from None
            _check_chars(text, codec, len(bom), file=file, language=language)
            return text
    sniffed = _sniff_utf16(data)
    if sniffed is not None:
        try:
            text = data.decode(sniffed)
        except UnicodeDecodeError:
            pass
        else:
            _check_chars(text, sniffed, 0, file=file, language=language)
            return text
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
    else:
        _check_chars(text, "utf-8", 0, file=file, language=language)
        return text
    not_utf8 = f"not UTF-8 at byte {bad}{_byte_shown(data, bad)}"
    chinese = language in _GB_LANGUAGES
    if chinese or language is None:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            if chinese:
                raise InputError(
                    "transcript.unreadable",
                    file,
                    f"{not_utf8}, and not GB18030/GBK at byte {exc.start}"
                    f"{_byte_shown(data, exc.start)}; save it as UTF-8",
                ) from None
        else:
            if chinese or _reads_as_chinese(text):
                _check_chars(text, "gb18030", 0, file=file, language=language)
                return text
    raise InputError("transcript.unreadable", file, f"{not_utf8}; save it as UTF-8")


def _byte_shown(data: bytes, at: int) -> str:
    return f" (0x{data[at]:02x})" if at < len(data) else " (the file ends mid-character)"


def _check_chars(text: str, codec: str, skip: int, *, file: str, language: str | None) -> None:
    """Refuse decoded text that no transcript of this voice can hold, naming the byte offset
    of the first such character (``skip``: the BOM's length)."""
    cjk_ok = language is None or language in _CJK_LANGUAGES
    match = (_NEVER if cjk_ok else _NEVER_OR_CJK).search(text)
    if match is None:
        return
    ch = match.group(0)
    code = ord(ch)
    at = skip + len(text[: match.start()].encode(codec, "surrogatepass"))
    if code == 0:
        why = f"holds a NUL character at byte {at}: a binary file, not a transcript"
    elif 0x80 <= code <= 0x9F:
        why = (
            f"holds the control character U+{code:04X} at byte {at} (text converted from "
            "another encoding the wrong way?); save it as UTF-8"
        )
    elif code == 0xFFFD:
        why = (
            f"holds U+FFFD at byte {at}, a character lost in an earlier conversion; fix the "
            "text and save it as UTF-8"
        )
    else:
        why = (
            f"holds {ch!r} (U+{code:04X}) at byte {at}, which a transcript in {language!r} "
            "cannot hold; save it as UTF-8, or fix the language in voice.toml"
        )
    raise InputError("transcript.unreadable", file, why)


def _is_cjk(code: int) -> bool:
    """CJK ideographs, kana, hangul, bopomofo, CJK and full-width punctuation and forms, and
    private-use characters (where GBK's user-defined areas land)."""
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def _reads_as_chinese(text: str) -> bool:
    """Whether text decoded as GB18030 is Chinese rather than some other 8-bit text that
    happens to be valid GBK: its non-ASCII characters are predominantly CJK ideographs and
    punctuation of GB2312, the common core of GBK that real Chinese text stays in. A Latin-1
    accented letter followed by an ASCII one decodes to a rare GBK extension ideograph
    ("é" + "e" → "閑", "ç" + "o" → "鏾": the second byte is below 0xA1), never to GB2312.
    """
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    common = sum(1 for ch in non_ascii if _is_cjk(ord(ch)) and _in_gb2312(ch))
    return bool(non_ascii) and common >= _CHINESE_SHARE * len(non_ascii)


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


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
    folder: Path,
    *,
    wav_stems: Sequence[str],
    rel: str,
    max_line_chars: int = 2000,
    language: str | None = None,
    files: Sequence[Path] | None = None,
) -> TranscriptSet:
    """Read every transcript in a voice folder and pair it with the recordings' stems.

    ``language``: the voice's, from :func:`transcript_language` (None: unknown), which decides
    how the files may be decoded (see :func:`decode_text`). ``files``: read only these (the
    transcript files discover vetted: regular files, no symlinks, inside the inbox); None lists
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
        if self.files is not None:
            entries = sorted(self.files, key=lambda p: p.name)
        else:
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
            return decode_text(data, file=file, language=self.language)
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
