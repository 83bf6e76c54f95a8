"""The transcript sources of a voice folder: which files they are, reading them, parsing lines.

Three forms are read (DESIGN §3.1), and a folder may mix them:

- ``<stem>.txt`` beside each clip (the whole file is the text; line breaks become spaces);
- ``transcripts.tsv``: ``<stem>\\t<text>`` per line (exactly two columns, as Azure wants);
- ``metadata.csv``, LJSpeech style: ``<stem>|<text>[|<normalized text>]``. Column 2 is used, never
  column 3: column 2 is the script the speaker read, while column 3 is whatever a TTS front end
  made of it (numbers spelled out, but in many Chinese sets pinyin or phonemes), and Huawei wants
  the text exactly as recorded.

Stems may carry a ``.wav`` suffix (any case). Files are read with
``pipeline.sanitize.read_small_file`` (symlinks are never followed, FIFOs never block, at most
:data:`MAX_FILE_BYTES`), and names that cannot be shown are skipped (discover refuses them).
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pipeline.errors import InputError
from pipeline.sanitize import FileRefused, name_problem, read_small_file
from pipeline.transcripts.decode import decode_text

__all__ = [
    "CONSENT_STEM",
    "CSV",
    "HEADER_STEMS",
    "MAX_FILE_BYTES",
    "TSV",
    "find_sources",
    "parse_line",
    "read_source",
    "stem_of",
]

#: A transcript list for even a huge voice is well under this; bigger is not a transcript, and
#: reading it whole would only cost memory.
MAX_FILE_BYTES: Final = 16 * 1024 * 1024

TSV: Final = "transcripts.tsv"
CSV: Final = "metadata.csv"
#: The consent recording is never a clip; a consent.txt (the statement's text) is not an orphan.
CONSENT_STEM: Final = "consent"
#: First-line stems that mark a header row rather than a clip.
HEADER_STEMS: Final = frozenset(
    {"id", "name", "file", "filename", "file_name", "stem", "audio", "audio_file", "wav", "path"}
    | {"utt", "utt_id", "utterance", "utterance_id"}
)


def stem_of(name: str) -> str:
    name = name.strip()
    return name[:-4] if name.lower().endswith(".wav") else name


def find_sources(folder: Path, files: Sequence[Path] | None) -> tuple[list[Path], list[Path]]:
    """The per-clip ``.txt`` files and the list files (tsv before csv) of a voice folder.

    ``files``: only these (the transcript files discover vetted); None lists ``folder`` itself.
    Either way, dotfiles, names that cannot be shown and anything not a regular file (symlinks
    included) are skipped, and so are consent and authorization texts.
    """
    if files is not None:
        entries = sorted(files, key=lambda p: p.name)
    else:
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
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
        if name in (TSV, CSV):
            lists.append(path)
        elif name.endswith(".txt"):
            stem = stem_of(path.name[:-4])
            if stem.lower() in ("authorization", CONSENT_STEM):
                continue
            per_clip.append(path)
    # Lists after per-clip files, tsv before csv: the order duplicates are judged in.
    lists.sort(key=lambda p: (p.name.lower() != TSV, p.name))
    return per_clip, lists


def read_source(path: Path, *, file: str, language: str | None) -> str:
    """The decoded text of one transcript file (``file``: its inbox-relative path); raise
    ``InputError(transcript.unreadable)`` when it cannot be read or decoded."""
    try:
        data = read_small_file(path, max_bytes=MAX_FILE_BYTES)
    except FileRefused as exc:
        raise InputError("transcript.unreadable", file, f"not read: {exc}") from None
    except OSError as exc:
        raise InputError(
            "transcript.unreadable", file, f"cannot read: {exc.strerror or exc}"
        ) from None
    return decode_text(data, file=file, language=language)


def parse_line(line: str, *, is_tsv: bool) -> tuple[str, str] | str:
    """``(stem, text)`` of one line of a list file, or why the line does not parse."""
    if is_tsv:
        cols = line.split("\t")
        if len(cols) != 2:
            return f"expected '<stem><TAB><text>', found {len(cols)} tab-separated columns"
    else:
        cols = line.split("|")
        if not 2 <= len(cols) <= 3:
            return f"expected '<stem>|<text>[|<normalized text>]', found {len(cols)} columns"
    stem = stem_of(cols[0])
    if not stem:
        return "the stem (first column) is empty"
    return stem, cols[1]
