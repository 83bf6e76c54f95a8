"""Cleaning decoded transcript text: controls and invisible characters out, spaces collapsed, NFC.

Control characters are removed (or turned into a space where they separate words: form feed,
vertical tab, NEL, the C0 separators), as are invisible format characters that only confuse
aligners (BOM/ZWNBSP, zero-width space, bidi controls); runs of whitespace collapse to one
space; the text is stripped and put in Unicode NFC.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["clean_text"]

# Controls that separate words (str.isspace() is true for them) become a space; the rest are
# removed, so NULs interleaved by a mis-decoded file do not split words apart.
_SPACING_CONTROLS: Final = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_DROPPED: Final = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"  # C0/C1 controls other than \t \n \r and the above
    "\ufeff\u200b"  # BOM / zero-width no-break space, zero-width space
    "\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, embeddings, overrides, isolates
)


def clean_text(text: str) -> tuple[str, bool]:
    """NFC, control characters removed, whitespace collapsed; and whether controls were found."""
    spaced = _SPACING_CONTROLS.sub(" ", text)
    dropped = _DROPPED.sub("", spaced)
    had_controls = spaced != text or dropped != spaced
    # Controls go first: removing one between a letter and a combining mark lets NFC compose them.
    cleaned = unicodedata.normalize("NFC", " ".join(dropped.split()))
    return cleaned, had_controls
