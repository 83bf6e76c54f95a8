"""Fuzz voice.toml: random bytes, TOML-shaped text with hostile keys and values of every type,
nesting, repeated tables and control characters. read_meta must return metadata or exactly one
voice.metadata_invalid finding with a one-line message; it never raises and never hangs."""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.stages.discover import MAX_META_VALUE, read_meta
from tests.fuzz.fuzzkit import STATS, fuzz_settings, within_watchdog

KEYS = [
    "voice_name",
    "sex",
    "language",
    "tag",
    "description",
    "phone",
    "talent_name",
    "company_name",
    "locale",
    "unknown",
    '"quoted key"',
    '"\\u001b[2J"',
    "a.b.c",
    "voice_name.x",
]
STRING_VALUES = st.sampled_from(
    ["FEMALE", "MALE", "CN", "EN", "NEWS", "x", "", "  ", "张伟", "a" * 300, "\\u0007", "\\n"]
)


@st.composite
def toml_value(draw: st.DrawFn, depth: int = 0) -> str:
    """A TOML value of any type, arrays and inline tables nested a few levels."""
    kinds = ["string", "int", "float", "bool", "date", "multiline", "literal"]
    if depth < 3:
        kinds += ["array", "inline"]
    kind = draw(st.sampled_from(kinds))
    if kind == "string":
        return '"' + draw(STRING_VALUES | st.text(max_size=20).map(_escape)) + '"'
    if kind == "int":
        return str(draw(st.integers()))
    if kind == "float":
        return draw(st.sampled_from(["1.5", "nan", "-inf", "1e400", "0.0"]))
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    if kind == "date":
        return draw(st.sampled_from(["1979-05-27T07:32:00Z", "1979-05-27", "07:32:00"]))
    if kind == "multiline":
        return '"""' + draw(st.text(max_size=30)).replace('"', "") + '"""'
    if kind == "literal":
        return "'" + draw(st.text(max_size=20)).replace("'", "").replace("\n", "") + "'"
    items = draw(st.lists(toml_value(depth + 1), max_size=3))
    if kind == "array":
        return "[" + ", ".join(items) + "]"
    return "{" + ", ".join(f"k{i} = {v}" for i, v in enumerate(items)) + "}"


def _escape(text: str) -> str:
    """Text as the inside of a TOML basic string (every non-ASCII char as an escape)."""
    return "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}"
        for c in text
        if not 0xD800 <= ord(c) <= 0xDFFF
    )


@st.composite
def toml_documents(draw: st.DrawFn) -> bytes:
    """Key = value lines, table headers and junk lines, in one of a few encodings."""
    lines = draw(
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from(KEYS), toml_value()).map(lambda kv: f"{kv[0]} = {kv[1]}"),
                st.sampled_from(["[table]", "[[arr]]", "[voice_name]", "# comment", "", "= 1"]),
                st.text(max_size=20),
            ),
            max_size=10,
        )
    )
    text = "\n".join(lines)
    codec = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(codec, "replace")


@st.composite
def plausible_documents(draw: st.DrawFn) -> bytes:
    """voice_name plus known keys with string values, hostile only in their content."""
    values = {"voice_name": draw(STRING_VALUES | st.text(max_size=40).map(_escape))}
    for key in draw(st.lists(st.sampled_from(KEYS[1:9]), unique=True, max_size=5)):
        values[key] = draw(STRING_VALUES | st.text(max_size=40).map(_escape))
    text = "".join(f'{k} = "{v}"\n' for k, v in values.items())
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig"])))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by the module's examples (hypothesis forbids function-scoped ones)."""
    return tmp_path_factory.mktemp("fuzz-meta")


@fuzz_settings()
@given(data=st.one_of(plausible_documents(), toml_documents(), st.binary(max_size=300)))
def test_fuzz_read_meta(scratch: Path, data: bytes) -> None:
    """Any voice.toml gives metadata with short clean strings, or one metadata_invalid."""
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".toml") as f:
        f.write(data)
        f.flush()
        meta, findings = within_watchdog(lambda: read_meta(Path(f.name), "k/voice.toml"))
    if meta is None:
        assert [x.code for x in findings] == ["voice.metadata_invalid"]
        message = findings[0].message
        assert not any(unicodedata.category(c) == "Cc" for c in message), message
        STATS.record("voice.toml", "voice.metadata_invalid")
        return
    assert findings == []
    assert meta.voice_name
    for value in (meta.voice_name, meta.sex, meta.language, meta.tag, meta.phone, meta.locale):
        if value is not None:
            assert len(value) <= MAX_META_VALUE
            assert not any(unicodedata.category(c) == "Cc" for c in value), value
    STATS.record("voice.toml", "accepted")
