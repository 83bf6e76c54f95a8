"""One line per voice, always: provider messages and file names can hold line breaks."""

from __future__ import annotations

import re
from typing import Final

# Every run of whitespace or control characters: \r, \n, \t, form feed, NEL, U+2028/2029 …
_BREAKS: Final = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """``text`` with every run of whitespace and control characters as one space."""
    return _BREAKS.sub(" ", text).strip()
