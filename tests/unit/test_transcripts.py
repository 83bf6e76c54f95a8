"""Transcripts: decoding, cleaning, the three file forms, pairing and every finding."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.codes import CODES
from pipeline.errors import InputError
from pipeline.records import Finding, Severity
from pipeline.transcripts import clean_text, decode_text, read_transcripts

ZH = "今天的天气比昨天暖和了许多，大家都很满意。"
EN = "The morning train opens at nine on weekdays."


def codes(findings: tuple[Finding, ...]) -> list[tuple[str, Severity]]:
    return [(f.code, f.severity) for f in findings]


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- decode_text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        ZH.encode("utf-8"),
        b"\xef\xbb\xbf" + ZH.encode("utf-8"),
        b"\xff\xfe" + ZH.encode("utf-16-le"),
        b"\xfe\xff" + ZH.encode("utf-16-be"),
        b"\xff\xfe\x00\x00" + ZH.encode("utf-32-le"),
        ZH.encode("gbk"),
        ZH.encode("gb18030"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "utf-32-le", "gbk", "gb18030"],
)
def test_decode_supported_encodings(data: bytes) -> None:
    """Every supported encoding decodes to the same text, without the BOM."""
    assert decode_text(data, file="a/0001.txt") == ZH


def test_decode_gb18030_beyond_gbk() -> None:
    """Characters outside GBK (four-byte GB18030) decode too."""
    text = "𠀀€ 测试"
    assert decode_text(text.encode("gb18030"), file="x") == text


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_decode_utf16_without_bom(codec: str) -> None:
    """ASCII-heavy UTF-16 without a BOM is recognised by its NUL bytes."""
    assert decode_text(f"0001\t{EN}\n".encode(codec), file="x") == f"0001\t{EN}\n"


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe" + b"a\x00b",  # odd length after a UTF-16 BOM
        b"\xef\xbb\xbf\xff",  # a UTF-8 BOM, then not UTF-8
        b"\x80\xff\x80\xff",  # neither UTF-8 nor GB18030
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # binary: NULs
    ],
)
def test_decode_unreadable(data: bytes) -> None:
    """Undecodable bytes raise InputError(transcript.unreadable) naming the file."""
    with pytest.raises(InputError) as info:
        decode_text(data, file="alice/0001.txt")
    assert info.value.code == "transcript.unreadable"
    assert info.value.file == "alice/0001.txt"


# --- clean_text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cleaned", "flagged"),
    [
        (EN, EN, False),
        ("  two\t words \r\n across\nlines  ", "two words across lines", False),
        ("Cafe\u0301", "Café", False),  # NFC
        ("no\u00a0break\u3000ideographic", "no break ideographic", False),
        ("nul\x00s and bell\x07", "nuls and bell", True),
        ("page\x0cbreak", "page break", True),
        ("zero\u200bwidth \ufeffbom", "zerowidth bom", True),
        ("bidi \u202eoverride\u202c", "bidi override", True),
        ("e\x00\u0301", "é", True),  # removing the control lets NFC compose
        ("\x01\x02", "", True),
    ],
)
def test_clean_text(raw: str, cleaned: str, flagged: bool) -> None:
    """NFC, controls removed (and reported), whitespace collapsed and stripped."""
    assert clean_text(raw) == (cleaned, flagged)


# --- read_transcripts: the three forms -----------------------------------------------------------


def test_per_clip_txt(tmp_path: Path) -> None:
    """One .txt per clip pairs by stem; multi-line text becomes one line."""
    write(tmp_path, "0001.txt", EN + "\n")
    write(tmp_path, "0002.txt", b"\xff\xfe" + f"{ZH}\r\n第二行\r\n".encode("utf-16-le"))
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="alice")
    assert result.findings == ()
    assert result.by_stem["0001"].text == EN
    assert result.by_stem["0001"].source == "alice/0001.txt"
    assert result.by_stem["0002"].text == f"{ZH} 第二行"


def test_tsv_with_bom_suffixes_crlf_blank_lines_and_header(tmp_path: Path) -> None:
    """transcripts.tsv: BOM on the first stem, .wav suffixes, CRLF, blanks and a header."""
    body = f"name\ttext\r\n0001.wav\t{EN}\r\n\r\n0002.WAV\t {ZH} \r\n"
    write(tmp_path, "transcripts.tsv", b"\xef\xbb\xbf" + body.encode())
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="bob")
    assert result.findings == ()
    assert {s: t.text for s, t in result.by_stem.items()} == {"0001": EN, "0002": ZH}
    assert result.by_stem["0001"].source == "bob/transcripts.tsv"


def test_csv_uses_column_two(tmp_path: Path) -> None:
    """metadata.csv: column 2 (the script as read), never the normalized column 3."""
    write(tmp_path, "metadata.csv", f"0001|{EN}|the morning train\n0002|{ZH}\n".encode("gbk"))
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="c")
    assert result.findings == ()
    assert result.by_stem["0001"].text == EN
    assert result.by_stem["0002"].text == ZH
    assert result.by_stem["0002"].source == "c/metadata.csv"


def test_lone_cr_line_endings(tmp_path: Path) -> None:
    """Old Mac line endings (CR only) split lines; U+2028 inside a text does not."""
    write(tmp_path, "transcripts.tsv", "0001\tone\u2028two\r0002\tthree\r")
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="r")
    assert result.findings == ()
    assert result.by_stem["0001"].text == "one two"
    assert result.by_stem["0002"].text == "three"


def test_mixed_forms(tmp_path: Path) -> None:
    """A folder may mix per-clip files and a list file."""
    write(tmp_path, "0001.txt", EN)
    write(tmp_path, "transcripts.tsv", f"0002\t{ZH}\n")
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="m")
    assert result.findings == ()
    assert sorted(result.by_stem) == ["0001", "0002"]


# --- read_transcripts: findings ------------------------------------------------------------------


def test_missing_and_orphans(tmp_path: Path) -> None:
    """A clip without text is an error; text without a clip is a warning on the text's file."""
    write(tmp_path, "0001.txt", EN)
    write(tmp_path, "0009.txt", EN)
    write(tmp_path, "metadata.csv", f"0001|{EN}\n0042|{ZH}\n")
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="v")
    found = {(f.code, f.severity, f.file) for f in result.findings}
    assert ("transcript.missing", Severity.ERROR, "v/0002.wav") in found
    assert ("transcript.orphan", Severity.WARNING, "v/0009.txt") in found
    assert ("transcript.orphan", Severity.WARNING, "v/metadata.csv") in found
    orphan = next(f for f in result.findings if f.file == "v/metadata.csv" and "0042" in f.message)
    assert "line 2" in orphan.message
    assert set(result.by_stem) == {"0001"}


def test_empty(tmp_path: Path) -> None:
    """Empty texts are errors and are left out of by_stem (with no 'missing' on top)."""
    write(tmp_path, "0001.txt", " \n\t")
    write(tmp_path, "transcripts.tsv", "0002\t   \n")
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="e")
    assert codes(result.findings) == [("transcript.empty", Severity.ERROR)] * 2
    assert "line 1" in result.findings[1].message
    assert result.by_stem == {}


def test_duplicates(tmp_path: Path) -> None:
    """Same text twice is a warning; different texts an error; the first source wins."""
    write(tmp_path, "0001.txt", EN)
    write(tmp_path, "0002.txt", EN)
    write(tmp_path, "transcripts.tsv", f"0001\t{EN}\n0002\t{ZH}\n")
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="d")
    assert codes(result.findings) == [
        ("transcript.duplicate", Severity.WARNING),
        ("transcript.duplicate", Severity.ERROR),
    ]
    assert all(f.file == "d/transcripts.tsv" for f in result.findings)
    assert "d/0002.txt" in result.findings[1].message
    assert result.by_stem["0002"].text == EN


def test_unreadable_per_clip_is_not_also_missing(tmp_path: Path) -> None:
    """An undecodable .txt is one error, not an error plus 'missing'."""
    write(tmp_path, "0001.txt", b"\x80\xff\x80\xff")
    result = read_transcripts(tmp_path, wav_stems=["0001"], rel="u")
    assert codes(result.findings) == [("transcript.unreadable", Severity.ERROR)]
    assert result.findings[0].file == "u/0001.txt"


def test_unreadable_list_file_is_one_error(tmp_path: Path) -> None:
    """An undecodable list file does not add a 'missing' for every clip."""
    write(tmp_path, "transcripts.tsv", b"\x00\x01binary\x80\xff")
    result = read_transcripts(tmp_path, wav_stems=[f"{i:04d}" for i in range(20)], rel="u")
    assert codes(result.findings) == [("transcript.unreadable", Severity.ERROR)]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("transcripts.tsv", "0002 no tab here"),
        ("transcripts.tsv", "0002\ttext\textra"),
        ("transcripts.tsv", "\tno stem"),
        ("metadata.csv", "0002 no bar"),
        ("metadata.csv", "0002|a|b|c"),
        ("metadata.csv", ".wav|only a suffix"),
    ],
)
def test_malformed_lines(tmp_path: Path, name: str, line: str) -> None:
    """A line that does not parse is an error naming its line number."""
    sep = "\t" if name.endswith(".tsv") else "|"
    write(tmp_path, name, f"0001{sep}{EN}\n{line}\n")
    result = read_transcripts(tmp_path, wav_stems=["0001"], rel="p")
    assert codes(result.findings) == [("transcript.malformed", Severity.ERROR)]
    assert result.findings[0].file == f"p/{name}"
    assert result.findings[0].message.startswith("line 2:")
    assert result.by_stem["0001"].text == EN


def test_control_chars_and_too_long(tmp_path: Path) -> None:
    """Control characters are removed (fixed); a text over the limit is an error."""
    write(tmp_path, "0001.txt", "bad\x07bell")
    write(tmp_path, "0002.txt", "x" * 51)
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="k", max_line_chars=50)
    assert codes(result.findings) == [
        ("transcript.control_chars", Severity.FIXED),
        ("transcript.too_long", Severity.ERROR),
    ]
    assert result.by_stem["0001"].text == "badbell"
    assert "51 characters" in result.findings[1].message


def test_not_transcripts_are_ignored(tmp_path: Path) -> None:
    """consent, authorization, dotfiles, folders and outside symlinks are not transcripts."""
    write(tmp_path, "consent.txt", "I am aware that recordings of my voice …")
    write(tmp_path, "authorization.txt", "signed")
    write(tmp_path, "._0001.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")  # AppleDouble
    (tmp_path / "notes.txt").mkdir()
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text(ZH)
    (tmp_path / "0002.txt").symlink_to(outside)
    write(tmp_path, "0001.txt", EN)
    result = read_transcripts(tmp_path, wav_stems=["0001", "consent"], rel="n")
    assert result.findings == ()
    assert set(result.by_stem) == {"0001"}


def test_every_code_is_registered(tmp_path: Path) -> None:
    """Each finding code this module emits is listed in pipeline.codes."""
    write(tmp_path, "0001.txt", "a\x07")
    write(tmp_path, "0002.txt", "")
    write(tmp_path, "0003.txt", b"\x80\xff")
    write(tmp_path, "0004.txt", "y" * 30)
    write(tmp_path, "0099.txt", "orphan")
    write(tmp_path, "transcripts.tsv", "0001\tb\nbroken\n")
    result = read_transcripts(
        tmp_path, wav_stems=["0001", "0002", "0003", "0004", "5"], rel="z", max_line_chars=20
    )
    emitted = {f.code for f in result.findings}
    assert emitted == {
        "transcript.control_chars",
        "transcript.empty",
        "transcript.unreadable",
        "transcript.too_long",
        "transcript.orphan",
        "transcript.duplicate",
        "transcript.malformed",
        "transcript.missing",
    }
    assert emitted <= set(CODES)


# --- never crash ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decode_random_bytes(data: bytes) -> None:
    """decode_text either returns text or raises InputError(transcript.unreadable)."""
    try:
        text: str | None = decode_text(data, file="f")
        code = None
    except InputError as exc:
        text, code = None, exc.code
    if text is None:
        assert code == "transcript.unreadable"
    else:
        assert "\x00" not in text
        cleaned, _ = clean_text(text)
        assert cleaned == cleaned.strip()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["transcripts.tsv", "metadata.csv", "0001.txt"]),
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=120).map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.lists(
            st.tuples(st.sampled_from(["0001", "0002.wav", "x", ""]), st.text(max_size=20)),
            max_size=6,
        ).map(lambda rows: "\n".join(f"{a}\t{b}|{b}" for a, b in rows).encode("utf-8", "replace")),
    ),
)
def test_read_random_files(name: str, data: bytes) -> None:
    """Arbitrary bytes in any transcript file give findings, never an exception."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / name).write_bytes(data)
        result = read_transcripts(folder, wav_stems=["0001", "0002"], rel="h", max_line_chars=50)
    assert {f.code for f in result.findings} <= set(CODES)
    for stem, transcript in result.by_stem.items():
        assert stem in ("0001", "0002")
        assert transcript.text
        assert transcript.text == clean_text(transcript.text)[0]
