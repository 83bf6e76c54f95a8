"""Transcripts of one voice folder: reading, decoding, cleaning and pairing with the recordings.

- :mod:`.sources` — which files hold transcripts (per-clip ``.txt``, ``transcripts.tsv``,
  ``metadata.csv``), reading them and parsing their lines
- :mod:`.decode` — bytes to text for the voice's language (:func:`decode_text`,
  :func:`transcript_language`), refusing what cannot be its transcript
- :mod:`.clean` — control and invisible characters out, whitespace collapsed, NFC
  (:func:`clean_text`)
- :mod:`.pairing` — every transcript matched to its recording, each problem a finding
  (:func:`read_transcripts`)
"""

from __future__ import annotations

from pipeline.transcripts.clean import clean_text
from pipeline.transcripts.decode import decode_text, transcript_language
from pipeline.transcripts.pairing import (
    MAX_FINDINGS_PER_SOURCE,
    Transcript,
    TranscriptSet,
    read_transcripts,
)
from pipeline.transcripts.sources import MAX_FILE_BYTES

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_FINDINGS_PER_SOURCE",
    "Transcript",
    "TranscriptSet",
    "clean_text",
    "decode_text",
    "read_transcripts",
    "transcript_language",
]
