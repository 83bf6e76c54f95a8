"""Wire records of Azure AI Speech personal voice (Custom Voice REST, reference §2–§6) and their
parsers (with :mod:`pipeline.providers.http.fields`: the only place JSON values become types)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Generic, TypeVar

from pipeline.errors import ProviderProtocolError, ProviderUnavailable
from pipeline.providers.http import HttpResponse, redact_url
from pipeline.providers.http.fields import JsonObject, json_object, opt_string, record

#: Terminal statuses of consents and personal voices (reference §2.4).
TERMINAL: Final = frozenset({"Succeeded", "Failed"})

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class Project:
    """A project (reference §4); it has no status."""

    id: str
    kind: str
    display_name: str | None = None
    description: str | None = None
    locale: str | None = None
    created: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """A consent: the talent's recorded statement (reference §5.2)."""

    id: str
    project_id: str
    voice_talent_name: str
    company_name: str
    locale: str
    status: str  #: NotStarted | Running | Succeeded | Failed; unknown values are kept
    failure_reason: str | None = None  #: AudioAndScriptNotMatch, Internal …
    display_name: str | None = None
    description: str | None = None
    created: str | None = None
    last_action: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True, kw_only=True)
class PersonalVoice:
    """A personal voice (reference §6.2)."""

    id: str
    project_id: str
    consent_id: str
    speaker_profile_id: str | None  #: a UUID, present from creation on
    status: str
    failure_reason: str | None = None  #: SpeakerVerificationFailed, DataNotEnough …
    display_name: str | None = None
    description: str | None = None
    created: str | None = None
    last_action: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """``GET /operations/{id}``: only an id and a status (reference §2.3)."""

    id: str
    status: str


@dataclass(frozen=True, slots=True)
class Created(Generic[R]):
    """A create's answer: the resource as created and its long-running operation."""

    resource: R
    operation_id: str | None
    operation_location: str | None


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of a list; ``next_link`` is the absolute URL of the next, if any."""

    items: tuple[R, ...]
    next_link: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class BlobSource:
    """``audios`` of a JSON personal-voice create: blobs of a container, selected by prefix.

    ``container_url`` carries the SAS (read + list) the service needs, so ``repr`` redacts it.
    """

    container_url: str = field(repr=False)
    prefix: str
    extensions: tuple[str, ...] = (".wav",)

    def __repr__(self) -> str:
        return (
            f"BlobSource(container_url={redact_url(self.container_url)!r}, "
            f"prefix={self.prefix!r}, extensions={self.extensions!r})"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "containerUrl": self.container_url,
            "prefix": self.prefix,
            "extensions": list(self.extensions),
        }


@dataclass(frozen=True, slots=True)
class AudioFile:
    """One file part of a multipart create: the name the service sees and where it is."""

    filename: str
    path: Path
    content_type: str = "audio/wav"


# --------------------------------------------------------------------------- parsers


def format_datetime(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, as the API writes timestamps (a bare literal
    in a ``filter``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str | None) -> datetime | None:
    """A timestamp of the API as an aware datetime; None when absent or unreadable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)  # 3.11 reads a trailing "Z"
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def created(
    obj: JsonObject, response: HttpResponse, what: str, parse: Callable[[JsonObject], R]
) -> Created[R]:
    """A create's answer: the resource (``obj`` read by ``parse``) and its operation."""
    # A 201 we cannot read may still have created the resource: the caller looks it up by id
    # (which it chose) on the next attempt, so this is a retryable condition, not a crash.
    try:
        resource = parse(obj)
    except ProviderProtocolError as exc:
        raise ProviderUnavailable(
            f"the {what} create answered with an unreadable body: {exc}"
        ) from exc
    headers = response.headers
    return Created(resource, headers.get("Operation-Id"), headers.get("Operation-Location"))


#: Azure's names of the record fields that are not their camelCase.
_KEYS: Final = {"created": "createdDateTime", "last_action": "lastActionDateTime"}


def project(obj: JsonObject) -> Project:
    """A project (reference §4)."""
    return record(Project, obj, camel=True, keys=_KEYS)


def _failure_reason(obj: JsonObject) -> str | None:
    props = obj.get("properties")
    if props is None:
        return None
    reason = opt_string(json_object(props, "properties"), "failureReason")
    # The preview API spells "no failure" as the enum value "None" (reference §5.6).
    return None if reason == "None" else reason


def consent(obj: JsonObject) -> Consent:
    """A consent (reference §5.2)."""
    return record(Consent, obj, camel=True, keys=_KEYS, failure_reason=_failure_reason(obj))


def personal_voice(obj: JsonObject) -> PersonalVoice:
    """A personal voice (reference §6.2)."""
    return record(PersonalVoice, obj, camel=True, keys=_KEYS, failure_reason=_failure_reason(obj))
