"""The Azure half's mutable state: the resource tables, request accounting, shared helpers.

One ``AzureState`` is shared by the gateway and every resource's handlers (projects, consents,
personal voices, operations); it is the only place those tables live. Records in it are frozen
(``azure.records``) and replaced, never changed.
"""

from __future__ import annotations

import random
import shutil
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import web
from yarl import URL

from pipeline.emulator.azure.bodies import Body, required_text
from pipeline.emulator.azure.errors import AzureError, bad_argument, not_found
from pipeline.emulator.azure.records import (
    Consent,
    Operation,
    PersonalVoice,
    Project,
    Replay,
    check_id,
)
from pipeline.emulator.context import EmulatorContext

#: The alternative that answers links on another host (``alternatives.ALTERNATIVES``).
FOREIGN_LINKS: Final = "azure-foreign-host-links"


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
    #: requests that arrived on the foreign host of ``azure-foreign-host-links`` (refused 421)
    misdirected: int = 0
    #: of those, the ones that carried a subscription key: a key sent to another host
    keys_sent_elsewhere: int = 0


@dataclass(slots=True)
class Tally:
    """The running counts behind ``AzureCounters``."""

    requests: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    creates: Counter[str] = field(default_factory=Counter)
    replays: int = 0
    throttled: int = 0
    unauthorized: int = 0
    faults: Counter[int] = field(default_factory=Counter)
    lost_responses: int = 0
    upload_resets: int = 0
    misdirected: int = 0
    keys_sent_elsewhere: int = 0

    def freeze(self) -> AzureCounters:
        return AzureCounters(
            requests=self.requests,
            by_route=dict(self.by_route),
            creates=dict(self.creates),
            replays=self.replays,
            throttled=self.throttled,
            unauthorized=self.unauthorized,
            faults=dict(self.faults),
            lost_responses=self.lost_responses,
            upload_resets=self.upload_resets,
            misdirected=self.misdirected,
            keys_sent_elsewhere=self.keys_sent_elsewhere,
        )


class AzureState:
    """Projects, consents, personal voices, operations and ``Operation-Id`` replays."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.root = ctx.storage / "azure"
        self._ids = random.Random(f"azure-ids-{ctx.options.seed}")
        self.projects: dict[str, Project] = {}
        self.consents: dict[str, Consent] = {}
        self.voices: dict[str, PersonalVoice] = {}
        self.operations: dict[str, Operation] = {}
        self.replays: dict[str, Replay] = {}
        self.tally = Tally()
        #: switch for the "not approved for personal voice" 403 (issue #2191)
        self.approved = True

    def now(self) -> float:
        """Emulated now."""
        return self.ctx.clock.now()

    def base_url(self, request: web.Request) -> str:
        return self.ctx.base_url.rstrip("/") or f"{request.scheme}://{request.host}"

    def link_base(self, request: web.Request) -> str:
        """The base of the absolute URLs the answers carry (``nextLink``,
        ``Operation-Location``): our own, or under ``azure-foreign-host-links`` the same
        server named by another host (as the real service answers on its regional host)."""
        base = self.base_url(request)
        if not self.ctx.options.playing(FOREIGN_LINKS):
            return base
        return str(URL(base).with_host(foreign_host(URL(base).host or ""))).rstrip("/")

    def misdirected(self, request: web.Request) -> bool:
        """Whether ``request`` came in on the foreign host this emulator hands out in links."""
        if not self.ctx.options.playing(FOREIGN_LINKS):
            return False
        ours = URL(self.base_url(request)).host or ""
        return request.url.host == foreign_host(ours) != ours

    def new_id(self) -> str:
        """A seeded UUID4 (operation ids, speaker profile ids)."""
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def staging(self) -> Path:
        """A fresh, empty folder for one request's files."""
        staging = self.root / "staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        return staging

    def forbid_unapproved(self) -> None:
        if not self.approved:
            raise AzureError(403, "You don't have permission to access this resource.")

    def project(self, pid: str) -> Project:
        project = self.projects.get(pid)
        if project is None:
            raise not_found("project", pid)
        return project

    def consent(self, cid: str) -> Consent:
        consent = self.consents.get(cid)
        if consent is None:
            raise not_found("consent", cid)
        return consent

    def voice(self, vid: str) -> PersonalVoice:
        voice = self.voices.get(vid)
        if voice is None:
            raise not_found("personal voice", vid)
        return voice

    def table(self, kind: str) -> Mapping[str, Consent | PersonalVoice]:
        """The consents (``kind`` "consent") or the personal voices."""
        return self.consents if kind == "consent" else self.voices

    def referenced_project(self, body: Body) -> str:
        """The existing project a create body names in ``projectId``, or a 400."""
        project_id = check_id(required_text(body, "projectId"), "projectId")
        if project_id not in self.projects:
            raise bad_argument("projectId", f"The project '{project_id}' does not exist.")
        return project_id

    def drop_consent(self, consent: Consent) -> None:
        del self.consents[consent.id]
        self._forget_operations("consent", consent.id)
        shutil.rmtree(self.root / "consents" / consent.id, ignore_errors=True)

    def drop_voice(self, voice: PersonalVoice) -> None:
        del self.voices[voice.id]
        self._forget_operations("personalvoice", voice.id)
        shutil.rmtree(self.root / "personalvoices" / voice.id, ignore_errors=True)

    def _forget_operations(self, kind: str, rid: str) -> None:
        """A deleted resource's operations and their ``Operation-Id`` replays go with it: a
        replay must never answer 201 for a resource that no longer exists (an identical retry
        after the delete is a new create, with a new speaker profile and new timestamps)."""
        for op in [o for o in self.operations.values() if (o.kind, o.resource_id) == (kind, rid)]:
            del self.operations[op.id]
            self.replays.pop(op.id, None)


def foreign_host(host: str) -> str:
    """Another name of a loopback server: ``localhost`` for an address, ``127.0.0.1`` for
    ``localhost``. A client that follows a link there blindly reaches the emulator under a
    name it was never configured with, and the emulator sees it."""
    return "127.0.0.1" if host == "localhost" else "localhost"
