"""Transcripts: decoding, cleaning, the three file forms, pairing and every finding."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.codes import CODES
from pipeline.errors import InputError
from pipeline.records import Finding, Severity, VoiceMeta
from pipeline.transcripts import clean_text, decode_text, read_transcripts, transcript_language

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
    """Characters outside GBK (four-byte GB18030) decode too, for a Chinese voice."""
    text = "𠀀€ 测试"
    assert decode_text(text.encode("gb18030"), file="x", language="zh") == text


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


# --- decode_text: the voice's language decides ----------------------------------------------------

#: "Renée Garçon" in Latin-1 is valid GBK too: read as GB18030 it is "Ren閑 Gar鏾n".
LATIN1 = "0001\tRenée Garçon reads the news\n".encode("latin-1")


def unreadable(data: bytes, language: str | None) -> str:
    """decode_text's transcript.unreadable message for ``data`` (it must raise)."""
    with pytest.raises(InputError) as info:
        decode_text(data, file="v/transcripts.tsv", language=language)
    assert info.value.code == "transcript.unreadable"
    assert info.value.file == "v/transcripts.tsv"
    return info.value.message


def test_latin1_that_is_valid_gbk_is_never_guessed_for_en() -> None:
    """A Latin-1 file that happens to be valid GBK is not decoded as GB18030 for an EN voice:
    it is unreadable, naming the first bad byte and the fix."""
    assert LATIN1.decode("gb18030").startswith("0001\tRen閑 Gar鏾n")  # the trap
    assert unreadable(LATIN1, "en") == "not UTF-8 at byte 8 (0xe9); save it as UTF-8"


def test_latin1_that_is_valid_gbk_is_not_chinese_for_an_unknown_language() -> None:
    """Without a language, GB18030 is accepted only when the text then reads as Chinese: the
    rare GBK-extension ideographs Latin-1 turns into do not."""
    assert unreadable(LATIN1, None) == "not UTF-8 at byte 8 (0xe9); save it as UTF-8"


@pytest.mark.parametrize("language", ["zh", "yue", None])
def test_gbk_chinese_is_read_for_chinese_and_unknown_voices(language: str | None) -> None:
    """GBK Chinese decodes for a Chinese voice, and for one of unknown language (it reads as
    Chinese)."""
    data = f"0001\t{ZH}\n0002\t{EN}\n".encode("gbk")
    assert decode_text(data, file="x", language=language) == f"0001\t{ZH}\n0002\t{EN}\n"


@pytest.mark.parametrize("language", ["en", "fr", "ja"])
def test_gbk_is_never_tried_for_other_languages(language: str) -> None:
    """GBK Chinese in a voice of another language is unreadable, never decoded silently."""
    message = unreadable(f"0001\t{ZH}\n".encode("gbk"), language)
    assert message == "not UTF-8 at byte 5 (0xbd); save it as UTF-8"


def test_chinese_voice_names_both_failures() -> None:
    """A Chinese voice's file that is neither UTF-8 nor GB18030 names both offsets."""
    message = unreadable(b"ab\x80\x80", "zh")
    assert message == (
        "not UTF-8 at byte 2 (0x80), and not GB18030/GBK at byte 2 (0x80); save it as UTF-8"
    )


def test_cjk_in_an_en_voice_is_unreadable_at_its_byte_offset() -> None:
    """UTF-8 text with CJK ideographs in an EN voice is refused at the first one's byte."""
    data = f"0001\t{EN} 中文\n".encode()
    message = unreadable(data, "en")
    at = len(f"0001\t{EN} ".encode())
    assert message.startswith(f"holds '中' (U+4E2D) at byte {at}, which a transcript in 'en'")
    assert "save it as UTF-8" in message
    assert decode_text(data, file="x", language="zh") == data.decode()
    assert decode_text(data, file="x", language=None) == data.decode()


def test_cjk_offset_counts_bytes_of_the_file_bom_included() -> None:
    """The offset is in the file's bytes: a UTF-16 BOM and two-byte units are counted."""
    data = b"\xff\xfe" + "ab。".encode("utf-16-le")
    assert "(U+3002) at byte 6," in unreadable(data, "en")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("say \u0093hi\u0094", "the control character U+0093 at byte 4"),
        ("caf\ufffd au lait", "U+FFFD at byte 3"),
        ("abc\x00def", "a NUL character at byte 3"),
    ],
)
@pytest.mark.parametrize("language", ["en", "zh", None])
def test_characters_no_transcript_holds(text: str, needle: str, language: str | None) -> None:
    """C1 controls, U+FFFD and NUL are refused in any language, with their byte offset."""
    assert needle in unreadable(text.encode(), language)


def test_accents_and_punctuation_stay_fine_for_en() -> None:
    """Accented letters, curly quotes, dashes and the ideographic space are English enough."""
    text = "0001\t“Renée’s café” — naïve\u3000résumé…\n"
    assert decode_text(text.encode(), file="x", language="en") == text


@pytest.mark.parametrize(
    ("meta", "language"),
    [
        (None, None),
        (VoiceMeta(voice_name="v"), None),
        (VoiceMeta(voice_name="v", language="CN"), "zh"),
        (VoiceMeta(voice_name="v", language="EN"), "en"),
        (VoiceMeta(voice_name="v", locale="zh-CN"), "zh"),
        (VoiceMeta(voice_name="v", locale="zh_TW"), "zh"),
        (VoiceMeta(voice_name="v", locale="en-US"), "en"),
        (VoiceMeta(voice_name="v", locale="ja-JP"), "ja"),
        (VoiceMeta(voice_name="v", language="EN", locale="zh-CN"), "en"),
    ],
)
def test_transcript_language(meta: VoiceMeta | None, language: str | None) -> None:
    """Huawei's language (CN/EN) wins; else the Azure locale's primary subtag; else None."""
    assert transcript_language(meta) == language


def test_read_transcripts_decodes_for_the_voice_language(tmp_path: Path) -> None:
    """read_transcripts passes the language on: the Latin-1 list is one unreadable finding
    for an EN voice, GBK text is read for a CN one."""
    write(tmp_path, "transcripts.tsv", LATIN1)
    result = read_transcripts(tmp_path, wav_stems=["0001"], rel="en", language="en")
    assert codes(result.findings) == [("transcript.unreadable", Severity.ERROR)]
    assert result.findings[0].file == "en/transcripts.tsv"
    assert result.findings[0].message == "not UTF-8 at byte 8 (0xe9); save it as UTF-8"
    assert result.by_stem == {}
    write(tmp_path, "transcripts.tsv", f"0001\t{ZH}\n".encode("gbk"))
    result = read_transcripts(tmp_path, wav_stems=["0001"], rel="cn", language="zh")
    assert result.findings == ()
    assert result.by_stem["0001"].text == ZH


def test_read_transcripts_reads_only_the_files_given(tmp_path: Path) -> None:
    """With ``files``, only those are read: the folder is not listed again."""
    given_file = write(tmp_path, "0001.txt", EN)
    write(tmp_path, "transcripts.tsv", f"0002\t{ZH}\n0009\torphan\n")
    result = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="f", files=[given_file])
    assert set(result.by_stem) == {"0001"}
    assert codes(result.findings) == [("transcript.missing", Severity.ERROR)]
    assert result.findings[0].file == "f/0002.wav"


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
@given(st.binary(max_size=200), st.sampled_from([None, "zh", "en", "ja"]))
def test_decode_random_bytes(data: bytes, language: str | None) -> None:
    """decode_text either returns text or raises InputError(transcript.unreadable)."""
    try:
        text: str | None = decode_text(data, file="f", language=language)
        code = None
    except InputError as exc:
        text, code = None, exc.code
    if text is None:
        assert code == "transcript.unreadable"
    else:
        assert not re.search("[\x00\x80-\x9f\ufffd]", text)
        if language == "en":
            assert not re.search("[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]", text)
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
