"""What a content finding heard and what was written, in its one-line message.

The prepare stage writes the message with :func:`mismatch_message`; the report takes it
apart with :func:`split_mismatch` to show the two side by side. Kept here, apart from the
recognizer, so the report reads it without importing any audio code.
"""

from __future__ import annotations

from typing import Final

#: The codes whose messages carry what was heard.
HEARD_CODES: Final = frozenset({"transcript.mismatch", "consent.mismatch"})


def mismatch_message(lead: str, detail: str, heard: str, written: str) -> str:
    """One line: what is wrong, the measurements, what was heard, what was written."""
    return f'{lead} ({detail}); heard: "{heard}"; written: "{written}"'


def split_mismatch(message: str) -> tuple[str, str, str] | None:
    """(lead, heard, written) of a :func:`mismatch_message`, or None for another message."""
    head, sep, rest = message.partition('; heard: "')
    heard, sep2, written = rest.partition('"; written: "')
    if not sep or not sep2 or not written.endswith('"'):
        return None
    return head, heard, written[:-1]
