"""Frozen records that flow between the stages, and the status enums.

Each record's type names how far a voice has come: ``VoiceSource`` (discovered) →
``PreparedVoice`` (validated, normalized, paired) → the ledger's ``VoiceState`` (remote
progress) → ``VoiceResult`` (a manifest entry).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final


class Severity(enum.StrEnum):
    """How bad a finding is."""

    ERROR = "error"  #: rejects the voice
    WARNING = "warning"  #: worth a look; the voice is still sent
    FIXED = "fixed"  #: normalization changed something (resampled, trimmed …)
    INFO = "info"  #: said for the record (e.g. content.not_checked); changes nothing


class VoiceStatus(enum.StrEnum):
    """A voice's status in the manifest (DESIGN §3.4)."""

    READY = "ready"  #: check only: would be sent
    REJECTED = "rejected"  #: pre-flight errors; never sent
    PENDING = "pending"  #: accepted by the provider (a remote id exists), not terminal yet
    DEFERRED = "deferred"  #: could not be sent this run (provider unreachable, cut short)
    SUCCEEDED = "succeeded"  #: the provider trained it
    FAILED = "failed"  #: the provider said so; reason kept
    NEEDS_ATTENTION = "needs_attention"  #: a human must act (audit failed, consent failed …)

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_good(self) -> bool:
        """Whether this status lets the run exit 0 (``deferred`` never does: the run was cut
        short for that voice, which exits 3)."""
        return self in (VoiceStatus.READY, VoiceStatus.SUCCEEDED, VoiceStatus.PENDING)


_TERMINAL = frozenset(
    {VoiceStatus.REJECTED, VoiceStatus.SUCCEEDED, VoiceStatus.FAILED, VoiceStatus.NEEDS_ATTENTION}
)


#: Marks a fingerprint re-queued by ``retry --force`` with unchanged files (a new remote job
#: for the same content): ``<fingerprint>~retry<n>``.
FORCED_MARK = "~retry"


def same_content(recorded: str, current: str) -> bool:
    """Whether the ledger's ``recorded`` fingerprint belongs to inputs that now hash to
    ``current`` (a forced retry's suffix aside)."""
    return recorded.split(FORCED_MARK, 1)[0] == current


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One observation about a voice or one of its files."""

    severity: Severity
    code: str  #: dotted, stable; listed in the README (see pipeline.codes)
    file: str | None  #: inbox-relative path, or None for the voice as a whole
    message: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "severity": str(self.severity),
            "code": self.code,
            "file": self.file,
            "message": self.message,
        }


#: The values voice.toml's enumerated keys allow (Huawei's create body).
VOICE_CHOICES: Final = {
    "sex": ("FEMALE", "MALE"),
    "language": ("CN", "EN"),
    "tag": ("ECOMMERCE", "NEWS", "MARKETING", "LIVE", "EDUCATION", "CUSTOMER", "STORYTELLING"),
}
#: What each voice.toml key means (the JSON Schema and the README say it).
VOICE_MEANINGS: Final = {
    "voice_name": "the name the provider trains the voice under (unique in the batch)",
    "sex": "Huawei: the speaker's sex",
    "language": "Huawei: the recordings' language",
    "tag": "Huawei: the voice's use",
    "description": "free text sent with the job",
    "phone": "Huawei: a contact phone number",
    "talent_name": "Azure consent: the voice talent's name as spoken in consent.wav",
    "company_name": "Azure consent: the company's name as spoken in consent.wav",
    "locale": "Azure: the consent's and voice's BCP-47 locale, e.g. en-US",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceMeta:
    """The contents of a voice's ``voice.toml``."""

    voice_name: str
    sex: str | None = None  #: FEMALE / MALE (Huawei)
    language: str | None = None  #: CN / EN (Huawei)
    tag: str | None = None
    description: str | None = None
    phone: str | None = None
    talent_name: str | None = None  #: Azure consent
    company_name: str | None = None  #: Azure consent
    locale: str | None = None  #: Azure, BCP-47


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSource:
    """One voice folder as found in the inbox; nothing read beyond names and voice.toml."""

    key: str  #: the folder name: the stable voice key
    folder: Path
    meta: VoiceMeta | None  #: None when voice.toml is missing or invalid (see findings)
    wavs: tuple[Path, ...]  #: recordings, sorted by name (consent.wav excluded)
    transcript_files: tuple[Path, ...]  #: *.txt beside clips, transcripts.tsv, metadata.csv
    authorization: Path | None  #: Huawei authorization letter
    consent: Path | None  #: Azure consent.wav
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioInfo:
    """Measurements of one audio file (pipeline.audio.analyze)."""

    frames: int
    sample_rate: int
    channels: int
    subtype: str  #: libsndfile subtype, e.g. PCM_16, PCM_24, FLOAT
    duration_s: float
    peak_dbfs: float  #: sample peak over all channels; -inf for digital silence
    clipped_samples: int  #: samples in runs of >= 3 consecutive full-scale samples
    clip_fraction: float  #: clipped_samples / (frames * channels)
    dc_offset: float  #: mean of the (downmixed) signal, full scale = 1.0
    loudness_lufs: float  #: ITU-R BS.1770 integrated loudness; -inf when silent or too short
    lead_silence_s: float
    trail_silence_s: float
    snr_db: float  #: estimate (speech vs noise-floor frame energies); capped at 100 dB


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedClip:
    """One recording, normalized and paired with its transcript."""

    index: int  #: position in the upload (0-based; Huawei names it f"{index}.wav")
    source: str  #: inbox-relative path of the original recording
    sha256: str  #: of the source bytes
    normalized: Path  #: the cache file with the provider's format
    normalized_crc32: int | None = None  #: CRC-32 of that file (the zip's headers need it)
    duration_s: float  #: of the normalized audio
    sample_rate_in: int
    sample_rate_out: int
    text: str | None  #: the transcript, NFC, whitespace cleaned; None when not needed
    transcript: str | None  #: inbox-relative path of the transcript source
    info_in: AudioInfo | None = None
    info_out: AudioInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedVoice:
    """A voice ready to send (or rejected, when it has error findings)."""

    key: str
    meta: VoiceMeta | None
    clips: tuple[PreparedClip, ...]
    authorization: Path | None
    consent: Path | None  #: normalized consent audio (Azure)
    consent_source: str | None = None
    joined: Path | None = None  #: huawei-advance: all clips joined into one long WAV
    fingerprint: str  #: hash over every input byte and the profile version: a changed voice is new
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def rejected(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)


class Phase(enum.StrEnum):
    """How far a voice has come on the remote side, in order."""

    PREPARED = "prepared"  #: passed pre-flight; nothing sent yet
    CREATING = "creating"  #: intent: a create call may be in flight
    CREATED = "created"  #: the remote job/resources exist; ids recorded
    UPLOADED = "uploaded"  #: every file is stored remotely
    SUBMITTING = "submitting"  #: intent: a commit call may be in flight
    SUBMITTED = "submitted"  #: the provider is working; poll it
    DONE = "done"  #: terminal: status says how it ended

    @property
    def order(self) -> int:
        return _ORDER[self]


_ORDER = {phase: i for i, phase in enumerate(Phase)}


#: The ``remote`` keys that name a remote job or resource (not an asset or a state).
JOB_ID_KEYS = ("job_id", "consent_id", "personal_voice_id")


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceState:
    """What the ledger knows about one voice of one batch."""

    batch: str
    key: str  #: the voice folder name
    fingerprint: str  #: of the inputs this state belongs to
    voice_name: str
    stage: Phase
    status: VoiceStatus
    remote: Mapping[str, str] = field(default_factory=dict)  #: job_id, asset_id, state …
    uploaded: tuple[str, ...] = ()  #: names of objects already stored remotely
    attempts: int = 0  #: provider calls that failed for this voice
    last_error: str | None = None
    findings: tuple[Finding, ...] = ()  #: from the provider (audit result, failure reason)
    history: tuple[str, ...] = ()  #: earlier remote job ids (replaced after a retry)
    updated_at: float = field(default_factory=time.time)

    def advance(self, stage: Phase, **changes: object) -> VoiceState:
        """A copy at ``stage`` with the given fields changed and a fresh timestamp."""
        return replace(self, stage=stage, updated_at=time.time(), **changes)  # type: ignore[arg-type]

    @property
    def job_ids(self) -> tuple[str, ...]:
        """The remote job/resource ids this state holds now (see JOB_ID_KEYS)."""
        return tuple(self.remote[k] for k in JOB_ID_KEYS if self.remote.get(k))

    def with_remote(self, **values: str | None) -> dict[str, str]:
        merged = dict(self.remote)
        for k, v in values.items():
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseEvent:
    """One phase change of one voice (for timelines and status ages)."""

    key: str
    stage: Phase
    status: VoiceStatus
    at: float
    detail: str | None = None
