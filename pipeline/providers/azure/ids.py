"""The caller-chosen Azure ids of a voice, derived so that every retry addresses the same ones.

Every id and ``Operation-Id`` comes from the batch, the voice key and the voice's content
fingerprint: a lost answer, a crash or a re-run finds the same resources, and a changed
recording gets new ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
_STEM_MAX: Final = 36  #: room for "-" + 16 hex + "-" + the longest suffix within 64
_HASH_HEX: Final = 16  #: 64 bits: no collision among distinct voices in any realistic project
_SUFFIXES: Final = {"consent": "c", "consent_op": "opc", "voice": "pv", "voice_op": "oppv"}


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceIds:
    """Every caller-chosen Azure id of one voice version (each matches ``ResourceId``)."""

    consent_id: str
    consent_operation_id: str
    personal_voice_id: str
    personal_voice_operation_id: str


def _stem(text: str) -> str:
    """A readable, ``ResourceId``-safe part: unsafe runs become "-", ends are alphanumeric."""
    cleaned = _UNSAFE.sub("-", text)
    cleaned = cleaned[:_STEM_MAX]
    # ResourceId must start and end with a letter or digit.
    cleaned = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)
    return cleaned or "voice"


def voice_ids(batch: str, key: str, fingerprint: str) -> VoiceIds:
    """The ids of voice ``key`` of ``batch`` at content ``fingerprint``.

    ``<batch>-<key>`` sanitized and cut to 36 characters for people, then a hash of the exact
    batch, key and fingerprint so that distinct keys that sanitize alike never collide, and a
    changed recording gets new resources; a suffix tells the four ids apart (operation ids
    share one namespace with each other, resource ids one per kind). At most 58 characters.
    """
    stem = _stem(f"{batch}-{key}")
    digest = hashlib.sha256(f"azure-v1\0{batch}\0{key}\0{fingerprint}".encode()).hexdigest()
    base = f"{stem}-{digest[:_HASH_HEX]}"
    return VoiceIds(
        consent_id=f"{base}-{_SUFFIXES['consent']}",
        consent_operation_id=f"{base}-{_SUFFIXES['consent_op']}",
        personal_voice_id=f"{base}-{_SUFFIXES['voice']}",
        personal_voice_operation_id=f"{base}-{_SUFFIXES['voice_op']}",
    )


def blob_name(batch: str, personal_voice_id: str, index: int) -> str:
    """The blob of clip ``index``: under the voice's own prefix, so the create selects it alone."""
    return f"{blob_prefix(batch, personal_voice_id)}{index:04d}.wav"


def blob_prefix(batch: str, personal_voice_id: str) -> str:
    return f"{batch}/{personal_voice_id}/"
