"""Hostile inboxes: symlinks, loops, FIFOs, folders named like files, unreadable files, odd
folder and file names, hostile voice.toml and transcripts, and the [limits] on size, clip
count and duration. Every case ends in findings; none crashes or hangs."""

from __future__ import annotations

import builtins
import io
import itertools
import json
import math
import os
import struct
import subprocess
import sys
import unicodedata
import wave
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.audio.profiles import resolve_profile
from pipeline.codes import CODES
from pipeline.config import Limits, load_job
from pipeline.records import Finding, Severity, VoiceSource
from pipeline.sanitize import outside_problem
from pipeline.stages.discover import MAX_META_BYTES, discover, natural_key, read_meta
from pipeline.stages.prepare import PrepareContext, prepare
from pipeline.transcripts import MAX_FILE_BYTES, MAX_FINDINGS_PER_SOURCE, read_transcripts

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
META = 'voice_name = "Test voice"\n'
_VOICE_NUMBERS = itertools.count(1)


def write_wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    """A PCM16 mono tone with a little noise (stdlib only; no binary fixtures)."""
    frames = int(seconds * rate)
    samples = (
        int(8000 * math.sin(2 * math.pi * 220 * i / rate) + (i * 7919 % 61) - 30)
        for i in range(frames)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def make_voice(inbox: Path, key: str | bytes, *, meta: str | None = META) -> Path:
    """A voice folder with a voice.toml (str keys, or bytes for names that are not UTF-8);
    the default voice.toml gives each voice its own voice_name (a shared one is an error)."""
    folder = Path(os.fsdecode(os.path.join(os.fsencode(inbox), os.fsencode(key))))
    folder.mkdir(parents=True)
    if meta == META:
        meta = f'voice_name = "Test voice {next(_VOICE_NUMBERS)}"\n'
    if meta is not None:
        (folder / "voice.toml").write_text(meta, encoding="utf-8")
    return folder


def codes(findings: tuple[Finding, ...] | list[Finding]) -> set[str]:
    """The finding codes, checked to be registered."""
    found = {f.code for f in findings}
    assert found <= set(CODES), found - set(CODES)
    return found


def only(inbox: Path) -> VoiceSource:
    """The inbox's single voice."""
    (voice,) = discover(inbox)
    return voice


def has_error(voice: VoiceSource) -> bool:
    """Whether discover already rejects the voice."""
    return any(f.severity is Severity.ERROR for f in voice.findings)


def assert_printable(text: str) -> None:
    """One line, no escape sequences, encodable as UTF-8 (manifest, SQLite, terminal)."""
    text.encode("utf-8")
    assert not any(unicodedata.category(c) == "Cc" for c in text), repr(text)


# --------------------------------------------------------------------------- symlinks


def test_symlinked_voice_folder_is_refused(tmp_path: Path) -> None:
    """A voice folder that is a symlink (even to a valid voice) is refused, not followed."""
    outside = make_voice(tmp_path / "elsewhere", "real")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "linked").symlink_to(outside, target_is_directory=True)
    voice = only(inbox)
    assert voice.key == "linked"
    assert codes(voice.findings) == {"voice.unsafe_path"}
    assert voice.meta is None
    assert voice.wavs == ()


def test_symlinked_files_are_refused_and_never_read(tmp_path: Path) -> None:
    """Symlinked recordings, transcripts and voice.toml are refused with unsafe_path, and the
    transcript reader does not read through them either."""
    secret = tmp_path / "outside.txt"
    secret.write_text("text from outside the inbox", encoding="utf-8")
    folder = make_voice(tmp_path / "inbox", "alice", meta=None)
    write_wav(folder / "0001.wav", 0.2)
    (folder / "0001.txt").symlink_to(secret)
    (folder / "0002.wav").symlink_to(folder / "0001.wav")
    (folder / "voice.toml").symlink_to(secret)
    voice = only(tmp_path / "inbox")
    unsafe = sorted(f.file or "" for f in voice.findings if f.code == "voice.unsafe_path")
    assert unsafe == ["alice/0001.txt", "alice/0002.wav", "alice/voice.toml"]
    assert "voice.metadata_missing" not in codes(voice.findings)  # it is there, just refused
    assert [p.name for p in voice.wavs] == ["0001.wav"]
    assert has_error(voice)
    tset = read_transcripts(folder, wav_stems=["0001"], rel="alice")
    assert tset.by_stem == {}
    assert codes(tset.findings) == {"transcript.missing"}


def test_symlink_loops_neither_hang_nor_crash(tmp_path: Path) -> None:
    """Self-loops and two-link cycles, as files and as voice folders, are refused findings."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "bob")
    (folder / "self.wav").symlink_to(folder / "self.wav")
    (folder / "a.txt").symlink_to(folder / "b.txt")
    (folder / "b.txt").symlink_to(folder / "a.txt")
    (folder / "transcripts.tsv").symlink_to(folder / "transcripts.tsv")
    (inbox / "loop").symlink_to(inbox / "loop")
    voices = {v.key: v for v in discover(inbox)}
    assert codes(voices["loop"].findings) == {"voice.unsafe_path"}
    bob = voices["bob"]
    assert codes(bob.findings) == {"voice.unsafe_path"}
    assert len(bob.findings) == 4
    assert bob.wavs == ()
    tset = read_transcripts(folder, wav_stems=["self"], rel="bob")
    assert codes(tset.findings) == {"transcript.missing"}


# --------------------------------------------------------------------------- special files


def test_fifos_named_like_inbox_files_are_never_opened(tmp_path: Path) -> None:
    """FIFOs named 0001.wav, voice.toml, transcripts.tsv and authorization.pdf are refused by
    discover without being opened (opening one would block until a writer comes)."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "carol", meta=None)
    for name in ("0001.wav", "voice.toml", "transcripts.tsv", "authorization.pdf", "0002.txt"):
        os.mkfifo(folder / name)
    voice = only(inbox)
    unsafe = sorted(f.file or "" for f in voice.findings if f.code == "voice.unsafe_path")
    assert len(unsafe) == 4  # voice.toml is reported as invalid metadata instead
    assert "voice.metadata_invalid" in codes(voice.findings)
    assert voice.wavs == ()
    assert voice.authorization is None
    assert voice.transcript_files == ()
    # The readers refuse a FIFO themselves too (it may be swapped in after discover).
    meta, findings = read_meta(folder / "voice.toml", "carol/voice.toml")
    assert meta is None
    assert "not a regular file" in findings[0].message
    tset = read_transcripts(folder, wav_stems=["0001", "0002"], rel="carol")
    assert codes(tset.findings) == {"transcript.missing"}


@pytest.mark.anyio
async def test_prepare_refuses_a_fifo_swapped_in_after_discover(tmp_path: Path) -> None:
    """A recording replaced by a FIFO between discover and prepare is audio.unreadable, and
    prepare returns instead of blocking on it."""
    folder = make_voice(tmp_path / "inbox", "dave")
    write_wav(folder / "0001.wav", 0.5)
    voice = only(tmp_path / "inbox")
    (folder / "0001.wav").unlink()
    os.mkfifo(folder / "0001.wav")
    with anyio.fail_after(30):
        prepared = await prepare(voice, context(tmp_path))
    assert "audio.unreadable" in codes(prepared.findings)
    assert prepared.rejected


def test_folders_named_like_files(tmp_path: Path) -> None:
    """Folders named 0001.wav or transcripts.tsv are not read; one named voice.toml is a
    metadata error (and the voice is rejected, not waved through without metadata)."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "erin", meta=None)
    (folder / "0001.wav").mkdir()
    (folder / "transcripts.tsv").mkdir()
    (folder / "voice.toml").mkdir()
    voice = only(inbox)
    assert voice.wavs == ()
    assert voice.transcript_files == ()
    assert voice.meta is None
    assert codes(voice.findings) == {"voice.unexpected_file", "voice.metadata_invalid"}
    assert has_error(voice)
    assert read_transcripts(folder, wav_stems=[], rel="erin").findings == ()


@pytest.mark.skipif(
    IS_ROOT, reason="root reads files whatever their mode; chmod 000 blocks nothing"
)
@pytest.mark.anyio
async def test_unreadable_files_and_folders(tmp_path: Path) -> None:
    """chmod 000 on a recording, a transcript, voice.toml and a voice folder: findings only."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "fay")
    write_wav(folder / "0001.wav", 0.5)
    (folder / "0001.txt").write_text("hello", encoding="utf-8")
    locked = make_voice(inbox, "gus")
    for path in (folder / "0001.wav", folder / "0001.txt", folder / "voice.toml", locked):
        path.chmod(0)
    try:
        voices = {v.key: v for v in discover(inbox)}
        assert codes(voices["gus"].findings) == {"voice.unreadable"}
        fay = voices["fay"]
        assert "voice.metadata_invalid" in codes(fay.findings)
        prepared = await prepare(fay, context(tmp_path))
        assert {"audio.unreadable", "transcript.unreadable"} <= codes(prepared.findings)
    finally:
        for path in (folder / "0001.wav", folder / "0001.txt", folder / "voice.toml", locked):
            path.chmod(0o755)


# --------------------------------------------------------------------------- names

ODD_BUT_FINE: list[str | bytes] = [
    "张伟",
    unicodedata.normalize("NFD", "Zoë"),  # macOS writes names decomposed
    "with space",
    " leading space",
    "-rf",
    "--help",
    "x" * 255,  # NAME_MAX
    "é" * 127,  # 254 bytes of UTF-8
    "emoji🎙voice",
    "semi;colon$(rm -rf)`x`",
]
REFUSED: list[str | bytes] = [
    "new\nline",
    "tab\there",
    "esc\x1b[2Jape",
    "bidi\u202eevil",
    b"latin1-\xe9-\xff",
]


def test_odd_folder_names_are_keys_and_hostile_ones_refused(tmp_path: Path) -> None:
    """Unicode, spaces, leading dashes and 255-byte names are ordinary keys; names with control
    characters, bidi overrides or non-UTF-8 bytes are refused with a printable key."""
    inbox = tmp_path / "inbox"
    for name in [*ODD_BUT_FINE, *REFUSED]:
        make_voice(inbox, name)
    voices = discover(inbox)
    assert len(voices) == len(ODD_BUT_FINE) + len(REFUSED)
    keys = {v.key for v in voices}
    assert set(ODD_BUT_FINE) <= keys
    refused = [v for v in voices if v.key not in ODD_BUT_FINE]
    assert len(refused) == len(REFUSED)
    for voice in refused:
        assert codes(voice.findings) == {"voice.unsafe_name"}
        assert_printable(voice.key)
        assert voice.key == voice.findings[0].file
    for voice in voices:
        if voice.key in ODD_BUT_FINE:
            assert codes(voice.findings) == set(), voice.key
            assert voice.meta is not None


def test_check_over_hostile_names_writes_a_manifest(tmp_path: Path) -> None:
    """`voice-onboard check` over an inbox of odd and hostile folder and file names exits 1
    with one summary line per voice and a manifest that names every voice."""
    inbox = tmp_path / "inbox"
    for name in [*ODD_BUT_FINE, *REFUSED]:
        make_voice(inbox, name)
    odd_files = make_voice(inbox, "files")
    for name in ("a\nb.wav", "x\x1b[31m.txt", "c\u202e.wav"):
        (odd_files / name).write_bytes(b"")
    (Path(os.fsdecode(os.path.join(os.fsencode(odd_files), b"\xff\xfe.wav")))).write_bytes(b"")
    job = tmp_path / "job.toml"
    job.write_text(
        '[batch]\nname = "odd"\ninbox = "inbox"\nstate_dir = "var"\n'
        '[provider]\nkind = "huawei-metastudio"\nendpoint = "emulator"\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", str(job)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")[-2000:]
    assert b"Traceback" not in proc.stderr
    out = proc.stdout.decode("utf-8")
    assert "\x1b" not in out
    voices = len(ODD_BUT_FINE) + len(REFUSED) + 1
    assert out.count("rejected") >= voices  # one line each (the last line sums them up)
    manifest = json.loads((tmp_path / "var" / "manifests" / "odd-check-latest.json").read_bytes())
    names = {v["voice"] for v in manifest["voices"]}
    assert len(names) == voices
    assert set(ODD_BUT_FINE) <= names
    files = next(v for v in manifest["voices"] if v["voice"] == "files")
    unsafe = [f for f in files["findings"] if f["code"] == "voice.unsafe_name"]
    assert len(unsafe) == 4
    for finding in unsafe:
        assert_printable(finding["file"])


@given(st.lists(st.text(st.characters(codec="utf-8"), max_size=30), max_size=20))
def test_natural_key_sorts_any_names(names: list[str]) -> None:
    """natural_key orders any names without raising (superscripts, Unicode digits, mixes)."""
    ordered = sorted(names, key=natural_key)
    assert sorted(ordered, key=natural_key) == ordered
    assert sorted(["10.wav", "2.wav", "²1.wav", "١٢.wav"], key=natural_key)[:2] == [
        "2.wav",
        "10.wav",
    ]


# --------------------------------------------------------------------------- voice.toml

DEEP = 5000
HOSTILE_META: dict[str, bytes] = {
    "huge": b'voice_name = "x"\ndescription = "' + b"y" * (MAX_META_BYTES + 10) + b'"\n',
    "binary": bytes(range(256)) * 4,
    "nul": b'voice_name = "a\x00b"\n',
    "latin1": 'voice_name = "Zoë"\n'.encode("latin-1"),
    "utf16": 'voice_name = "x"\n'.encode("utf-16"),
    "deep_arrays": b"voice_name = " + b"[" * DEEP + b"]" * DEEP + b"\n",
    "deep_inline": b"voice_name = " + b"{a = " * DEEP + b"1" + b"}" * DEEP + b"\n",
    "deep_dotted": b"a" + b".a" * 16000 + b" = 1\n",
    "deep_header": b"[a" + b".a" * 16000 + b"]\n",
    "int": b"voice_name = 5\n",
    "bool": b"voice_name = true\n",
    "float": b"voice_name = nan\n",
    "date": b"voice_name = 1979-05-27T07:32:00Z\n",
    "array": b'voice_name = ["a", "b"]\n',
    "table": b'[voice_name]\nx = "a"\n',
    "unknown_key": b'voice_name = "x"\n"evil\\u001b[2J\\nkey" = "v"\n',
    "control_in_name": b'voice_name = "a\\u001b[31mred"\n',
    "newline_in_name": b'voice_name = """a\nb"""\n',
    "bidi_in_name": b'voice_name = "abc\\u202e"\n',
    "bad_enum": b'voice_name = "x"\nsex = "\\u001b"\n',
    "too_long": b'voice_name = "' + b"z" * 257 + b'"\n',
    "empty_name": b'voice_name = "   "\n',
    "empty_file": b"",
    "redefined": b'voice_name = "a"\nvoice_name = "b"\n',
}


@pytest.mark.parametrize("case", sorted(HOSTILE_META))
def test_hostile_voice_toml_is_metadata_invalid(tmp_path: Path, case: str) -> None:
    """Huge, binary, nested, mistyped and control-laden voice.toml files give one
    voice.metadata_invalid finding with a one-line message; nothing raises."""
    path = tmp_path / "voice.toml"
    path.write_bytes(HOSTILE_META[case])
    meta, findings = read_meta(path, "k/voice.toml")
    assert meta is None
    assert [f.code for f in findings] == ["voice.metadata_invalid"]
    assert_printable(findings[0].message)
    assert len(findings[0].message) < 400


def test_friendly_voice_toml_variants_are_accepted(tmp_path: Path) -> None:
    """A BOM, a multi-line description and a differently cased file name are all fine."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "hal", meta=None)
    (folder / "Voice.TOML").write_bytes(
        b'\xef\xbb\xbfvoice_name = "Hal"\ndescription = """two\nlines"""\n'
    )
    voice = only(inbox)
    assert voice.findings == ()
    assert voice.meta is not None
    assert voice.meta.description == "two\nlines"
    (folder / "voice.toml").write_text(META, encoding="utf-8")
    assert codes(only(inbox).findings) == {"voice.metadata_invalid"}  # two of them


# --------------------------------------------------------------------------- transcripts


def test_transcript_control_characters_and_huge_lines(tmp_path: Path) -> None:
    """Control characters are removed with a finding; a huge line is too_long; neither
    raises, and the kept text is clean."""
    (tmp_path / "0001.txt").write_text("he\x1b[31mllo\x01 world\x07", encoding="utf-8")
    (tmp_path / "transcripts.tsv").write_text("0002\t" + "w" * 200_000 + "\n", encoding="utf-8")
    tset = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="k")
    assert tset.by_stem["0001"].text == "he[31mllo world"
    found = {(f.code, f.severity) for f in tset.findings}
    assert ("transcript.control_chars", Severity.FIXED) in found
    assert ("transcript.too_long", Severity.ERROR) in found


def test_transcript_invalid_bytes_and_oversized_files(tmp_path: Path) -> None:
    """Undecodable bytes and a file over the size cap are transcript.unreadable; the big one
    is never read into memory."""
    (tmp_path / "0001.txt").write_bytes(b"abc \x80\x81\x82 \xff")
    with (tmp_path / "transcripts.tsv").open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk space, no write time
    tset = read_transcripts(tmp_path, wav_stems=["0001", "0002"], rel="k")
    unreadable = [f for f in tset.findings if f.code == "transcript.unreadable"]
    assert {f.file for f in unreadable} == {"k/0001.txt", "k/transcripts.tsv"}
    assert tset.by_stem == {}


def test_transcript_findings_are_bounded_and_errors_survive(tmp_path: Path) -> None:
    """Ten thousand orphan lines and malformed lines give a bounded number of findings, with
    an "and N more" summary that keeps the error severity; escape sequences in stems from the
    file never reach a message."""
    lines = [f"\x1b[2Jorphan{i}\tx" for i in range(10_000)]
    lines += ["no tab here"] * 500
    (tmp_path / "transcripts.tsv").write_text("\n".join(lines), encoding="utf-8")
    for i in range(300):
        (tmp_path / f"stray{i}.txt").write_text("x", encoding="utf-8")
    tset = read_transcripts(tmp_path, wav_stems=[], rel="k")
    assert len(tset.findings) <= 3 * (MAX_FINDINGS_PER_SOURCE + 1)
    errors = [f for f in tset.findings if f.severity is Severity.ERROR]
    assert any("more" in f.message for f in errors)
    summary = [f for f in tset.findings if "more" in f.message]
    assert {f.code for f in summary} == {"transcript.orphan", "transcript.malformed"}
    for finding in tset.findings:
        assert_printable(finding.message)


# --------------------------------------------------------------------------- limits


def context(tmp_path: Path, **limits: float) -> PrepareContext:
    """A prepare context for the huawei-basic profile with some [limits] overridden."""
    return PrepareContext(
        profile=resolve_profile("huawei-basic", {}, source="test"),
        cache_dir=tmp_path / "cache",
        limits=Limits(**limits),  # type: ignore[arg-type]
        cpu=anyio.CapacityLimiter(2),
    )


def test_limits_come_from_the_job_file(write_job: Callable[..., Path]) -> None:
    """max_file_mb, max_clips and max_voice_duration are read from [limits]."""
    job = write_job(extra='[limits]\nmax_file_mb = 0.5\nmax_clips = 3\nmax_voice_duration = "90s"')
    limits = load_job(job).limits
    assert (limits.max_file_mb, limits.max_clips, limits.max_voice_duration_s) == (0.5, 3, 90.0)


@pytest.mark.anyio
async def test_file_size_limit(tmp_path: Path) -> None:
    """A recording over max_file_mb is audio.file_too_large and never decoded."""
    folder = make_voice(tmp_path / "inbox", "ivy")
    write_wav(folder / "0001.wav", 1.0)  # 32 kB
    prepared = await prepare(only(tmp_path / "inbox"), context(tmp_path, max_file_mb=0.01))
    too_large = [f for f in prepared.findings if f.code == "audio.file_too_large"]
    assert [f.file for f in too_large] == ["ivy/0001.wav"]
    assert prepared.clips == ()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.wav"))


@pytest.mark.anyio
async def test_clip_count_limit(tmp_path: Path) -> None:
    """More recordings than max_clips: voice.too_many_clips, and none is processed."""
    folder = make_voice(tmp_path / "inbox", "jay")
    for i in range(3):
        (folder / f"{i:04d}.wav").write_bytes(b"not even audio")
    prepared = await prepare(only(tmp_path / "inbox"), context(tmp_path, max_clips=2))
    assert "voice.too_many_clips" in codes(prepared.findings)
    assert "audio.unreadable" not in codes(prepared.findings)  # none was opened
    assert prepared.rejected


@pytest.mark.anyio
async def test_total_duration_limit(tmp_path: Path) -> None:
    """More audio than max_voice_duration in total: voice.total_duration naming the limit."""
    folder = make_voice(tmp_path / "inbox", "kim")
    for i in range(2):
        write_wav(folder / f"{i:04d}.wav", 1.0)
    prepared = await prepare(only(tmp_path / "inbox"), context(tmp_path, max_voice_duration_s=1.5))
    totals = [f for f in prepared.findings if f.code == "voice.total_duration"]
    assert any("limit 1.5 s" in f.message for f in totals), prepared.findings


# --------------------------------------------------------------------------- nothing read outside


class OpenedPaths:
    """Every path this process opens or lists while installed (os.open, open, io.open,
    os.listdir, os.scandir): enough to see whether anything under a folder was read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        for module, name in (
            (os, "open"),
            (os, "listdir"),
            (os, "scandir"),
            (io, "open"),
            (builtins, "open"),
        ):
            monkeypatch.setattr(module, name, self._recording(getattr(module, name)))

    def _recording(self, real: Callable[..., object]) -> Callable[..., object]:
        def call(path: object = ".", *args: object, **kwargs: object) -> object:
            if isinstance(path, str | bytes | os.PathLike):
                self.paths.append(os.fsdecode(path))
            return real(path, *args, **kwargs)

        return call

    def under(self, *folders: Path) -> list[str]:
        """The recorded paths that lie (lexically) in one of ``folders``."""
        return [p for p in self.paths if any(Path(p).is_relative_to(f) for f in folders)]


def outside_voice(root: Path) -> Path:
    """A voice folder outside the inbox with everything a voice reads, and a transcript list
    whose lines would show up as findings if it were read."""
    folder = make_voice(root, "real", meta='voice_name = "Outside"\nlanguage = "EN"\n')
    write_wav(folder / "0001.wav", 0.5)
    write_wav(folder / "consent.wav", 0.5)
    (folder / "transcripts.tsv").write_text(
        "0001\tsecret text\n9999\tsecret outside line\n", encoding="utf-8"
    )
    (folder / "authorization.pdf").write_bytes(b"%PDF-1.4 secret letter\n")
    return folder


@pytest.mark.anyio
async def test_prepare_reads_nothing_through_a_symlinked_voice_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voice folder that is a symlink to outside the inbox is refused and nothing under it
    is listed, opened or read: no transcript finding quotes the outside file."""
    outside = outside_voice(tmp_path / "elsewhere")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "linked").symlink_to(outside, target_is_directory=True)
    voice = only(inbox)
    opened = OpenedPaths(monkeypatch)
    prepared = await prepare(voice, context(tmp_path))
    assert codes(prepared.findings) == {"voice.unsafe_path"}
    assert prepared.rejected
    assert prepared.clips == ()
    assert opened.under(inbox / "linked", outside) == []


@pytest.mark.anyio
async def test_prepare_reads_nothing_when_the_voice_folder_became_a_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voice folder swapped for a symlink after discover: prepare checks the folder again
    and reads none of its recordings, transcripts or letter."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "alice", meta='voice_name = "Alice"\nlanguage = "EN"\n')
    write_wav(folder / "0001.wav", 0.5)
    (folder / "0001.txt").write_text("hello there", encoding="utf-8")
    (folder / "authorization.pdf").write_bytes(b"%PDF-1.4\n")
    voice = only(inbox)
    assert [p.name for p in voice.wavs] == ["0001.wav"]
    moved = tmp_path / "moved"
    folder.rename(moved)
    folder.symlink_to(moved, target_is_directory=True)
    opened = OpenedPaths(monkeypatch)
    prepared = await prepare(voice, context(tmp_path))
    unsafe = [f for f in prepared.findings if f.code == "voice.unsafe_path"]
    assert [f.file for f in unsafe] == ["alice"]
    assert "symlink" in unsafe[0].message
    assert prepared.clips == ()
    assert prepared.authorization is None
    assert opened.under(folder, moved) == []


@pytest.mark.anyio
async def test_prepare_refuses_a_recording_swapped_for_a_symlink(tmp_path: Path) -> None:
    """A recording replaced by a symlink to outside audio after discover is voice.unsafe_path
    and is never decoded (libsndfile would follow the link)."""
    outside = write_wav(tmp_path / "outside.wav", 0.5)
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "bob")
    write_wav(folder / "0001.wav", 0.5)
    voice = only(inbox)
    (folder / "0001.wav").unlink()
    (folder / "0001.wav").symlink_to(outside)
    prepared = await prepare(voice, context(tmp_path))
    unsafe = [f for f in prepared.findings if f.code == "voice.unsafe_path"]
    assert [f.file for f in unsafe] == ["bob/0001.wav"]
    assert prepared.clips == ()
    assert prepared.rejected


def test_outside_problem(tmp_path: Path) -> None:
    """outside_problem refuses symlinks and paths reached through a symlinked folder, even
    ones that stay inside the inbox; plain files and a symlinked inbox itself are fine."""
    real_inbox = tmp_path / "real-inbox"
    folder = make_voice(real_inbox, "alice")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.txt").write_text("x", encoding="utf-8")
    (real_inbox / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    (real_inbox / "inner").symlink_to(folder, target_is_directory=True)
    (folder / "copy.toml").symlink_to(folder / "voice.toml")
    inbox = tmp_path / "inbox"
    inbox.symlink_to(real_inbox, target_is_directory=True)  # the job file may name a link
    assert outside_problem(inbox / "alice", inbox) is None
    assert outside_problem(inbox / "alice" / "voice.toml", inbox) is None
    assert outside_problem(inbox / "alice" / "gone.wav", inbox) is None  # the reader says so
    assert "symlink" in (outside_problem(inbox / "linked", inbox) or "")
    assert "symlinked folder" in (outside_problem(inbox / "linked" / "x.txt", inbox) or "")
    assert "symlinked folder" in (outside_problem(inbox / "inner" / "voice.toml", inbox) or "")
    assert "symlink" in (outside_problem(inbox / "alice" / "copy.toml", inbox) or "")
    assert "not inside" in (outside_problem(tmp_path / "outside" / "x.txt", inbox) or "")


# --------------------------------------------------------------------------- the batch


def test_hidden_folders_are_skipped_with_one_batch_finding_each(tmp_path: Path) -> None:
    """Each hidden folder at the inbox's top level is one inbox.skipped warning in the
    Discovery's batch findings (not a voice); hidden files, and hidden entries inside a voice
    folder, are skipped silently."""
    inbox = tmp_path / "inbox"
    alice = make_voice(inbox, "alice")
    (alice / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (alice / "._0001.wav").write_bytes(b"\x00\x05\x16\x07")
    (alice / ".cache").mkdir()
    (inbox / ".git").mkdir()
    make_voice(inbox, ".hidden-voice")
    (inbox / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (inbox / ".link").symlink_to(alice, target_is_directory=True)
    discovery = discover(inbox)
    assert [v.key for v in discovery] == ["alice"]
    assert len(discovery) == 1
    assert discovery[0].key == "alice"
    assert [v.key for v in discovery[:1]] == ["alice"]
    assert discovery[0].findings == ()
    skipped = discovery.findings
    assert [(f.code, f.severity, f.file) for f in skipped] == [
        ("inbox.skipped", Severity.WARNING, ".git"),
        ("inbox.skipped", Severity.WARNING, ".hidden-voice"),
    ]
    assert codes(skipped) == {"inbox.skipped"}
    assert "rename it" in skipped[0].message


def test_duplicate_voice_names_reject_every_voice_sharing_it(tmp_path: Path) -> None:
    """Voices whose voice_name is the same after stripping and NFC each get a
    voice.duplicate_name error naming the other folders; a unique name gets none."""
    inbox = tmp_path / "inbox"
    make_voice(inbox, "alice", meta='voice_name = "Zoë"\n')
    make_voice(inbox, "bob", meta=f'voice_name = "  {unicodedata.normalize("NFD", "Zoë")} "\n')
    make_voice(inbox, "carol", meta='voice_name = "Zoë"\n')
    make_voice(inbox, "dave", meta='voice_name = "Dave"\n')
    voices = {v.key: v for v in discover(inbox)}
    assert not has_error(voices["dave"])
    for key, others in (("alice", "bob, carol"), ("bob", "alice, carol"), ("carol", "alice, bob")):
        duplicate = [f for f in voices[key].findings if f.code == "voice.duplicate_name"]
        assert len(duplicate) == 1, key
        assert duplicate[0].severity is Severity.ERROR
        assert duplicate[0].file == f"{key}/voice.toml"
        assert duplicate[0].message == (
            f"voice_name 'Zoë' is also used by {others}; each voice needs its own voice_name"
        )
    assert codes(voices["alice"].findings) == {"voice.duplicate_name"}


@pytest.mark.anyio
async def test_prepare_decodes_transcripts_for_the_voice_language(tmp_path: Path) -> None:
    """prepare passes the voice's language from voice.toml: a Latin-1 list that is valid GBK
    is transcript.unreadable for an EN voice, not uploaded as "Ren閑 Gar鏾n"."""
    inbox = tmp_path / "inbox"
    folder = make_voice(inbox, "erin", meta='voice_name = "Erin"\nlanguage = "EN"\n')
    write_wav(folder / "0001.wav", 0.5)
    (folder / "transcripts.tsv").write_bytes("0001\tRenée Garçon\n".encode("latin-1"))
    prepared = await prepare(only(inbox), context(tmp_path))
    unreadable = [f for f in prepared.findings if f.code == "transcript.unreadable"]
    assert [(f.file, f.message) for f in unreadable] == [
        ("erin/transcripts.tsv", "not UTF-8 at byte 8 (0xe9); save it as UTF-8")
    ]
    assert all(c.text is None for c in prepared.clips)
