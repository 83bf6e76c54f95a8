"""A typed client for Azure AI Speech personal voice (Custom Voice REST, reference §4–§6).

One method per REST call under ``{endpoint}/customvoice``, over :class:`.api.AzureApi` (the key,
``api-version``, the request window, retries, and where links may go); answers are parsed at
the edge into frozen records (:mod:`.records`; anything unexpected is a
``ProviderProtocolError``). Stage logic (ids, waiting, adopting) lives in :mod:`.provider`.

A project PUT refused for an existing project (some accounts refuse, where the docs are silent:
reference §11.5) is followed by a GET, and the project is adopted when it is a personal-voice
project. ``nextLink`` and ``Operation-Location`` go through :meth:`.api.AzureApi.link`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import structlog

from pipeline.errors import (
    AuthenticationFailed,
    ConfigError,
    NotFound,
    ProviderProtocolError,
    ProviderRejected,
)
from pipeline.providers.azure import pages, records
from pipeline.providers.azure.api import (
    API_VERSIONS,
    AZURE,
    AZURE_RETRY,
    DEFAULT_API_VERSION,
    PAGE_SIZE,
    QUOTA,
    THROTTLE_CODES,
    AzureApi,
)
from pipeline.providers.azure.records import (
    AudioFile,
    BlobSource,
    Consent,
    Created,
    Operation,
    Page,
    PersonalVoice,
    Project,
)
from pipeline.providers.http.fields import JsonObject, json_object, string
from pipeline.providers.http.urls import segment as _seg

__all__ = [
    "API_VERSIONS",
    "AZURE",
    "AZURE_RETRY",
    "DEFAULT_API_VERSION",
    "PAGE_SIZE",
    "QUOTA",
    "THROTTLE_CODES",
    "AzureClient",
]

log = structlog.get_logger("pipeline.providers.azure")

_Identified = TypeVar("_Identified", Consent, PersonalVoice)
R = TypeVar("R")
#: The project kind this tool creates and adopts.
PERSONAL: str = "PersonalVoice"


class AzureClient(AzureApi):
    """Typed calls to the Custom Voice API over a shared ``HttpTransport``."""

    # -- projects --------------------------------------------------------------------------

    async def put_project(
        self,
        project_id: str,
        *,
        kind: str = PERSONAL,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Project:
        """Create the project, or confirm it exists: PUT is create-or-update on most accounts
        (reference §11.5); where a PUT of an existing project is refused, the project is read
        and adopted if it is of ``kind``. Another kind is a ConfigError (pick another id)."""
        payload: dict[str, object] = {"kind": kind, **dict(_optional(display_name, description))}
        try:
            obj, _ = await self._json(
                "put_project",
                "PUT",
                f"projects/{_seg(project_id)}",
                policy="create",
                payload=payload,
            )
        except ProviderRejected as exc:
            if isinstance(exc, AuthenticationFailed | NotFound):
                raise
            existing = await self.find_project(project_id)
            if existing is None:
                raise
            if existing.kind != kind:
                raise ConfigError(
                    f"[provider] project = {project_id!r} exists as a {existing.kind} project; "
                    f"personal voices need a {kind} project: choose another project id"
                ) from None
            log.info("azure.project_adopted", project=project_id, code=exc.code)
            return existing
        return records.project(obj)

    async def get_project(self, project_id: str) -> Project:
        """``GET /projects/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_project", "GET", f"projects/{_seg(project_id)}", policy="read"
        )
        return records.project(obj)

    async def find_project(self, project_id: str) -> Project | None:
        """The project, or None when it does not exist."""
        return await _found(self.get_project, project_id)

    async def list_projects(self, *, next_link: str | None = None) -> Page[Project]:
        """One page of the Speech resource's projects, or the page at ``next_link``."""
        return await self._list_page("projects", records.project, None, None, next_link)

    # -- consents --------------------------------------------------------------------------

    async def create_consent(
        self,
        consent_id: str,
        *,
        operation_id: str,
        project_id: str,
        voice_talent_name: str,
        company_name: str,
        locale: str,
        audio: AudioFile,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Created[Consent]:
        """``POST /consents/{id}`` multipart with the consent recording (reference §5.3)."""
        fields = [
            ("projectId", project_id),
            ("voiceTalentName", voice_talent_name),
            ("companyName", company_name),
            ("locale", locale),
        ]
        fields += _optional(display_name, description)
        answer = await self._form(
            "create_consent",
            f"consents/{_seg(consent_id)}",
            operation_id=operation_id,
            fields=fields,
            files=[("audiodata", audio)],
        )
        return records.created(*answer, "consent", records.consent)

    async def get_consent(self, consent_id: str) -> Consent:
        """``GET /consents/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_consent", "GET", f"consents/{_seg(consent_id)}", policy="read"
        )
        return records.consent(obj)

    async def find_consent(self, consent_id: str) -> Consent | None:
        """The consent, or None when it does not exist."""
        return await _found(self.get_consent, consent_id)

    async def list_consents(
        self,
        project_id: str | None = None,
        *,
        created_since: datetime | None = None,
        next_link: str | None = None,
    ) -> Page[Consent]:
        """One page of consents (of ``project_id``, created at or after ``created_since``), or
        the page at ``next_link``."""
        return await self._list_page(
            "consents", records.consent, project_id, created_since, next_link
        )

    async def iter_consents(
        self, project_id: str, *, created_since: datetime | None = None
    ) -> AsyncIterator[Consent]:
        """Every consent of the project (created at or after ``created_since``), page by page."""
        async for consent in self._iterate("consents", records.consent, project_id, created_since):
            yield consent

    # -- personal voices -------------------------------------------------------------------

    async def create_personal_voice(
        self,
        voice_id: str,
        *,
        operation_id: str,
        project_id: str,
        consent_id: str,
        audio: Sequence[AudioFile],
        display_name: str | None = None,
        description: str | None = None,
    ) -> Created[PersonalVoice]:
        """``POST /personalvoices/{id}`` multipart, one ``audiodata`` part per file (§6.3)."""
        if not audio:
            raise ValueError("a personal voice needs at least one audio file")
        fields = [("projectId", project_id), ("consentId", consent_id)]
        fields += _optional(display_name, description)
        answer = await self._form(
            "create_personal_voice",
            f"personalvoices/{_seg(voice_id)}",
            operation_id=operation_id,
            fields=fields,
            files=[("audiodata", a) for a in audio],
        )
        return records.created(*answer, "personal voice", records.personal_voice)

    async def create_personal_voice_from_blobs(
        self,
        voice_id: str,
        *,
        operation_id: str,
        project_id: str,
        consent_id: str,
        source: BlobSource,
        display_name: str | None = None,
        description: str | None = None,
    ) -> Created[PersonalVoice]:
        """``PUT /personalvoices/{id}`` with ``audios`` naming blobs (§6.4)."""
        payload: dict[str, object] = {
            "projectId": project_id,
            "consentId": consent_id,
            "audios": source.to_json(),
            **dict(_optional(display_name, description)),
        }
        answer = await self._json(
            "create_personal_voice",
            "PUT",
            f"personalvoices/{_seg(voice_id)}",
            policy="create",
            payload=payload,
            headers={"Operation-Id": operation_id},
        )
        return records.created(*answer, "personal voice", records.personal_voice)

    async def get_personal_voice(self, voice_id: str) -> PersonalVoice:
        """``GET /personalvoices/{id}``; ``NotFound`` when there is none."""
        obj, _ = await self._json(
            "get_personal_voice", "GET", f"personalvoices/{_seg(voice_id)}", policy="read"
        )
        return records.personal_voice(obj)

    async def find_personal_voice(self, voice_id: str) -> PersonalVoice | None:
        """The personal voice, or None when it does not exist."""
        return await _found(self.get_personal_voice, voice_id)

    async def list_personal_voices(
        self,
        project_id: str | None = None,
        *,
        created_since: datetime | None = None,
        next_link: str | None = None,
    ) -> Page[PersonalVoice]:
        """One page of personal voices (of ``project_id``, created at or after
        ``created_since``), or the page at ``next_link``."""
        return await self._list_page(
            "personalvoices", records.personal_voice, project_id, created_since, next_link
        )

    async def iter_personal_voices(
        self, project_id: str, *, created_since: datetime | None = None
    ) -> AsyncIterator[PersonalVoice]:
        """Every personal voice of the project, following ``nextLink`` page by page."""
        async for voice in self._iterate(
            "personalvoices", records.personal_voice, project_id, created_since
        ):
            yield voice

    async def _list_page(
        self,
        collection: str,
        parse: Callable[[JsonObject], R],
        project_id: str | None,
        created_since: datetime | None,
        next_link: str | None,
    ) -> Page[R]:
        if next_link is not None:
            url = self.link(next_link, "nextLink")
        else:
            url = self.url(
                collection, pages.first_query(self._page_size, project_id, created_since)
            )
        response = await self._call(f"list_{collection}", "GET", url, policy="read")
        return pages.page(response.json(), collection, parse)

    def _iterate(
        self,
        collection: str,
        parse: Callable[[JsonObject], _Identified],
        project_id: str | None,
        created_since: datetime | None,
    ) -> AsyncIterator[_Identified]:
        async def fetch(next_link: str | None) -> Page[_Identified]:
            if next_link is None:
                return await self._list_page(collection, parse, project_id, created_since, None)
            return await self._list_page(collection, parse, None, None, next_link)

        return pages.iterate(fetch)

    # -- operations ------------------------------------------------------------------------

    async def get_operation(self, operation_id: str) -> Operation:
        """``GET /operations/{id}``: the status of a create (reference §2.3)."""
        return await self._operation(self.url(f"operations/{_seg(operation_id)}"))

    async def operation_of(self, created: Created[R]) -> Operation:
        """The status of a create's operation, read at its ``Operation-Location`` (through
        :meth:`link`: rebuilt on our endpoint unless it is ours or Azure's), else by its id."""
        if created.operation_location is not None:
            return await self._operation(
                self.link(created.operation_location, "Operation-Location")
            )
        if created.operation_id is None:
            raise ProviderProtocolError("the create answered without an operation")
        return await self.get_operation(created.operation_id)

    async def _operation(self, url: str) -> Operation:
        response = await self._call("get_operation", "GET", url, policy="read")
        obj = json_object(response.json(), "get_operation")
        return Operation(id=string(obj, "id"), status=string(obj, "status"))


def _optional(display_name: str | None, description: str | None) -> list[tuple[str, str]]:
    """The optional ``displayName`` and ``description`` fields that are given."""
    given = (("displayName", display_name), ("description", description))
    return [(name, value) for name, value in given if value is not None]


async def _found(get: Callable[[str], Awaitable[R]], resource_id: str) -> R | None:
    """``await get(resource_id)``, or None when it does not exist."""
    try:
        return await get(resource_id)
    except NotFound:
        return None
