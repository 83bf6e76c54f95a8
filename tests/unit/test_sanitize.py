"""pipeline.sanitize: zip members, blob names and Azure ids from hostile text, checked with
hypothesis for validity, determinism and the absence of collisions."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.sanitize import (
    AZURE_ID,
    BLOB_NAME_MAX,
    HASH_LEN,
    SEGMENT_MAX,
    azure_id,
    blob_name,
    zip_member,
)

# Any text a file system or a TOML file can hand us, lone surrogates (undecodable bytes in a
# Linux file name) included; plus names built from the characters that matter most.
ANY_TEXT = st.text(st.characters(codec=None), max_size=300)
TRICKY = st.text(
    st.sampled_from(list("aZ09._-~/\\: \n\t\x00é张\u202e\udcff")), min_size=0, max_size=40
)
NAMES = st.one_of(ANY_TEXT, TRICKY)
SAFE_SEGMENT_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~")


def _segment_ok(segment: str) -> None:
    """One segment: ASCII-safe, bounded, no traversal, no hidden or trailing-dot names."""
    assert segment
    assert set(segment) <= SAFE_SEGMENT_CHARS, segment
    assert len(segment) <= SEGMENT_MAX
    assert segment not in (".", "..")
    assert not segment.startswith(".")
    assert segment[-1].isalnum()


@given(NAMES)
def test_zip_member_is_one_safe_component(name: str) -> None:
    """Every zip member is one ASCII component with no traversal, whatever the input."""
    member = zip_member(name)
    _segment_ok(member)
    assert zip_member(name) == member  # deterministic


@given(NAMES, NAMES)
def test_zip_member_never_collides(a: str, b: str) -> None:
    """Different inputs give different members (kept names vs hashed ones, hashes apart)."""
    if a != b:
        assert zip_member(a) != zip_member(b)


# Characters that fold to the same readable text: names differing only in them would collide
# if the readable part were all there is.
LOOKALIKES = ["_", " ", "/", "\\", ":", "é", "e", "\n", "~", "", "."]


@given(st.text(st.sampled_from("ab0"), min_size=1, max_size=6), st.integers(0, 6))
def test_lookalike_names_stay_apart(base: str, at: int) -> None:
    """Names that differ only in characters folding alike still get distinct names and ids."""
    names = {base[:at] + c + base[at:] for c in LOOKALIKES}
    assert len({zip_member(n) for n in names}) == len(names)
    assert len({blob_name("b", n) for n in names}) == len(names)
    assert len({azure_id("b", n) for n in names}) == len(names)


@given(st.lists(NAMES, min_size=1, max_size=4), st.lists(NAMES, min_size=1, max_size=4))
def test_blob_name_is_safe_and_injective(a: list[str], b: list[str]) -> None:
    """Blob names are safe segments joined by '/', at most 1024 characters, never colliding."""
    name = blob_name(*a)
    assert len(name) <= BLOB_NAME_MAX
    for segment in name.split("/"):
        _segment_ok(segment)
    assert len(name.split("/")) == len(a)
    if a != b:
        assert blob_name(*a) != blob_name(*b)


@given(st.lists(NAMES, min_size=1, max_size=4), st.integers(HASH_LEN + 2, 64))
def test_azure_id_matches_the_azure_pattern(parts: list[str], max_len: int) -> None:
    """Every id matches Azure's id pattern, fits max_len and is deterministic."""
    ident = azure_id(*parts, max_len=max_len)
    assert AZURE_ID.fullmatch(ident), ident
    assert len(ident) <= max_len
    assert azure_id(*parts, max_len=max_len) == ident


@settings(max_examples=300)
@given(st.lists(NAMES, min_size=1, max_size=3), st.lists(NAMES, min_size=1, max_size=3))
def test_azure_id_never_collides(a: list[str], b: list[str]) -> None:
    """Different part tuples give different ids, including ones that join to the same text."""
    if a != b:
        assert azure_id(*a) != azure_id(*b)


def test_safe_names_are_kept_and_others_stay_readable() -> None:
    """Already-safe names pass unchanged; others keep a readable stem and their extension."""
    assert zip_member("0001.wav") == "0001.wav"
    assert blob_name("nightly", "alice", "0001.wav") == "nightly/alice/0001.wav"
    assert zip_member("../../etc/passwd").startswith("etc_passwd~")
    assert zip_member("Zoë 01.WAV").startswith("Zoe_01~")
    assert zip_member("Zoë 01.WAV").endswith(".WAV")
    assert zip_member("张伟.wav").startswith("~")
    assert zip_member("C:\\x\\y.txt").endswith(".txt")
    assert zip_member("alice~1") != "alice~1"  # "~" marks rewritten names only
    assert azure_id("nightly", "alice").startswith("nightly-alice-")
    assert azure_id("a-b", "c") != azure_id("a", "b-c")
    assert azure_id("Alice") != azure_id("alice")  # ids may be compared case-insensitively
    assert azure_id("Alice").lower() != azure_id("alice").lower()


def test_sanitized_members_survive_a_zip_round_trip() -> None:
    """Hostile names become members that zipfile writes and reads back as plain names."""
    hostile = ["../evil.wav", "/abs.wav", "a\\b.wav", "\x00.txt", "", ".", "..", "name\n.txt"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in hostile:
            zf.writestr(zip_member(name), b"x")
    with zipfile.ZipFile(buffer) as zf:
        names = zf.namelist()
    assert names == [zip_member(n) for n in hostile]
    assert len(set(names)) == len(hostile)
    assert all("/" not in n and "\\" not in n and ".." not in n.split("~")[0] for n in names)


def test_limits_are_enforced() -> None:
    """Out-of-range max_len, empty part lists and over-long blob names are refused."""
    with pytest.raises(ValueError):
        azure_id("a", max_len=HASH_LEN + 1)
    with pytest.raises(ValueError):
        azure_id("a", max_len=65)
    with pytest.raises(ValueError):
        azure_id()
    with pytest.raises(ValueError):
        blob_name()
    with pytest.raises(ValueError):
        blob_name(*(["x" * 300] * 6))
    assert len(azure_id("x" * 500)) == 64
    assert len(zip_member("y" * 500 + ".wav")) <= SEGMENT_MAX
