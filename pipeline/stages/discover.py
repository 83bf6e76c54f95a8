"""discover: inbox folder → one ``VoiceSource`` per voice folder, in a :class:`Discovery`.

Reads names and ``voice.toml`` only; never opens audio. Everything hostile becomes an error
finding on the voice, never a crash, a hang or a silent skip:

- symlinks (to a voice folder, a recording, a transcript, a loop) and anything else that could
  lead outside the inbox: ``voice.unsafe_path``; never followed, never opened, and nothing in
  a refused folder is listed or read. Symlinks that stay inside the inbox are refused the same
  way (see ``pipeline.sanitize.outside_problem`` for why); prepare checks every path again
  before it reads it;
- FIFOs, sockets and devices, whatever their name (a FIFO named 0001.wav would block a reader
  forever): ``voice.unsafe_path``; never opened;
- folder and file names with bytes that are not UTF-8 or with control characters:
  ``voice.unsafe_name``; the voice gets a printable stand-in key (``pipeline.sanitize``);
- folders that cannot be listed and entries that cannot be examined: ``voice.unreadable``;
- a voice.toml that is huge, binary, nested, of the wrong types or not a regular file:
  ``voice.metadata_invalid``;
- two voices with the same ``voice_name`` (after stripping and NFC): ``voice.duplicate_name``
  on each of them, naming the others, so neither is sent, in ``check`` and ``run`` alike and
  before any remote call (Huawei finds a voice's job by its name: the second would adopt the
  first's job and never be trained).

Unicode, spaces, leading dashes and long names are ordinary keys: the key is only ever data
(never a shell word), and ``pipeline.sanitize`` derives zip, blob and Azure names from it.
Hidden entries (a leading ``.``) are not voices: each hidden *folder* at the inbox's top level
(``.git``, ``.Trashes``, a voice someone hid) is skipped with one batch-level ``inbox.skipped``
warning in ``Discovery.findings``; hidden files there (``.DS_Store``) and hidden entries inside a
voice folder (``.DS_Store``, ``._0001.wav`` resource forks, editors' swap files) are skipped
without a word, as loose non-hidden files at the top level are.
"""

from __future__ import annotations

import fnmatch
import re
import stat
import tomllib
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Final, overload

from pipeline.errors import ConfigError
from pipeline.records import VOICE_CHOICES, Finding, Severity, VoiceMeta, VoiceSource
from pipeline.sanitize import FileRefused, name_problem, printable, read_small_file

_AUTH_EXTS: Final = (".pdf", ".jpg", ".jpeg", ".png")
_TRANSCRIPT_FILES: Final = ("transcripts.tsv", "metadata.csv")
_META_KEYS: Final = tuple(f.name for f in fields(VoiceMeta))
_ENUMS: Final = {k: v for k, v in VOICE_CHOICES.items() if k != "tag"}
_TAGS: Final = VOICE_CHOICES["tag"]
#: A real voice.toml is a few hundred bytes; the cap keeps a hostile one from costing memory.
MAX_META_BYTES: Final = 64 * 1024
#: Longest value of a voice.toml key (Huawei and Azure limits are lower still).
MAX_META_VALUE: Final = 256
#: voice.toml is flat: a dotted key or table header deeper than this is refused before parsing
#: (tomllib needs memory quadratic in the depth: 16 000 levels fit in 32 KB and take 1 GB).
MAX_META_DEPTH: Final = 8
# Controls in a value would reach Huawei's API and our one-line summaries; a description may
# span lines, nothing else may.
_VALUE_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_DESCRIPTION_CONTROLS: Final = re.compile(
    "[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
)
_DIGITS: Final = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[object, ...]:
    """Sort "2.wav" before "10.wav".

    re.split with a group alternates text and digit runs, so odd positions are always digits
    (\\d: Unicode decimals, which int() reads); str.isdigit() would also accept "²", which
    int() refuses, and compare an int with a str.
    """
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(_DIGITS.split(name)))


@dataclass(frozen=True, slots=True)
class Discovery(Sequence[VoiceSource]):
    """What discover found: the voices, sorted by key (the record is a sequence of them), and
    the batch-level findings that belong to no voice (hidden folders skipped)."""

    voices: tuple[VoiceSource, ...]
    findings: tuple[Finding, ...] = ()

    @overload
    def __getitem__(self, index: int) -> VoiceSource: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[VoiceSource, ...]: ...

    def __getitem__(self, index: int | slice) -> VoiceSource | tuple[VoiceSource, ...]:
        return self.voices[index]

    def __len__(self) -> int:
        return len(self.voices)

    def __iter__(self) -> Iterator[VoiceSource]:
        return iter(self.voices)

    def only(self, patterns: Sequence[str]) -> Discovery:
        """The voices whose key matches one of ``patterns`` (globs; none: all of them). A
        pattern that matches no voice is a ConfigError naming it: a typo must not quietly
        run nothing and exit 0."""
        if not patterns:
            return self
        unmatched = [p for p in patterns if not any(_glob(v.key, p) for v in self.voices)]
        if unmatched:
            names = ", ".join(repr(p) for p in unmatched)
            raise ConfigError(f"--voices {names}: no voice folder of the inbox matches")
        chosen = tuple(v for v in self.voices if any(_glob(v.key, p) for p in patterns))
        return replace(self, voices=chosen)


def _glob(key: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(key, pattern)


def discover(inbox: Path) -> Discovery:
    """Every voice folder of the inbox, sorted by key, and the batch-level findings."""
    if not inbox.exists():
        raise ConfigError(f"{inbox}: inbox not found")
    if not inbox.is_dir():
        raise ConfigError(f"{inbox}: inbox is not a folder")
    root = inbox.resolve()
    try:
        entries = sorted(inbox.iterdir(), key=lambda p: natural_key(p.name))
    except OSError as exc:
        raise ConfigError(f"{inbox}: cannot list the inbox: {exc.strerror or exc}") from None
    voices: list[VoiceSource] = []
    skipped: list[Finding] = []
    for entry in entries:
        if entry.name.startswith("."):
            hidden = _skipped_hidden(entry)
            if hidden is not None:
                skipped.append(hidden)
            continue
        problem = name_problem(entry.name)
        if problem is not None:
            voices.append(_refused(entry, "voice.unsafe_name", f"voice folder refused: {problem}"))
            continue
        try:
            mode = entry.lstat().st_mode
        except OSError as exc:
            why = f"cannot examine the voice folder: {exc.strerror or exc}"
            voices.append(_refused(entry, "voice.unreadable", why))
            continue
        if stat.S_ISLNK(mode):
            # Refused without a look inside: nothing under it is listed, opened or read (not
            # even by prepare: a refused source lists no files, and prepare checks the folder).
            why = "the voice folder is a symlink (it may lead outside the inbox); not followed"
            voices.append(_refused(entry, "voice.unsafe_path", why))
            continue
        if not stat.S_ISDIR(mode):
            continue  # loose files beside the voice folders (a README, a zip) are not voices
        voices.append(_voice(entry, root))
    return Discovery(voices=tuple(_flag_duplicate_names(voices)), findings=tuple(skipped))


def _skipped_hidden(entry: Path) -> Finding | None:
    """The ``inbox.skipped`` finding for a hidden folder at the inbox's top level; None for a
    hidden file or symlink (never a voice folder; a symlink is not followed to find out)."""
    try:
        if not stat.S_ISDIR(entry.lstat().st_mode):
            return None
    except OSError:
        return None
    name = entry.name if name_problem(entry.name) is None else printable(entry.name)
    return Finding(
        severity=Severity.WARNING,
        code="inbox.skipped",
        file=name,
        message="hidden folder (its name starts with '.') skipped: not a voice; "
        "rename it without the dot to onboard it",
    )


#: Other folders a voice.duplicate_name message names before "and N more".
_DUPLICATES_SHOWN: Final = 10


def _flag_duplicate_names(voices: Sequence[VoiceSource]) -> list[VoiceSource]:
    """Give every voice that shares its voice_name with another a ``voice.duplicate_name``
    error naming the others: the name is how a provider job is found again, so two voices with
    one name would be trained as one."""
    by_name: dict[str, list[str]] = {}
    for voice in voices:
        if voice.meta is not None:
            name = unicodedata.normalize("NFC", voice.meta.voice_name.strip())
            by_name.setdefault(name, []).append(voice.key)
    out: list[VoiceSource] = []
    for voice in voices:
        if voice.meta is None:
            out.append(voice)
            continue
        name = unicodedata.normalize("NFC", voice.meta.voice_name.strip())
        others = [k for k in by_name[name] if k != voice.key]
        if not others:
            out.append(voice)
            continue
        listed = ", ".join(others[:_DUPLICATES_SHOWN])
        if len(others) > _DUPLICATES_SHOWN:
            listed += f" and {len(others) - _DUPLICATES_SHOWN} more"
        finding = _error(
            "voice.duplicate_name",
            f"{voice.key}/voice.toml",
            f"voice_name {_shown(name)} is also used by {listed}; "
            "each voice needs its own voice_name",
        )
        out.append(replace(voice, findings=(*voice.findings, finding)))
    return out


def _refused(folder: Path, code: str, why: str) -> VoiceSource:
    name = folder.name
    key = name if name_problem(name) is None else printable(name)
    return VoiceSource(
        key=key,
        folder=folder,
        meta=None,
        wavs=(),
        transcript_files=(),
        authorization=None,
        consent=None,
        findings=(Finding(severity=Severity.ERROR, code=code, file=key, message=why),),
    )


def _error(code: str, rel: str, message: str) -> Finding:
    return Finding(severity=Severity.ERROR, code=code, file=rel, message=message)


def _voice(folder: Path, root: Path) -> VoiceSource:
    key = folder.name
    findings: list[Finding] = []
    wavs: list[Path] = []
    transcripts: list[Path] = []
    authorization: Path | None = None
    consent: Path | None = None
    meta: VoiceMeta | None = None
    meta_seen = False  # a voice.toml entry of any kind (even a bad one) was there
    try:
        entries = sorted(folder.iterdir(), key=lambda p: natural_key(p.name))
    except OSError as exc:
        why = f"cannot list the voice folder: {exc.strerror or exc}"
        return _refused(folder, "voice.unreadable", why)
    # Paranoia against a folder that is itself reached through a bind mount or a renamed
    # parent: its files must still be inside the inbox. Resolved once for the folder: an
    # entry that is not a symlink resolves to the resolved folder / its name (resolving each
    # file took a dozen lstat calls: ~40 % of discovering 200 clips).
    folder_error: OSError | RuntimeError | None = None
    try:
        folder_inside = folder.resolve().is_relative_to(root)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        folder_inside, folder_error = False, exc
    for path in entries:
        if path.name.startswith("."):
            # Hidden entries inside a voice folder (.DS_Store, ._0001.wav AppleDouble forks,
            # editors' swap files) are never part of a voice: skipped on purpose, without a
            # finding, so a folder copied from a Mac is not a page of warnings. They are never
            # opened: the transcript reader skips them as well.
            continue
        problem = name_problem(path.name)
        if problem is not None:
            # Even a file we would not send is refused: it cannot be named in the manifest.
            findings.append(_error("voice.unsafe_name", f"{key}/{printable(path.name)}", problem))
            continue
        rel = f"{key}/{path.name}"
        name = path.name.lower()
        unexaminable = folder_error
        try:
            mode = path.lstat().st_mode
        except OSError as exc:
            unexaminable = exc
        if unexaminable is not None:
            findings.append(_error("voice.unreadable", rel, f"cannot examine: {unexaminable}"))
            continue
        inside = folder_inside
        if stat.S_ISLNK(mode) or not inside:
            why = "symlinks are refused (they may lead outside the inbox); not followed"
            findings.append(_error("voice.unsafe_path", rel, why))
            if name == "voice.toml":
                meta_seen = True
            continue
        if name == "voice.toml":
            meta_seen = True
            if meta is not None:
                findings.append(_error("voice.metadata_invalid", rel, "several voice.toml files"))
                continue
            meta, meta_findings = read_meta(path, rel)
            findings.extend(meta_findings)
            continue
        if stat.S_ISDIR(mode):
            findings.append(_unexpected(rel, "sub-folders are not read"))
            continue
        if not stat.S_ISREG(mode):
            # A FIFO named 0001.wav would block whoever opens it; a device would never end.
            why = "not a regular file (a FIFO, socket or device); never opened"
            findings.append(_error("voice.unsafe_path", rel, why))
            continue
        if name == "consent.wav":
            consent = path
        elif name.endswith(".wav"):
            wavs.append(path)
        elif name.endswith(".txt") or name in _TRANSCRIPT_FILES:
            transcripts.append(path)
        elif name.startswith("authorization") and name.endswith(_AUTH_EXTS):
            authorization = path
        else:
            findings.append(_unexpected(rel, "not part of the inbox layout; not sent"))
    if not meta_seen:
        findings.append(
            _error(
                "voice.metadata_missing",
                f"{key}/voice.toml",
                "voice.toml is missing (voice_name is required)",
            )
        )
    return VoiceSource(
        key=key,
        folder=folder,
        meta=meta,
        wavs=tuple(wavs),
        transcript_files=tuple(transcripts),
        authorization=authorization,
        consent=consent,
        findings=tuple(findings),
    )


def _unexpected(rel: str, why: str) -> Finding:
    return Finding(severity=Severity.WARNING, code="voice.unexpected_file", file=rel, message=why)


def read_meta(path: Path, rel: str) -> tuple[VoiceMeta | None, list[Finding]]:
    """Parse voice.toml; problems become ``voice.metadata_invalid`` errors naming the key.

    Never raises and never hangs: the file is read with ``read_small_file`` (no symlink, no
    FIFO, at most MAX_META_BYTES), nesting is refused before tomllib sees it, and every value
    must be a short string without control characters.
    """

    def bad(message: str) -> tuple[None, list[Finding]]:
        return None, [_error("voice.metadata_invalid", rel, message)]

    try:
        raw = read_small_file(path, max_bytes=MAX_META_BYTES)
    except FileRefused as exc:
        return bad(f"voice.toml refused: {exc}")
    except OSError as exc:
        return bad(f"cannot read: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return bad("voice.toml is not UTF-8")
    if _too_deep(text):
        return bad(f"keys nested deeper than {MAX_META_DEPTH} levels; voice.toml is flat")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return bad(f"not valid TOML: {exc}")
    except RecursionError:
        # Arrays or inline tables nested hundreds deep: tomllib recurses once per level.
        return bad("not valid TOML: nested too deeply")
    for k in data:
        if k not in _META_KEYS:
            return bad(f"unknown key {_shown(k)}")
    values: dict[str, str | None] = {}
    for k in _META_KEYS:
        v = data.get(k)
        if v is None:
            values[k] = None
            continue
        if not isinstance(v, str):
            return bad(f"{k} must be a string (got {type(v).__name__})")
        v = v.strip()
        controls = _DESCRIPTION_CONTROLS if k == "description" else _VALUE_CONTROLS
        if controls.search(v):
            return bad(f"{k} holds control characters")
        if k in _ENUMS and v not in _ENUMS[k]:
            return bad(f"{k} must be one of {', '.join(_ENUMS[k])} (got {_shown(v)})")
        if k == "tag" and v not in _TAGS:
            return bad(f"tag must be one of {', '.join(_TAGS)} (got {_shown(v)})")
        if len(v) > MAX_META_VALUE:
            return bad(f"{k} is longer than {MAX_META_VALUE} characters")
        values[k] = v or None
    voice_name = values.pop("voice_name")
    if not voice_name:
        return bad("voice_name is required")
    return VoiceMeta(voice_name=voice_name, **values), []


def _too_deep(text: str) -> bool:
    """Whether a key or table header has more than MAX_META_DEPTH dots (before any '=')."""
    return any(line.partition("=")[0].count(".") > MAX_META_DEPTH for line in text.split("\n"))


def _shown(text: str) -> str:
    """A value quoted for a message: one line, at most 40 characters of it."""
    return repr(text[:40] + ("…" if len(text) > 40 else ""))
