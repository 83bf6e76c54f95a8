"""Transcript bytes to text: decoding for the voice's language, refusing what cannot be its text.

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
"""

from __future__ import annotations

import re
from typing import Final

from pipeline.errors import InputError
from pipeline.records import VoiceMeta

__all__ = ["decode_text", "transcript_language"]

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
