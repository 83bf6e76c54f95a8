"""Fuzz the transcript reader: bytes in every encoding the inbox allows (and some it does not),
byte-order marks that lie, control characters, NULs, huge and malformed lines, header rows,
duplicates and orphans, in per-clip .txt files, transcripts.tsv and metadata.csv at once.
Only findings may come out: no exception, no hang, nothing unclean in the texts kept."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.codes import CODES
from pipeline.errors import InputError
from pipeline.transcripts import (
    MAX_FINDINGS_PER_SOURCE,
    clean_text,
    decode_text,
    read_transcripts,
)
from tests.fuzz.fuzzkit import STATS, fuzz_settings, within_watchdog

STEMS = ["0001", "0002", "0003", "consent", "10"]
# Pieces that exercise the cleaner and the parsers: separators, controls, BOMs mid-text,
# bidi overrides, combining marks, CJK, and the column separators themselves.
PIECES = st.sampled_from(
    [
        "\t",
        "|",
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\x1b[2J",
        "\x07",
        "\x0b",
        "\x85",
        "\u2028",
        "\ufeff",
        "\u200b",
        "\u202e",
        "e\u0301",
        "你好，世界。",
        "Zoë",
        " ",
        ".wav",
        "0001",
        "0002.WAV",
        "id",
        "x" * 300,
    ]
)
TEXTS = st.lists(PIECES | st.text(max_size=12), max_size=25).map("".join)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "gb18030"]


@st.composite
def encoded(draw: st.DrawFn) -> bytes:
    """Text in one of the encodings, sometimes with a BOM that lies, or bytes cut mid-char."""
    text = draw(TEXTS)
    codec = draw(st.sampled_from(ENCODINGS))
    data = text.encode(codec, "surrogatepass" if codec.startswith("utf") else "replace")
    twist = draw(st.sampled_from(["none", "none", "lying_bom", "cut", "junk"]))
    if twist == "lying_bom":
        data = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"])) + data
    elif twist == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif twist == "junk":
        data += draw(st.binary(max_size=16))
    return data


@st.composite
def list_file(draw: st.DrawFn, separator: str) -> bytes:
    """A transcripts.tsv or metadata.csv: rows of stems and texts, some malformed."""
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*STEMS, "0001.wav", "", "  0002 ", "id", "stem"]) | TEXTS,
                TEXTS,
                st.integers(0, 3),
            ),
            max_size=12,
        )
    )
    lines = [
        separator.join([stem, *([text] * max(1, columns))]) if columns else stem
        for stem, text, columns in rows
    ]
    text = draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    return text.encode(draw(st.sampled_from(["utf-8", "utf-16", "gb18030"])), "replace")


FOLDER = st.fixed_dictionaries(
    {},
    optional={
        "0001.txt": encoded() | st.binary(max_size=200),
        "0002.txt": encoded(),
        "0099.txt": encoded(),
        "consent.txt": encoded(),
        "transcripts.tsv": list_file("\t") | encoded() | st.binary(max_size=300),
        "metadata.csv": list_file("|") | encoded(),
        "TRANSCRIPTS.TSV": list_file("\t"),
    },
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by the module's examples (hypothesis forbids function-scoped ones)."""
    return tmp_path_factory.mktemp("fuzz-transcripts")


#: Voice languages as transcript_language gives them: unknown, Chinese, English, Japanese.
LANGUAGES = st.sampled_from([None, "zh", "en", "ja"])
#: What no accepted transcript holds (NUL, C1 controls, U+FFFD), and what an EN one never
#: holds on top (CJK ideographs, kana, hangul, CJK and full-width punctuation).
NEVER = re.compile("[\x00\x80-\x9f\ufffd]")
NOT_EN = re.compile("[\u3001-\u303f\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af\uff01-\uffef]")


@fuzz_settings()
@given(data=st.one_of(encoded(), st.binary(max_size=400)), language=LANGUAGES)
def test_fuzz_decode_text(data: bytes, language: str | None) -> None:
    """decode_text returns text free of NUL, C1 controls and U+FFFD (and of CJK for an EN
    voice), or raises InputError(transcript.unreadable) naming a byte offset."""
    try:
        text = within_watchdog(lambda: decode_text(data, file="k/0001.txt", language=language))
    except InputError as exc:
        outcome, message = exc.code, exc.message
    else:
        message = "accepted"
        outcome = "accepted"
        assert not NEVER.search(text)
        if language == "en":
            assert not NOT_EN.search(text)
        cleaned, _ = clean_text(text)
        assert cleaned == clean_text(cleaned)[0]  # cleaning is idempotent
    assert outcome in ("accepted", "transcript.unreadable")
    assert outcome == "accepted" or "byte" in message, message
    STATS.record("transcript.decode", outcome)


@fuzz_settings()
@given(files=FOLDER, wavs=st.lists(st.sampled_from(STEMS), unique=True), language=LANGUAGES)
def test_fuzz_read_transcripts(
    scratch: Path, files: dict[str, bytes], wavs: list[str], language: str | None
) -> None:
    """A folder of hostile transcript files gives a TranscriptSet: registered codes, bounded
    findings with one-line messages, and only clean texts that pair with a recording (and
    hold no CJK for an EN voice)."""
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        result = within_watchdog(
            lambda: read_transcripts(folder, wav_stems=wavs, rel="k", language=language)
        )
    codes = {f.code for f in result.findings}
    assert codes <= set(CODES)
    assert all(code.startswith("transcript.") for code in codes)
    per_code = len(files) * 3 * (MAX_FINDINGS_PER_SOURCE + 1) + len(wavs)
    assert len(result.findings) <= per_code
    for finding in result.findings:
        assert not any(unicodedata.category(c) == "Cc" for c in finding.message), finding
    for stem, transcript in result.by_stem.items():
        assert stem in wavs
        assert stem != "consent"
        assert transcript.text
        assert transcript.text == clean_text(transcript.text)[0]
        assert transcript.text == unicodedata.normalize("NFC", transcript.text)
        if language == "en":
            assert not NOT_EN.search(transcript.text)
    bad = any(f.severity == "error" for f in result.findings)
    STATS.record("transcript.folder", "error findings" if bad else "accepted")
