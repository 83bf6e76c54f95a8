"""The Azure AI Speech Custom Voice (personal voice) half of the emulator, under ``/customvoice``.

Every call passes the same gate, in the order the real service's layers apply it: subscription
key (401, gateway-style body) → sliding-window throttle per key (429 + ``Retry-After``) → added
latency → injected faults (500/503/429) → ``api-version`` (400) → the route. Errors are always
JSON with ``x-ms-error-code``.

Choices where the reference (§11) is silent, all deliberate:

* ``Operation-Id``: an identical retry (same method, path and body digest — form fields and
  file bytes for multipart, canonical JSON otherwise; query and headers ignored) replays the
  original answer: same status, body and headers. A different request with a used
  ``Operation-Id`` is 400 ``BadRequest``. Only successful creates register an ``Operation-Id``,
  so a request that failed validation can be corrected and sent again with the same id.
* PUT/POST of a consent or personal voice whose id exists (not an identical ``Operation-Id``
  replay) is 400 ``BadRequest`` with a ``BadArgument`` detail "already exists"; resources are
  never replaced. ``PUT /projects/{id}`` is create-or-update: same ``kind`` → 201 with the project
  (``displayName``/``description`` updated), another ``kind`` → 400.
* A referenced project or consent that does not exist is 400 (a body field is wrong, the URL is
  not); a consent of another project is 400; a consent that has already ``Failed`` is 400. A
  personal voice created while its consent is still running starts once the consent ends and
  fails with ``SpeakerVerificationFailed`` if the consent fails.
* Audio that is not WAV (16/24/44.1/48 kHz, 16/24/32 bit) or MP3 is 400 at request time. Blob
  (``audios``) problems are found after acceptance, like the real service: an unreadable container
  → ``InaccessibleCustomerStorage``, no matching blob or under 5 s in total → ``DataNotEnough``,
  an unreadable blob → ``Internal``. An unreadable consent ``audioUrl`` is 400.
* DELETE of an unknown id is 404; deleting a consent a personal voice uses is 400; deleting a
  project removes its consents and personal voices.
* A 500 fault on a PUT/POST/DELETE is, on a seeded coin flip, given *after* the call took effect
  (the "lost response" case that ``Operation-Id`` exists for). Half of the injected 429s carry
  ``Retry-After: 1``, half carry none (the header is undocumented; clients must cope with both);
  the throttle's own 429 always carries it. Throttling uses real time, not emulated time.
  ``upload_fault_rate`` drops multipart creates (and blob-endpoint uploads) mid-body.
* Forced outcomes are looked up by the consent's ``voiceTalentName`` (see ``azure_outcomes``).
* Statuses: consent NotStarted 0.5-1.5 s → Running 1.5-2.5 s → terminal; personal voice starts
  after its consent ends, NotStarted 0.5-1.5 s → Running 1-4 s (blob: 3-10 s); emulated seconds,
  fixed per resource by the seed and its id.

The emulator's own blob container endpoint lives in ``azure_blobstore`` (``/blob/...``);
``AzureService.container_sas_url()`` mints a SAS URL for it.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import shutil
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import aiohttp
from aiohttp import web
from yarl import URL

from pipeline.emulator.azure_audio import AudioFormatError, sniff_audio
from pipeline.emulator.azure_blob import (
    BlobFetchError,
    blob_url,
    client_session,
    download,
    list_container,
    loopback_url,
)
from pipeline.emulator.azure_blobstore import BlobStore
from pipeline.emulator.azure_errors import AzureError, bad_argument, not_found, unauthorized
from pipeline.emulator.azure_outcomes import jitter, parse_forced
from pipeline.emulator.azure_state import (
    GA_VERSION,
    PROJECT_KINDS,
    Consent,
    Operation,
    PersonalVoice,
    Project,
    Replay,
    StoredAudio,
    Timeline,
    check_id,
    format_time,
    page_bounds,
    parse_filter,
)
from pipeline.emulator.azure_upload import (
    Body,
    StagedFile,
    read_json,
    read_multipart,
    request_fingerprint,
    reset_midway,
)
from pipeline.emulator.context import EmulatorContext

API_VERSIONS: Final = frozenset(
    {"2023-04-01-preview", "2023-12-01-preview", "2024-02-01-preview", GA_VERSION}
)
MIN_PROMPT_SECONDS: Final = 5.0
_LOCALE_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_BASE_MODELS: Final = ("DragonLatestNeural", "PhoenixLatestNeural", "PhoenixV2Neural")

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
Entry = Callable[[web.Request], Awaitable[web.StreamResponse]]
R = TypeVar("R", Consent, PersonalVoice)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ResourceState:
    """A consent's or personal voice's status as a GET would show it now."""

    status: str
    last_action: float
    failure_reason: str | None


@dataclass(frozen=True, slots=True)
class AzureCounters:
    """Request accounting, for tests and ``/_emulator/state``."""

    requests: int  #: every request that reached /customvoice
    by_route: Mapping[str, int]  #: "PUT projects", "GET operations", ...
    creates: Mapping[str, int]  #: resources actually created, by kind
    replays: int  #: identical Operation-Id retries answered from the record
    throttled: int  #: 429s from the sliding-window limiter
    unauthorized: int
    faults: Mapping[int, int]  #: injected fault answers by status
    lost_responses: int  #: 500s given after the call took effect
    upload_resets: int  #: multipart uploads whose connection was dropped mid-body


class SlidingWindow:
    """At most ``limit`` admitted requests per ``window`` seconds per key (real time)."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit = limit
        self._window = window
        self._seen: dict[str, deque[float]] = {}

    def admit(self, key: str, now: float) -> float | None:
        """None if admitted (and counted), else the seconds until a slot frees up."""
        if self._limit <= 0:
            return None
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self._window:
            seen.popleft()
        if len(seen) >= self._limit:
            return seen[0] + self._window - now
        seen.append(now)
        return None


class AzureService:
    """Serves ``/customvoice/...`` like Azure AI Speech does, with inspection for tests."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._root = ctx.storage / "azure"
        self._ids = random.Random(f"azure-ids-{ctx.options.seed}")
        self._window = SlidingWindow(
            ctx.options.azure_requests_per_window, ctx.options.azure_window_s
        )
        self._projects: dict[str, Project] = {}
        self._consents: dict[str, Consent] = {}
        self._voices: dict[str, PersonalVoice] = {}
        self._operations: dict[str, Operation] = {}
        self._replays: dict[str, Replay] = {}
        self._requests = 0
        self._by_route: Counter[str] = Counter()
        self._creates: Counter[str] = Counter()
        self._replay_count = 0
        self._throttled = 0
        self._unauthorized = 0
        self._faults: Counter[int] = Counter()
        self._lost = 0
        self._upload_resets = 0
        #: switch for the "not approved for personal voice" 403 (issue #2191)
        self.approved = True
        #: the emulator's own Azure Blob endpoint (``/blob/...``) for blob-SAS mode
        self.blob_store = BlobStore(ctx)

    # --- wiring -----------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add this service's routes to ``app``."""
        routes: list[tuple[str, str, dict[str, Handler]]] = [
            ("/customvoice/projects", "projects", {"GET": self._list_projects}),
            (
                "/customvoice/projects/{id}",
                "projects",
                {"PUT": self._put_project, "GET": self._get_project, "DELETE": self._del_project},
            ),
            ("/customvoice/consents", "consents", {"GET": self._list_consents}),
            (
                "/customvoice/consents/{id}",
                "consents",
                {
                    "PUT": self._create_consent,
                    "POST": self._create_consent,
                    "GET": self._get_consent,
                    "DELETE": self._del_consent,
                },
            ),
            ("/customvoice/personalvoices", "personalvoices", {"GET": self._list_voices}),
            (
                "/customvoice/personalvoices/{id}",
                "personalvoices",
                {
                    "PUT": self._create_voice,
                    "POST": self._create_voice,
                    "GET": self._get_voice,
                    "DELETE": self._del_voice,
                },
            ),
            ("/customvoice/operations/{id}", "operations", {"GET": self._get_operation}),
            ("/customvoice/basemodels", "basemodels", {"GET": self._base_models}),
            ("/customvoice/{tail:.*}", "unknown", {}),
        ]
        for path, name, methods in routes:
            app.router.add_route("*", path, self._gate(name, methods))
        self.blob_store.install(app)

    def container_sas_url(
        self,
        container: str = "voices",
        *,
        account: str = "emulator",
        permissions: str = "racwdl",
        ttl: float | None = None,
    ) -> str:
        """A SAS URL for a container of the emulator's own blob endpoint (created on demand),
        valid for ``ttl`` real seconds (default ``url_ttl``): what ``AZURE_BLOB_CONTAINER_SAS_URL``
        holds in tests."""
        return self.blob_store.container_sas_url(
            container,
            account=account,
            permissions=permissions,
            ttl=self._ctx.options.url_ttl if ttl is None else ttl,
        )

    def _gate(self, name: str, methods: Mapping[str, Handler]) -> Entry:
        async def entry(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, name, methods)

        return entry

    async def _serve(
        self, request: web.Request, name: str, methods: Mapping[str, Handler]
    ) -> web.StreamResponse:
        self._requests += 1
        self._by_route[f"{request.method} {name}"] += 1
        key = request.headers.get("Ocp-Apim-Subscription-Key")
        if key != self._ctx.options.credentials.azure_key:
            self._unauthorized += 1
            return unauthorized()
        wait = self._window.admit(key, time.monotonic())
        if wait is not None:
            self._throttled += 1
            return self._too_many(max(1, math.ceil(wait)))
        if self._ctx.options.latency > 0:
            await asyncio.sleep(self._ctx.options.latency)
        fault = self._ctx.faults.control_fault()
        lose_response = False
        if fault is not None:
            mutating = request.method in ("PUT", "POST", "DELETE")
            if fault == 500 and mutating and self._ctx.faults.uniform(0.0, 1.0) < 0.5:
                lose_response = True
            else:
                self._faults[fault] += 1
                return self._fault(fault)
        try:
            version = self._api_version(request)
            handler = methods.get(request.method)
            if handler is None:
                if not methods:
                    raise AzureError(404, f"No route for {request.path}.", code="NotFound")
                raise AzureError(405, f"{request.method} is not allowed on {request.path}.")
            response = await handler(request, version)
        except AzureError as exc:
            response = exc.response()
        if lose_response:
            self._faults[500] += 1
            self._lost += 1
            return self._fault(500)
        return response

    def _api_version(self, request: web.Request) -> str:
        version = request.query.get("api-version")
        if not version:
            raise AzureError(400, "The api-version query parameter is required.", code="BadRequest")
        if version not in API_VERSIONS:
            supported = ", ".join(sorted(API_VERSIONS))
            raise AzureError(
                400,
                f"The api-version '{version[:40]}' is not supported. Supported: {supported}.",
                code="BadRequest",
            )
        return version

    def _too_many(self, retry_after: int | None) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return AzureError(
            429,
            "Too many requests. Personal voice allows 50 requests per 10 seconds.",
            headers=headers,
        ).response()

    def _fault(self, status: int) -> web.Response:
        if status == 429:
            # the real header is undocumented: give it half the time so clients meet both
            with_header = self._ctx.faults.uniform(0.0, 1.0) < 0.5
            return self._too_many(1 if with_header else None)
        message = "Internal server error." if status == 500 else "The service is unavailable."
        return AzureError(status, message).response()

    def _base_url(self, request: web.Request) -> str:
        return self._ctx.base_url.rstrip("/") or f"{request.scheme}://{request.host}"

    def _now(self) -> float:
        return self._ctx.clock.now()

    # --- projects ---------------------------------------------------------------------------

    async def _put_project(self, request: web.Request, version: str) -> web.StreamResponse:
        pid = check_id(request.match_info["id"], "id")
        staging = self._staging()
        try:
            body = await read_json(request, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # projects carry no files
        kind = body.fields.get("kind")
        if kind not in PROJECT_KINDS:
            raise bad_argument("kind", "kind must be 'PersonalVoice' or 'ProfessionalVoice'.")
        assert isinstance(kind, str)
        display_name = _optional_text(body, "displayName")
        description = _optional_text(body, "description")
        locale = _optional_text(body, "locale")
        if locale is not None:
            _check_locale(locale)
        if not self.approved:
            raise AzureError(403, "You don't have permission to access this resource.")
        existing = self._projects.get(pid)
        if existing is not None:
            if existing.kind != kind:
                raise bad_argument("kind", f"The kind of project '{pid}' cannot be changed.")
            project = Project(
                id=pid,
                kind=kind,
                created=existing.created,
                display_name=display_name if display_name is not None else existing.display_name,
                description=description if description is not None else existing.description,
                locale=existing.locale,
            )
        else:
            project = Project(pid, kind, self._now(), display_name, description, locale)
            self._creates["project"] += 1
        self._projects[pid] = project
        return web.json_response(project.to_json(version), status=201)

    async def _get_project(self, request: web.Request, version: str) -> web.StreamResponse:
        return web.json_response(self._project(request.match_info["id"]).to_json(version))

    async def _list_projects(self, request: web.Request, version: str) -> web.StreamResponse:
        return self._page(
            request,
            version,
            list(self._projects.values()),
            ("kind", "locale", "createdDateTime"),
            lambda p: p.to_json(version),
            lambda p: p.fields(),
        )

    async def _del_project(self, request: web.Request, version: str) -> web.StreamResponse:
        project = self._project(request.match_info["id"])
        force = request.query.get("forceDelete", "false").lower()
        if force not in ("true", "false"):
            raise bad_argument("forceDelete", "forceDelete must be true or false.")
        # the emulator has no models or endpoints, so forceDelete never matters
        for voice in [v for v in self._voices.values() if v.project_id == project.id]:
            self._drop_voice(voice)
        for consent in [c for c in self._consents.values() if c.project_id == project.id]:
            self._drop_consent(consent)
        del self._projects[project.id]
        return web.Response(status=204)

    def _project(self, pid: str) -> Project:
        project = self._projects.get(pid)
        if project is None:
            raise not_found("project", pid)
        return project

    # --- consents ---------------------------------------------------------------------------

    async def _create_consent(self, request: web.Request, version: str) -> web.StreamResponse:
        return await self._create_lro(request, version, "consent", self._build_consent)

    async def _build_consent(
        self, request: web.Request, cid: str, op_id: str, body: Body, final: Path
    ) -> Consent:
        project_id = self._referenced_project(body)
        talent = _required_text(body, "voiceTalentName")
        company = _required_text(body, "companyName")
        locale = _required_text(body, "locale")
        _check_locale(locale)
        if request.method == "POST":
            audio = [f for f in body.files if f.part.lower() == "audiodata"]
            if len(audio) != 1:
                raise bad_argument("audiodata", "Exactly one audiodata file is required.")
            staged = audio[0]
        else:
            url = loopback_url(body.fields.get("audioUrl"), "audioUrl")
            try:
                async with client_session() as session:
                    got = await download(session, url, body.staging / "audiourl.bin")
            except (BlobFetchError, aiohttp.ClientError, TimeoutError) as exc:
                raise bad_argument("audioUrl", f"The audioUrl could not be read: {exc}.") from None
            staged = StagedFile(
                "audioUrl", url.path, got.content_type, got.size, got.sha256, "audiourl.bin"
            )
        stored = _sniff(
            staged, body.staging, final, "audiodata" if request.method == "POST" else "audioUrl"
        )
        forced = parse_forced(self._ctx.options.forced_outcome(talent))
        now = self._now()
        timeline = self._timeline(
            "consent",
            cid,
            now,
            now,
            (0.5, 1.5),
            (1.5, 2.5),
            forced.consent_reason,
            forced.consent_stuck,
        )
        return Consent(
            id=cid,
            project_id=project_id,
            voice_talent_name=talent,
            company_name=company,
            locale=locale,
            timeline=timeline,
            audio=(stored,),
            operation_id=op_id,
            source="multipart" if request.method == "POST" else "audioUrl",
            display_name=_optional_text(body, "displayName"),
            description=_optional_text(body, "description"),
        )

    async def _get_consent(self, request: web.Request, version: str) -> web.StreamResponse:
        consent = self._consents.get(request.match_info["id"])
        if consent is None:
            raise not_found("consent", request.match_info["id"])
        return web.json_response(consent.to_json(self._now(), version))

    async def _list_consents(self, request: web.Request, version: str) -> web.StreamResponse:
        now = self._now()
        return self._page(
            request,
            version,
            list(self._consents.values()),
            ("projectId", "locale", "createdDateTime"),
            lambda c: c.to_json(now, version),
            lambda c: c.fields(),
        )

    async def _del_consent(self, request: web.Request, version: str) -> web.StreamResponse:
        consent = self._consents.get(request.match_info["id"])
        if consent is None:
            raise not_found("consent", request.match_info["id"])
        users = sorted(v.id for v in self._voices.values() if v.consent_id == consent.id)
        if users:
            raise bad_argument(
                "id", f"The consent is used by personal voice(s) {', '.join(users)}."
            )
        self._drop_consent(consent)
        return web.Response(status=204)

    def _drop_consent(self, consent: Consent) -> None:
        del self._consents[consent.id]
        shutil.rmtree(self._root / "consents" / consent.id, ignore_errors=True)

    # --- personal voices --------------------------------------------------------------------

    async def _create_voice(self, request: web.Request, version: str) -> web.StreamResponse:
        if version == "2023-04-01-preview":
            raise AzureError(404, "personalvoices does not exist in this api-version.")
        return await self._create_lro(request, version, "personalvoice", self._build_voice)

    async def _build_voice(
        self, request: web.Request, vid: str, op_id: str, body: Body, final: Path
    ) -> PersonalVoice:
        project_id = self._referenced_project(body)
        consent_id = check_id(_required_text(body, "consentId"), "consentId")
        consent = self._consents.get(consent_id)
        if consent is None:
            raise bad_argument("consentId", f"The consent '{consent_id}' does not exist.")
        if consent.project_id != project_id:
            raise bad_argument("consentId", f"The consent '{consent_id}' is in another project.")
        if consent.timeline.status_at(self._now())[0] == "Failed":
            raise bad_argument("consentId", f"The consent '{consent_id}' has failed.")
        reason: str | None = None
        if request.method == "POST":
            audio = [f for f in body.files if f.part.lower() == "audiodata"]
            if not audio:
                raise bad_argument("audiodata", "At least one audiodata file is required.")
            stored = [_sniff(f, body.staging, final, "audiodata") for f in audio]
            source = "multipart"
        else:
            stored, reason = await self._fetch_audios(body, final)
            source = "blob"
        if reason is None and sum(a.duration_s for a in stored) < MIN_PROMPT_SECONDS:
            reason = "DataNotEnough"
        data_problem = reason is not None
        forced = parse_forced(self._ctx.options.forced_outcome(consent.voice_talent_name))
        stuck = forced.voice_stuck
        if reason is None:
            reason = forced.voice_reason
            if consent.timeline.outcome == "Failed":
                reason = "SpeakerVerificationFailed"
        now = self._now()
        # a healthy voice waits for its consent; unusable data fails on its own schedule
        begin = now if data_problem else max(now, consent.timeline.finished)
        span = (1.0, 4.0) if source == "multipart" else (3.0, 10.0)
        timeline = self._timeline("personalvoice", vid, now, begin, (0.5, 1.5), span, reason, stuck)
        return PersonalVoice(
            id=vid,
            project_id=project_id,
            consent_id=consent_id,
            speaker_profile_id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            timeline=timeline,
            audio=tuple(stored),
            operation_id=op_id,
            source=source,
            locale=consent.locale,
            display_name=_optional_text(body, "displayName"),
            description=_optional_text(body, "description"),
        )

    async def _fetch_audios(self, body: Body, final: Path) -> tuple[list[StoredAudio], str | None]:
        """Read ``audios`` blobs into staging; a storage problem becomes a failure reason."""
        audios = body.fields.get("audios")
        if not isinstance(audios, dict):
            raise bad_argument("audios", "audios (containerUrl, prefix, extensions) is required.")
        container = loopback_url(audios.get("containerUrl"), "audios.containerUrl")
        prefix = audios.get("prefix", "")
        extensions = audios.get("extensions")
        if not isinstance(prefix, str):
            raise bad_argument("audios.prefix", "audios.prefix must be a string.")
        if (
            not isinstance(extensions, list)
            or not extensions
            or not all(isinstance(e, str) and e for e in extensions)
        ):
            raise bad_argument("audios.extensions", "audios.extensions must list extensions.")
        stored: list[StoredAudio] = []
        try:
            async with client_session() as session:
                items = await list_container(session, container, prefix, tuple(extensions))
                for index, item in enumerate(items):
                    local = f"{index:04d}.bin"
                    got = await download(
                        session, blob_url(container, item.name), body.staging / local
                    )
                    staged = StagedFile(
                        "blob", item.name, got.content_type, got.size, got.sha256, local
                    )
                    try:
                        stored.append(_sniff(staged, body.staging, final, "blob"))
                    except AzureError:
                        return stored, "Internal"
        except (BlobFetchError, aiohttp.ClientError, TimeoutError, ValueError):
            return stored, "InaccessibleCustomerStorage"
        return stored, None if stored else "DataNotEnough"

    async def _get_voice(self, request: web.Request, version: str) -> web.StreamResponse:
        voice = self._voices.get(request.match_info["id"])
        if voice is None:
            raise not_found("personal voice", request.match_info["id"])
        return web.json_response(voice.to_json(self._now(), version))

    async def _list_voices(self, request: web.Request, version: str) -> web.StreamResponse:
        now = self._now()
        return self._page(
            request,
            version,
            list(self._voices.values()),
            ("projectId", "locale", "createdDateTime"),
            lambda v: v.to_json(now, version),
            lambda v: v.fields(),
        )

    async def _del_voice(self, request: web.Request, version: str) -> web.StreamResponse:
        voice = self._voices.get(request.match_info["id"])
        if voice is None:
            raise not_found("personal voice", request.match_info["id"])
        self._drop_voice(voice)
        return web.Response(status=204)

    def _drop_voice(self, voice: PersonalVoice) -> None:
        del self._voices[voice.id]
        shutil.rmtree(self._root / "personalvoices" / voice.id, ignore_errors=True)

    # --- operations and the rest ------------------------------------------------------------

    async def _get_operation(self, request: web.Request, version: str) -> web.StreamResponse:
        op = self._operations.get(request.match_info["id"])
        if op is None:
            raise not_found("operation", request.match_info["id"])
        status, _ = op.timeline.status_at(self._now())
        return web.json_response({"id": op.id, "status": status})

    async def _base_models(self, request: web.Request, version: str) -> web.StreamResponse:
        models = [
            {
                "name": name,
                "description": f"{name} base model",
                "releaseDateTime": "2024-01-01T00:00:00.000Z",
                "capabilities": ["PersonalVoice"],
            }
            for name in _BASE_MODELS
        ]
        if version == GA_VERSION:
            return web.json_response({"value": models})
        return web.json_response(models)  # a bare array before GA (SPEC-P24)

    # --- shared machinery -------------------------------------------------------------------

    async def _create_lro(
        self,
        request: web.Request,
        version: str,
        kind: str,
        build: Callable[[web.Request, str, str, Body, Path], Awaitable[R]],
    ) -> web.StreamResponse:
        rid = check_id(request.match_info["id"], "id")
        op_header = request.headers.get("Operation-Id")
        if op_header is not None:
            check_id(op_header, "Operation-Id")
        if request.method == "POST" and self._ctx.faults.upload_fault():
            self._upload_resets += 1
            await reset_midway(request)
            return web.Response()  # never sent: the connection is gone
        staging = self._staging()
        try:
            if request.method == "POST":
                body = await read_multipart(request, staging, frozenset({"audiodata"}))
            else:
                body = await read_json(request, staging)
            fingerprint = request_fingerprint(request, body.fingerprint)
            replay = self._settled(kind, rid, op_header, fingerprint)
            if replay is not None:
                return replay
            if not self.approved and kind == "personalvoice":
                raise AzureError(403, "You don't have permission to access this resource.")
            op_id = op_header or str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
            final = self._root / f"{kind}s" / rid
            record = await build(request, rid, op_id, body, final)
            # the build awaited (form, blobs): a twin request may have finished meanwhile
            replay = self._settled(kind, rid, op_header, fingerprint)
            if replay is not None:
                return replay
            shutil.rmtree(final, ignore_errors=True)
            final.parent.mkdir(parents=True, exist_ok=True)
            body.staging.rename(final)
            location = (
                f"{self._base_url(request)}/customvoice/operations/{op_id}?api-version={version}"
            )
            headers = {"Operation-Id": op_id, "Operation-Location": location}
            # the 201 body shows the resource as created: NotStarted, both timestamps = now
            raw = json.dumps(record.to_json(record.timeline.created, version)).encode()
            self._commit(record)
            self._operations[op_id] = Operation(op_id, kind, rid, record.timeline)
            self._replays[op_id] = Replay(fingerprint, 201, raw, tuple(headers.items()))
            self._creates[kind] += 1
            return web.Response(
                body=raw, status=201, content_type="application/json", headers=headers
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already if committed

    def _settled(
        self, kind: str, rid: str, op_id: str | None, fingerprint: str
    ) -> web.Response | None:
        """The replay for an identical retry, or None to go on; raises for conflicts."""
        if op_id is not None:
            replay = self._replays.get(op_id)
            if replay is not None:
                if replay.fingerprint != fingerprint:
                    raise AzureError(
                        400,
                        f"The Operation-Id '{op_id}' was used by a different request.",
                        code="BadRequest",
                    )
                self._replay_count += 1
                return web.Response(
                    body=replay.body,
                    status=replay.status,
                    content_type="application/json",
                    headers=dict(replay.headers),
                )
        existing = self._consents if kind == "consent" else self._voices
        if rid in existing:
            label = "consent" if kind == "consent" else "personal voice"
            raise bad_argument("id", f"A {label} with id '{rid}' already exists.")
        return None

    def _commit(self, record: Consent | PersonalVoice) -> None:
        if isinstance(record, Consent):
            self._consents[record.id] = record
        else:
            self._voices[record.id] = record

    def _referenced_project(self, body: Body) -> str:
        project_id = check_id(_required_text(body, "projectId"), "projectId")
        if project_id not in self._projects:
            raise bad_argument("projectId", f"The project '{project_id}' does not exist.")
        return project_id

    def _timeline(
        self,
        kind: str,
        rid: str,
        created: float,
        begin: float,
        queued: tuple[float, float],
        running: tuple[float, float],
        reason: str | None,
        stuck: str | None,
    ) -> Timeline:
        seed = self._ctx.options.seed
        started = begin + jitter(seed, kind, rid, "queued", *queued)
        finished = started + jitter(seed, kind, rid, "running", *running)
        if stuck == "NotStarted" or math.isinf(begin):
            started = finished = math.inf
        elif stuck == "Running":
            finished = math.inf
        return Timeline(
            created=created,
            started=started,
            finished=finished,
            outcome="Failed" if reason else "Succeeded",
            failure_reason=reason,
        )

    def _page(
        self,
        request: web.Request,
        version: str,
        items: list[T],
        filterable: tuple[str, ...],
        render: Callable[[T], dict[str, object]],
        fields: Callable[[T], Mapping[str, str | float]],
    ) -> web.Response:
        skip, size = page_bounds(request.query)
        text = request.query.get("filter")
        if text:
            predicate = parse_filter(text, filterable)
            items = [item for item in items if predicate(fields(item))]
        chosen = items[skip : skip + size]
        body: dict[str, object] = {"value": [render(item) for item in chosen]}
        if skip + size < len(items):
            query = {"skip": str(skip + size), "maxpagesize": str(size)}
            if text:
                query["filter"] = text
            query["api-version"] = version
            url = URL(f"{self._base_url(request)}{request.path}").with_query(query)
            body["nextLink"] = str(url)
        return web.json_response(body)

    def _staging(self) -> Path:
        staging = self._root / "staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        return staging

    # --- inspection -------------------------------------------------------------------------

    def projects(self) -> list[Project]:
        return list(self._projects.values())

    def consents(self) -> list[Consent]:
        return list(self._consents.values())

    def personal_voices(self) -> list[PersonalVoice]:
        return list(self._voices.values())

    def operations(self) -> list[Operation]:
        return list(self._operations.values())

    def state(self, kind: str, rid: str) -> ResourceState:
        """The status of consent/personal voice ``rid`` at emulated now."""
        table: Mapping[str, Consent | PersonalVoice] = (
            self._consents if kind == "consent" else self._voices
        )
        timeline = table[rid].timeline
        status, entered = timeline.status_at(self._now())
        return ResourceState(status, entered, timeline.failure_at(self._now()))

    def stored_audio(self, kind: str, rid: str) -> tuple[StoredAudio, ...]:
        """The audio files kept on disk for consent/personal voice ``rid``."""
        table: Mapping[str, Consent | PersonalVoice] = (
            self._consents if kind == "consent" else self._voices
        )
        return table[rid].audio

    def counters(self) -> AzureCounters:
        return AzureCounters(
            requests=self._requests,
            by_route=dict(self._by_route),
            creates=dict(self._creates),
            replays=self._replay_count,
            throttled=self._throttled,
            unauthorized=self._unauthorized,
            faults=dict(self._faults),
            lost_responses=self._lost,
            upload_resets=self._upload_resets,
        )

    def snapshot(self) -> dict[str, object]:
        """A JSON-able view of the state for ``GET /_emulator/state``."""
        now = self._now()
        counters = self.counters()

        def audio(files: tuple[StoredAudio, ...]) -> list[dict[str, object]]:
            return [
                {
                    "part": a.part,
                    "filename": a.filename,
                    "size": a.size,
                    "format": a.format,
                    "durationSeconds": round(a.duration_s, 3),
                }
                for a in files
            ]

        return {
            "now": format_time(now),
            "projects": [p.to_json(GA_VERSION) for p in self._projects.values()],
            "consents": [
                {**c.to_json(now, GA_VERSION), "audio": audio(c.audio)}
                for c in self._consents.values()
            ],
            "personalVoices": [
                {**v.to_json(now, GA_VERSION), "audio": audio(v.audio)}
                for v in self._voices.values()
            ],
            "operations": len(self._operations),
            "blob": self.blob_store.snapshot(),
            "counters": {
                "requests": counters.requests,
                "byRoute": counters.by_route,
                "creates": counters.creates,
                "replays": counters.replays,
                "throttled": counters.throttled,
                "unauthorized": counters.unauthorized,
                "faults": {str(k): v for k, v in counters.faults.items()},
                "lostResponses": counters.lost_responses,
                "uploadResets": counters.upload_resets,
            },
        }


def _optional_text(body: Body, name: str) -> str | None:
    value = body.text(name)
    if value is not None and not value:
        raise bad_argument(name, f"{name} must not be empty.")
    return value


def _required_text(body: Body, name: str) -> str:
    value = body.text(name)
    if not value:
        raise bad_argument(name, f"{name} is required.")
    return value


def _check_locale(locale: str) -> None:
    # BCP-47 shape only (en-US, zh-CN, en-us); the service's locale list is not reproduced
    parts = locale.split("-")
    if not (2 <= len(parts[0]) <= 3 and parts[0].isalpha()) or not set(locale) <= _LOCALE_CHARS:
        raise bad_argument("locale", f"'{locale[:40]}' is not a BCP-47 locale.")


def _sniff(staged: StagedFile, staging: Path, final: Path, target: str) -> StoredAudio:
    """Check one staged file is accepted audio; record where it will live after commit."""
    try:
        info = sniff_audio(staging / staged.name)
    except AudioFormatError as exc:
        name = staged.filename or staged.part
        raise bad_argument(target, f"'{name}' is not supported audio: {exc}.") from None
    return StoredAudio(
        part=staged.part,
        filename=staged.filename,
        content_type=staged.content_type,
        size=staged.size,
        sha256=staged.sha256,
        path=final / staged.name,
        format=info.format,
        duration_s=info.duration_s,
    )
