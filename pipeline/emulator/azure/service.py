"""The Azure AI Speech Custom Voice (personal voice) half of the emulator, under ``/customvoice``.

``AzureService`` wires the routes and offers inspection for tests; the behaviour lives with each
resource, and each module's docstring lists the choices it makes where the reference (§11) is
silent:

* ``azure.gateway``: key, throttle, latency, injected faults (lost responses), ``api-version``;
* ``azure.projects``, ``azure.consents``, ``azure.voices``, ``azure.basemodels``: the resources;
* ``azure.operations``: ``Operation-Id`` replays and conflicts, ``GET /operations/{id}``;
* ``azure.outcomes``: forced outcomes (by the consent's ``voiceTalentName``) and timings;
* ``azure.state``: the tables and counters; ``azure.records``: the frozen records and their JSON;
* ``azure.listing``: filters and pages; ``azure.bodies``, ``azure.audio``, ``azure.blob_fetch``:
  reading bodies, checking audio, reading a customer's blob container.

Errors are always JSON with ``x-ms-error-code`` (``azure.errors``). DELETE of an unknown id is
404. The emulator's own blob container endpoint lives in ``azure.blobstore`` (``/blob/...``);
``AzureService.container_sas_url()`` mints a SAS URL for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from pipeline.emulator.azure.basemodels import base_models
from pipeline.emulator.azure.blobstore import BlobStore
from pipeline.emulator.azure.consents import Consents
from pipeline.emulator.azure.gateway import Gateway, Handler
from pipeline.emulator.azure.operations import Operations
from pipeline.emulator.azure.projects import Projects
from pipeline.emulator.azure.records import (
    GA_VERSION,
    Consent,
    Operation,
    PersonalVoice,
    Project,
    StoredAudio,
    format_time,
)
from pipeline.emulator.azure.state import AzureCounters, AzureState, ResourceState
from pipeline.emulator.azure.voices import PersonalVoices
from pipeline.emulator.context import EmulatorContext
from pipeline.emulator.durable import Part


class AzureService:
    """Serves ``/customvoice/...`` like Azure AI Speech does, with inspection for tests."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self._ctx = ctx
        self._state = AzureState(ctx)
        self._gateway = Gateway(self._state)
        self._operations = Operations(self._state)
        self._projects = Projects(self._state)
        self._consents = Consents(self._state, self._operations)
        self._voices = PersonalVoices(self._state, self._operations)
        #: the emulator's own Azure Blob endpoint (``/blob/...``) for blob-SAS mode
        self.blob_store = BlobStore(ctx)

    @property
    def approved(self) -> bool:
        """Switch for the "not approved for personal voice" 403 (issue #2191)."""
        return self._state.approved

    @approved.setter
    def approved(self, value: bool) -> None:
        self._state.approved = value

    def durable_parts(self) -> dict[str, Part]:
        """The tables a state file keeps (``durable``): resources, replays, counts, blobs."""
        return {
            "azure.state": Part(
                self._state,
                (
                    "_ids",
                    "projects",
                    "consents",
                    "voices",
                    "operations",
                    "replays",
                    "tally",
                    "approved",
                ),
            ),
            "azure.blob": Part(self.blob_store, ("_containers", "resets")),
        }

    # --- wiring -----------------------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        """Add this service's routes to ``app``."""
        projects, consents, voices = self._projects, self._consents, self._voices
        routes: list[tuple[str, str, Mapping[str, Handler]]] = [
            ("/customvoice/projects", "projects", {"GET": projects.list}),
            (
                "/customvoice/projects/{id}",
                "projects",
                {"PUT": projects.put, "GET": projects.get, "DELETE": projects.delete},
            ),
            ("/customvoice/consents", "consents", {"GET": consents.list}),
            (
                "/customvoice/consents/{id}",
                "consents",
                {
                    "PUT": consents.create,
                    "POST": consents.create,
                    "GET": consents.get,
                    "DELETE": consents.delete,
                },
            ),
            ("/customvoice/personalvoices", "personalvoices", {"GET": voices.list}),
            (
                "/customvoice/personalvoices/{id}",
                "personalvoices",
                {
                    "PUT": voices.create,
                    "POST": voices.create,
                    "GET": voices.get,
                    "DELETE": voices.delete,
                },
            ),
            ("/customvoice/operations/{id}", "operations", {"GET": self._operations.get}),
            ("/customvoice/basemodels", "basemodels", {"GET": base_models}),
            ("/customvoice/{tail:.*}", "unknown", {}),
        ]
        for path, name, methods in routes:
            app.router.add_route("*", path, self._gateway.route(name, methods))
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

    # --- inspection -------------------------------------------------------------------------

    def projects(self) -> list[Project]:
        return list(self._state.projects.values())

    def consents(self) -> list[Consent]:
        return list(self._state.consents.values())

    def personal_voices(self) -> list[PersonalVoice]:
        return list(self._state.voices.values())

    def operations(self) -> list[Operation]:
        return list(self._state.operations.values())

    def state(self, kind: str, rid: str) -> ResourceState:
        """The status of consent/personal voice ``rid`` at emulated now."""
        timeline = self._state.table(kind)[rid].timeline
        now = self._state.now()
        status, entered = timeline.status_at(now)
        return ResourceState(status, entered, timeline.failure_at(self._state.now()))

    def stored_audio(self, kind: str, rid: str) -> tuple[StoredAudio, ...]:
        """The audio files kept on disk for consent/personal voice ``rid``."""
        return self._state.table(kind)[rid].audio

    def counters(self) -> AzureCounters:
        return self._state.tally.freeze()

    def snapshot(self) -> dict[str, object]:
        """A JSON-able view of the state for ``GET /_emulator/state``."""
        state = self._state
        now = state.now()
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
            "projects": [p.to_json(GA_VERSION) for p in state.projects.values()],
            "consents": [
                {**c.to_json(now, GA_VERSION), "audio": audio(c.audio)}
                for c in state.consents.values()
            ],
            "personalVoices": [
                {**v.to_json(now, GA_VERSION), "audio": audio(v.audio)}
                for v in state.voices.values()
            ],
            "operations": len(state.operations),
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
                "misdirected": counters.misdirected,
                "keysSentElsewhere": counters.keys_sent_elsewhere,
            },
        }
