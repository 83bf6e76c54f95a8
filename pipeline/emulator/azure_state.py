"""Azure Custom Voice emulator state: frozen resource records, time-driven status, lists.

Statuses are never advanced by a task: each consent and personal voice carries a ``Timeline``
fixed at creation (when it starts running, when it ends, how), and its status is computed from
the emulated clock whenever somebody looks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from pipeline.emulator.azure_errors import bad_argument

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


def check_id(value: str, target: str) -> str:
    """``value`` if it is a valid ``ResourceId``, else a 400 naming ``target``."""
    if not ID_PATTERN.match(value):
        raise bad_argument(
            target,
            f"The {target} '{value[:80]}' is invalid: 3-64 characters of letters, digits, '.', "
            "'_' and '-', starting and ending with a letter or digit.",
        )
    return value


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
        if self.display_name is not None:
            body["displayName"] = self.display_name
        if self.description is not None:
            body["description"] = self.description
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
        body: dict[str, object] = {"id": self.id}
        _optional(body, self.display_name, self.description)
        body.update(
            voiceTalentName=self.voice_talent_name,
            companyName=self.company_name,
            locale=self.locale,
            projectId=self.project_id,
        )
        _status(body, self.timeline, now, api_version, CONSENT_REASONS_GA, CONSENT_REASONS_PREVIEW)
        return body

    def fields(self) -> Mapping[str, str | float]:
        return {
            "projectId": self.project_id,
            "locale": self.locale,
            "createdDateTime": self.timeline.created,
        }


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
        body: dict[str, object] = {"id": self.id}
        _optional(body, self.display_name, self.description)
        body.update(
            speakerProfileId=self.speaker_profile_id,
            projectId=self.project_id,
            consentId=self.consent_id,
        )
        _status(body, self.timeline, now, api_version, MODEL_REASONS_GA, MODEL_REASONS_PREVIEW)
        return body

    def fields(self) -> Mapping[str, str | float]:
        return {
            "projectId": self.project_id,
            "locale": self.locale,
            "createdDateTime": self.timeline.created,
        }


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


def _status(
    body: dict[str, object],
    timeline: Timeline,
    now: float,
    api_version: str,
    ga_reasons: frozenset[str],
    preview_reasons: frozenset[str],
) -> None:
    status, entered = timeline.status_at(now)
    reason = timeline.failure_at(now)
    if reason is not None:
        known = ga_reasons if api_version == GA_VERSION else preview_reasons
        body["properties"] = {"failureReason": reason if reason in known else "Internal"}
    body["status"] = status
    body["createdDateTime"] = format_time(timeline.created)
    body["lastActionDateTime"] = format_time(entered)


# --- list filters --------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:'((?:[^']|'')*)'|([^\s']+))")
_OPERATORS: Final = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_ORDERED_ONLY: Final = frozenset({"gt", "ge", "lt", "le"})
Predicate = Callable[[Mapping[str, str | float]], bool]


def parse_filter(text: str, allowed: Iterable[str]) -> Predicate:
    """Compile ``prop op value [and prop op value ...]`` (the spec's grammar) into a predicate.

    String literals are single-quoted (``''`` escapes a quote), datetimes are bare; ``gt/ge/lt/le``
    only apply to ``createdDateTime``. Anything else is a 400, like a real OData parser would give.
    """
    allowed_set = frozenset(allowed)
    tokens: list[tuple[str, bool]] = []  # (text, was quoted)
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise bad_argument("filter", f"Cannot parse the filter '{text}'.")
        quoted, bare = match.group(1), match.group(2)
        tokens.append((quoted.replace("''", "'"), True) if quoted is not None else (bare, False))
        pos = match.end()
    clauses: list[Predicate] = []
    i = 0
    while True:
        if i + 3 > len(tokens):
            raise bad_argument("filter", f"Cannot parse the filter '{text}'.")
        (prop, prop_quoted), (op, _), (value, quoted) = tokens[i : i + 3]
        op = op.lower()
        if prop_quoted or prop not in allowed_set:
            raise bad_argument("filter", f"Cannot filter on '{prop}' here.")
        if op not in _OPERATORS:
            raise bad_argument("filter", f"Unknown filter operator '{op}'.")
        clauses.append(_clause(prop, op, value, quoted))
        i += 3
        if i == len(tokens):
            break
        if tokens[i][0].lower() != "and" or tokens[i][1]:
            raise bad_argument("filter", f"Cannot parse the filter '{text}'.")
        i += 1
    return lambda fields: all(clause(fields) for clause in clauses)


def _clause(prop: str, op: str, value: str, quoted: bool) -> Predicate:
    if prop == "createdDateTime":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise bad_argument("filter", f"'{value}' is not an ISO-8601 date-time.") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # compare at the millisecond precision the API shows
        limit = math.floor(parsed.timestamp() * 1000)

        def compare(fields: Mapping[str, str | float]) -> bool:
            ms = math.floor(float(fields[prop]) * 1000)
            return {
                "eq": ms == limit,
                "ne": ms != limit,
                "gt": ms > limit,
                "ge": ms >= limit,
                "lt": ms < limit,
                "le": ms <= limit,
            }[op]

        return compare
    if op in _ORDERED_ONLY:
        raise bad_argument("filter", f"'{op}' only applies to createdDateTime.")
    if not quoted:
        raise bad_argument("filter", f"The value for '{prop}' must be a quoted string.")
    if op == "eq":
        return lambda fields: prop in fields and fields[prop] == value
    return lambda fields: prop not in fields or fields[prop] != value


def page_bounds(query: Mapping[str, str]) -> tuple[int, int]:
    """``skip`` and ``maxpagesize`` from the query: defaults 0 and 100; 100 is also the cap
    (the real maximum is undocumented, so the emulator picks the default)."""

    def number(name: str, default: int, low: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_argument(name, f"'{raw}' is not an integer.") from None
        if value < low:
            raise bad_argument(name, f"{name} must be at least {low}.")
        return value

    return number("skip", 0, 0), min(number("maxpagesize", 100, 1), 100)
