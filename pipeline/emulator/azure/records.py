"""Azure Custom Voice resources as frozen records, their JSON, and time-driven status.

Statuses are never advanced by a task: each consent and personal voice carries a ``Timeline``
fixed at creation (when it starts running, when it ends, how), and its status is computed from
the emulated clock whenever somebody looks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pipeline.emulator.azure.errors import bad_argument

#: ``ResourceId`` of the spec: path ids, body ids and ``Operation-Id``.
ID_PATTERN: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,62}[a-zA-Z0-9]$")

PROJECT_KINDS: Final = frozenset({"ProfessionalVoice", "PersonalVoice"})

#: Failure reasons per api-version (§5.6, §6.6); a reason a version does not know is shown as
#: ``Internal`` to that version's callers.
CONSENT_REASONS_GA: Final = frozenset({"AudioAndScriptNotMatch", "Internal"})
CONSENT_REASONS_PREVIEW: Final = CONSENT_REASONS_GA | {"None"}
MODEL_REASONS_GA: Final = frozenset(
    {
        "InaccessibleCustomerStorage",
        "SpeakerVerificationFailed",
        "TerminateByUser",
        "Internal",
        "DataNotReady",
        "DataNotEnough",
    }
)
MODEL_REASONS_PREVIEW: Final = frozenset(
    {
        "None",
        "InaccessibleCustomerStorage",
        "SpeakerVerificationFailed",
        "TerminateByUser",
        "Internal",
    }
)
GA_VERSION: Final = "2026-01-01"
CONSENT_REASONS: Final = (CONSENT_REASONS_GA, CONSENT_REASONS_PREVIEW)
MODEL_REASONS: Final = (MODEL_REASONS_GA, MODEL_REASONS_PREVIEW)


def check_id(value: str, target: str) -> str:
    """``value`` if it is a valid ``ResourceId``, else a 400 naming ``target``."""
    if not ID_PATTERN.match(value):
        raise bad_argument(
            target,
            f"The {target} '{value[:80]}' is invalid: 3-64 characters of letters, digits, '.', "
            "'_' and '-', starting and ending with a letter or digit.",
        )
    return value


_LOCALE_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def check_locale(locale: str) -> None:
    """A 400 unless ``locale`` has the shape of a BCP-47 tag (en-US, zh-CN, en-us); the
    service's locale list is not reproduced."""
    parts = locale.split("-")
    if not (2 <= len(parts[0]) <= 3 and parts[0].isalpha()) or not set(locale) <= _LOCALE_CHARS:
        raise bad_argument("locale", f"'{locale[:40]}' is not a BCP-47 locale.")


def format_time(t: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as in every example of the spec."""
    ms = math.floor(t * 1000)
    stamp = datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ms % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class StoredAudio:
    """One audio file a request brought (multipart part, blob, or audioUrl), kept on disk."""

    part: str  #: form part name as sent, "blob" or "audioUrl"
    filename: str  #: client file name, blob name, or URL path
    content_type: str
    size: int
    sha256: str
    path: Path
    format: str  #: "wav" or "mp3"
    duration_s: float


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a long-running resource starts and ends, and how (emulated Unix seconds)."""

    created: float
    started: float  #: NotStarted → Running
    finished: float  #: Running → terminal; ``math.inf`` = never (a forced stuck state)
    outcome: str  #: "Succeeded" or "Failed"
    failure_reason: str | None = None

    def status_at(self, now: float) -> tuple[str, float]:
        """The status at ``now`` and the time it was entered (``lastActionDateTime``)."""
        if now < self.started:
            return "NotStarted", self.created
        if now < self.finished:
            return "Running", self.started
        return self.outcome, self.finished

    def failure_at(self, now: float) -> str | None:
        return self.failure_reason if self.status_at(now)[0] == "Failed" else None


@dataclass(frozen=True, slots=True)
class Project:
    """A project (no status: created synchronously)."""

    id: str
    kind: str
    created: float
    display_name: str | None = None
    description: str | None = None
    locale: str | None = None

    def to_json(self, api_version: str) -> dict[str, object]:
        body: dict[str, object] = {"id": self.id}
        _optional(body, self.display_name, self.description)
        body["kind"] = self.kind
        if self.locale is not None and api_version == GA_VERSION:
            body["locale"] = self.locale  # Project.locale exists in the GA spec only
        body["createdDateTime"] = format_time(self.created)
        return body

    def fields(self) -> Mapping[str, str | float]:
        return {"kind": self.kind, "locale": self.locale or "", "createdDateTime": self.created}


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent: the talent's recorded statement."""

    id: str
    project_id: str
    voice_talent_name: str
    company_name: str
    locale: str
    timeline: Timeline
    audio: tuple[StoredAudio, ...]
    operation_id: str
    source: str  #: "multipart" or "audioUrl"
    display_name: str | None = None
    description: str | None = None

    def to_json(self, now: float, api_version: str) -> dict[str, object]:
        properties = {
            "voiceTalentName": self.voice_talent_name,
            "companyName": self.company_name,
            "locale": self.locale,
            "projectId": self.project_id,
        }
        return _resource_json(self, properties, now, api_version, CONSENT_REASONS)

    def fields(self) -> Mapping[str, str | float]:
        return _fields(self.project_id, self.locale, self.timeline)


@dataclass(frozen=True, slots=True)
class PersonalVoice:
    """A personal voice built from prompt audio against a consent."""

    id: str
    project_id: str
    consent_id: str
    speaker_profile_id: str
    timeline: Timeline
    audio: tuple[StoredAudio, ...]
    operation_id: str
    source: str  #: "multipart" or "blob"
    locale: str = ""  #: the consent's, so "locale eq" can match personal voices
    display_name: str | None = None
    description: str | None = None

    def to_json(self, now: float, api_version: str) -> dict[str, object]:
        properties = {
            "speakerProfileId": self.speaker_profile_id,
            "projectId": self.project_id,
            "consentId": self.consent_id,
        }
        return _resource_json(self, properties, now, api_version, MODEL_REASONS)

    def fields(self) -> Mapping[str, str | float]:
        return _fields(self.project_id, self.locale, self.timeline)


@dataclass(frozen=True, slots=True)
class Operation:
    """What ``GET /operations/{id}`` reports: it follows its resource's timeline."""

    id: str
    kind: str  #: "consent" or "personalvoice"
    resource_id: str
    timeline: Timeline


@dataclass(frozen=True, slots=True)
class Replay:
    """The answer given to the first request with an ``Operation-Id``, kept for identical retries."""

    fingerprint: str
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


def _optional(body: dict[str, object], display_name: str | None, description: str | None) -> None:
    if display_name is not None:
        body["displayName"] = display_name
    if description is not None:
        body["description"] = description


def _resource_json(
    resource: Consent | PersonalVoice,
    properties: Mapping[str, object],
    now: float,
    api_version: str,
    reasons: tuple[frozenset[str], frozenset[str]],
) -> dict[str, object]:
    """A consent's or personal voice's body: id, names, ``properties``, then its status at
    ``now``; a failure reason ``api_version`` does not know (``reasons``: GA, preview) reads
    ``Internal``."""
    body: dict[str, object] = {"id": resource.id}
    _optional(body, resource.display_name, resource.description)
    body.update(properties)
    timeline = resource.timeline
    status, entered = timeline.status_at(now)
    reason = timeline.failure_at(now)
    if reason is not None:
        known = reasons[0] if api_version == GA_VERSION else reasons[1]
        body["properties"] = {"failureReason": reason if reason in known else "Internal"}
    body["status"] = status
    body["createdDateTime"] = format_time(timeline.created)
    body["lastActionDateTime"] = format_time(entered)
    return body


def _fields(project_id: str, locale: str, timeline: Timeline) -> Mapping[str, str | float]:
    """What a list filter of consents or personal voices can test."""
    return {"projectId": project_id, "locale": locale, "createdDateTime": timeline.created}
