"""The cache's stat identity (pipeline.audio.identity): an unchanged recording is known
without reading it, and a changed one is never mistaken for the old one."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.audio import PROFILES, normalize
from pipeline.audio.cache import lookup
from pipeline.audio.identity import (
    RACY_MARGIN_NS,
    Identities,
    hashed,
    index_dir,
    known_sha256,
    read_source,
    remember,
)
from tests.unit.audio_signals import speechlike, write

BASIC = PROFILES["huawei-basic"]
#: Trusts a file written just now (the default margin re-hashes those): the stat fields
#: alone then decide, which is what these tests examine.
TRUSTING = -(10**12)


def sha256_of(path: Path) -> str:
    """The file's SHA-256, computed here independently of the pipeline."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recording(path: Path, seed: int = 0) -> Path:
    """A 6 s speech-like mono clip at 44.1 kHz."""
    return write(path, speechlike(44100, 6.0, seed=seed), 44100)


def edit_in_place(path: Path) -> None:
    """Change samples in the middle of the file without changing its size."""
    with path.open("r+b") as f:
        f.seek(100_000)
        chunk = f.read(2000)
        f.seek(100_000)
        f.write(bytes(b ^ 0x5A for b in chunk))


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    """A folder on /dev/shm (another file system than the test's tmp folder), removed after."""
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm here")
    folder = Path(tempfile.mkdtemp(dir="/dev/shm"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_unchanged_recording_is_known_from_its_stat(tmp_path: Path) -> None:
    """After one normalize, look-up answers from the stat identity with the source's hash
    and the complete cache entry."""
    src = recording(tmp_path / "a.wav")
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="v/a.wav")
    sha, hit = lookup(src, BASIC, cache, file="v/a.wav", margin_ns=TRUSTING)
    assert sha == first.source_sha256 == sha256_of(src)
    assert hit is not None
    assert hit.cached
    assert hit.path == first.path


def test_file_changed_just_before_hashing_is_not_trusted(tmp_path: Path) -> None:
    """With the real margin, a file written moments before it was hashed is hashed again:
    a same-tick change would leave every stat field equal (racy git)."""
    src = recording(tmp_path / "a.wav")
    cache = tmp_path / "cache"
    normalize(src, BASIC, cache, file="v/a.wav")
    assert known_sha256(cache, src, src.stat()) is None
    assert lookup(src, BASIC, cache, file="v/a.wav") == (None, None)


@pytest.mark.parametrize("margin", [None, TRUSTING], ids=["real-margin", "stat-fields-only"])
def test_same_size_edit_with_mtime_set_back_is_rehashed(tmp_path: Path, margin: int | None) -> None:
    """A same-size edit whose mtime is set back with os.utime is re-hashed and re-normalized
    (ctime moved; with the real margin the entry was never trusted in the first place)."""
    src = recording(tmp_path / "a.wav")
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="v/a.wav")
    before = src.stat()
    edit_in_place(src)
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = src.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    margin_ns = RACY_MARGIN_NS if margin is None else margin
    if margin is None or after.st_ctime_ns != before.st_ctime_ns:
        assert lookup(src, BASIC, cache, file="v/a.wav", margin_ns=margin_ns)[0] is None
    again = normalize(src, BASIC, cache, file="v/a.wav")
    assert again.source_sha256 == sha256_of(src) != first.source_sha256
    assert not again.cached


@pytest.mark.parametrize("margin", [None, TRUSTING], ids=["real-margin", "stat-fields-only"])
def test_file_replaced_by_rename_is_rehashed(tmp_path: Path, margin: int | None) -> None:
    """A recording replaced by renaming another file of the same size and mtime over it has
    another inode: its recorded hash is not used, and the new content is normalized."""
    src = recording(tmp_path / "a.wav", seed=1)
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="v/a.wav")
    old = src.stat()
    other = recording(tmp_path / "b.wav.tmp", seed=2)
    assert other.stat().st_size == old.st_size
    os.utime(other, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(other, src)
    margin_ns = RACY_MARGIN_NS if margin is None else margin
    assert lookup(src, BASIC, cache, file="v/a.wav", margin_ns=margin_ns) == (None, None)
    again = normalize(src, BASIC, cache, file="v/a.wav")
    assert again.source_sha256 == sha256_of(src) != first.source_sha256
    assert not again.cached


def test_copy_on_another_file_system_is_not_vouched_for(tmp_path: Path, shm_dir: Path) -> None:
    """A copy on another file system (same size and mtime, shutil.copy2) does not match the
    original's identity; an edited copy there is re-hashed and re-normalized, and an
    unedited one is found in the cache by its content."""
    src = recording(tmp_path / "a.wav")
    assert os.stat(shm_dir).st_dev != os.stat(tmp_path).st_dev
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="v/a.wav")
    copy = Path(shutil.copy2(src, shm_dir / "a.wav"))
    assert copy.stat().st_mtime_ns == src.stat().st_mtime_ns
    assert known_sha256(cache, src, copy.stat(), margin_ns=TRUSTING) is None
    same = normalize(copy, BASIC, cache, file="v/a.wav")
    assert same.cached
    assert same.source_sha256 == first.source_sha256
    edit_in_place(copy)
    os.utime(copy, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns))
    edited = normalize(copy, BASIC, cache, file="v/a.wav")
    assert edited.source_sha256 == sha256_of(copy) != first.source_sha256
    assert not edited.cached


def test_file_changed_while_read_is_not_recorded(tmp_path: Path) -> None:
    """An identity is recorded only when the file's stat is the same after the read as
    before it."""
    src = recording(tmp_path / "a.wav")
    cache = tmp_path / "cache"
    read = read_source(src)
    edit_in_place(src)
    assert hashed(src, read.before, src.stat(), read.sha256, hashed_at_ns=read.hashed_at_ns) is None
    record = read.hashed(src)  # before == after: the read itself saw no change
    assert record is not None
    remember(cache, [record])
    assert known_sha256(cache, src, read.before, margin_ns=TRUSTING) == read.sha256
    assert known_sha256(cache, src, src.stat(), margin_ns=TRUSTING) is None


def test_damaged_identity_entry_is_a_miss(tmp_path: Path) -> None:
    """A damaged entry in the identity index is a doubt: the source is hashed again."""
    src = recording(tmp_path / "a.wav")
    cache = tmp_path / "cache"
    normalize(src, BASIC, cache, file="v/a.wav")
    for entry in index_dir(cache).rglob("*.json"):
        entry.write_text("{not json", encoding="utf-8")
    assert known_sha256(cache, src, src.stat(), margin_ns=TRUSTING) is None
    assert normalize(src, BASIC, cache, file="v/a.wav").cached


def test_a_folder_of_sources_shares_one_index_file(tmp_path: Path) -> None:
    """A voice's clips are recorded in one file for their folder, merged with what it held;
    another folder's clip of the same name has its own entry."""
    cache = tmp_path / "cache"
    voice, other = tmp_path / "voice", tmp_path / "other"
    voice.mkdir()
    other.mkdir()
    clips = [recording(voice / f"{i}.wav", seed=i) for i in range(3)]
    namesake = recording(other / "0.wav", seed=9)
    records = [read_source(c).hashed(c) for c in clips]
    remember(cache, [r for r in records[:2] if r])
    remember(cache, [r for r in records[2:] if r])  # merged into the same file
    record = read_source(namesake).hashed(namesake)
    assert record is not None
    remember(cache, [record])
    assert len(list(index_dir(cache).iterdir())) == 2
    index = Identities(cache)
    for clip in [*clips, namesake]:
        assert index.known_sha256(clip, clip.stat(), margin_ns=TRUSTING) == sha256_of(clip)
    assert sha256_of(namesake) != sha256_of(clips[0])


def test_normalize_on_a_worker_returns_the_identity_instead_of_writing_it(
    tmp_path: Path,
) -> None:
    """With record_identity off (the workers' way) nothing is written; the returned record,
    once remembered, makes the next look-up answer from the stat."""
    src = recording(tmp_path / "a.wav")
    cache = tmp_path / "cache"
    first = normalize(src, BASIC, cache, file="v/a.wav", record_identity=False)
    assert not index_dir(cache).exists()
    assert first.hashed is not None
    assert first.hashed.sha256 == first.source_sha256 == sha256_of(src)
    remember(cache, [first.hashed])
    sha, hit = lookup(src, BASIC, cache, file="v/a.wav", margin_ns=TRUSTING)
    assert sha == first.source_sha256
    assert hit is not None
    assert hit.cached
    assert hit.hashed is None
