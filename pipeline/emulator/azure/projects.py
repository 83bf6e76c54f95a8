"""``/customvoice/projects``: created synchronously, no status, no files.

``PUT /projects/{id}`` is create-or-update: same ``kind`` → 201 with the project
(``displayName``/``description`` updated), another ``kind`` → 400. Under
``azure-project-put-refused`` a PUT of an existing project is 400 ``BadRequest`` with a
``BadArgument`` "already exists" detail, whatever its body (as the consent and personal voice
creates answer for an existing id). Deleting a project removes its
consents and personal voices; the emulator has no models or endpoints, so ``forceDelete`` never
matters (it must still be true or false).
"""

from __future__ import annotations

import shutil
from typing import Final

from aiohttp import web

from pipeline.emulator.azure.bodies import optional_text, read_json
from pipeline.emulator.azure.errors import bad_argument
from pipeline.emulator.azure.listing import page
from pipeline.emulator.azure.records import PROJECT_KINDS, Project, check_id, check_locale
from pipeline.emulator.azure.state import AzureState

#: The alternative that refuses a PUT of an existing project (``alternatives.ALTERNATIVES``).
PUT_REFUSED: Final = "azure-project-put-refused"


class Projects:
    """The project routes."""

    def __init__(self, state: AzureState) -> None:
        self._state = state

    async def put(self, request: web.Request, version: str) -> web.StreamResponse:
        state = self._state
        pid = check_id(request.match_info["id"], "id")
        staging = state.staging()
        try:
            body = await read_json(request, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # projects carry no files
        kind = body.fields.get("kind")
        if kind not in PROJECT_KINDS:
            raise bad_argument("kind", "kind must be 'PersonalVoice' or 'ProfessionalVoice'.")
        assert isinstance(kind, str)
        display_name = optional_text(body, "displayName")
        description = optional_text(body, "description")
        locale = optional_text(body, "locale")
        if locale is not None:
            check_locale(locale)
        state.forbid_unapproved()
        existing = state.projects.get(pid)
        if existing is not None and state.ctx.options.playing(PUT_REFUSED):
            raise bad_argument("id", f"A project with id '{pid}' already exists.")
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
            project = Project(pid, kind, state.now(), display_name, description, locale)
            state.tally.creates["project"] += 1
        state.projects[pid] = project
        return web.json_response(project.to_json(version), status=201)

    async def get(self, request: web.Request, version: str) -> web.StreamResponse:
        return web.json_response(self._state.project(request.match_info["id"]).to_json(version))

    async def list(self, request: web.Request, version: str) -> web.StreamResponse:
        return page(
            request,
            self._state.link_base(request),
            version,
            list(self._state.projects.values()),
            ("kind", "locale", "createdDateTime"),
            lambda p: p.to_json(version),
            lambda p: p.fields(),
            self._state.ctx.options.azure_max_page_size,
        )

    async def delete(self, request: web.Request, version: str) -> web.StreamResponse:
        state = self._state
        project = state.project(request.match_info["id"])
        force = request.query.get("forceDelete", "false").lower()
        if force not in ("true", "false"):
            raise bad_argument("forceDelete", "forceDelete must be true or false.")
        for voice in [v for v in state.voices.values() if v.project_id == project.id]:
            state.drop_voice(voice)
        for consent in [c for c in state.consents.values() if c.project_id == project.id]:
            state.drop_consent(consent)
        del state.projects[project.id]
        return web.Response(status=204)
