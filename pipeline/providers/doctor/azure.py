"""Doctor rows for Azure personal voice: key, api-version, project kind, SAS, alternatives.

Only reads: one page of projects (the key and the api-version at once) and the configured
project. Nothing is created: no project PUT, no consent, no voice, no blob.
"""

from __future__ import annotations

import time
from typing import Final
from urllib.parse import urlsplit

from pipeline.config import Credentials, JobConfig, UploadMode
from pipeline.errors import (
    AuthenticationFailed,
    NotFound,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
)
from pipeline.providers.azure.client import AzureClient
from pipeline.providers.azure.records import Page, Project
from pipeline.providers.doctor import sas
from pipeline.providers.doctor.records import Check, fail, ok
from pipeline.providers.http import Connection, HttpTransport, RetryPolicies, RetryPolicy

RETRY: Final = RetryPolicies(read=RetryPolicy(attempts=3, max_elapsed_s=15.0))
PERSONAL: Final = "PersonalVoice"
_CREDENTIALS: Final = "credentials"
_API: Final = "api-version"


def offline(config: JobConfig, credentials: Credentials) -> list[Check]:
    """The rows that need no network: the blob SAS URL in blob-SAS mode."""
    if config.provider.upload_mode is not UploadMode.BLOB_SAS:
        return []
    return [
        sas.sas_check(
            credentials.azure_blob_sas_url, now=time.time(), deadline_s=config.await_.deadline_s
        )
    ]


async def checks(
    config: JobConfig, credentials: Credentials, http: HttpTransport, endpoint: str
) -> list[Check]:
    """The Azure rows after the endpoint answered."""
    if not credentials.azure_key:
        return [fail(_CREDENTIALS, "none in the environment", "export AZURE_SPEECH_KEY")]
    version = config.provider.api_version
    client = AzureClient(
        Connection(http, endpoint, retry=RETRY),
        key=credentials.azure_key,
        config=config,
        page_size=1,
    )
    try:
        page = await client.list_projects()
    except ProviderError as exc:
        return _refused(exc, version)
    return [
        ok(_CREDENTIALS, "the Speech key was accepted (a list of projects answered)"),
        ok(_API, f"{version} accepted"),
        await _project(client, config.provider.project),
        _links(page, endpoint),
        ok(
            "alt: project PUT when it exists",
            "unknown: only a PUT shows whether an existing project is refused or returned, "
            "and doctor writes nothing",
        ),
    ]


def _refused(exc: ProviderError, version: str) -> list[Check]:
    if isinstance(exc, ProviderUnavailable):
        return [
            fail(
                _CREDENTIALS,
                f"the list of projects got no answer: {exc}",
                "the endpoint answered a plain GET but not the API; check [provider] endpoint",
                unreachable=True,
            )
        ]
    if isinstance(exc, AuthenticationFailed) and exc.status == 403:
        return [
            fail(
                _CREDENTIALS,
                f"the key is valid but this resource may not use personal voice: {exc}",
                "personal voice is Limited Access: apply at https://aka.ms/customneural, or use "
                "the key and endpoint of an approved Speech resource",
            )
        ]
    if isinstance(exc, AuthenticationFailed):
        return [
            fail(
                _CREDENTIALS,
                f"the Speech key was refused: {exc}",
                "set AZURE_SPEECH_KEY to a key of the Speech resource at [provider] endpoint "
                "(Azure portal → the resource → Keys and Endpoint)",
            )
        ]
    if isinstance(exc, NotFound):
        return [
            fail(
                _CREDENTIALS,
                f"no Custom Voice API at this endpoint: {exc}",
                "set [provider] endpoint to the Speech resource's, e.g. "
                "https://<resource>.cognitiveservices.azure.com",
            )
        ]
    if isinstance(exc, ProviderRejected):
        return [
            ok(_CREDENTIALS, "the Speech key was accepted (the refusal below is not a 401)"),
            fail(
                _API,
                f"api-version {version} was refused: {exc}",
                'set [provider] api_version = "2026-01-01" (GA) or a version this resource '
                "offers in its region",
            ),
        ]
    return [
        fail(
            _CREDENTIALS,
            f"the answer is not the Custom Voice API's: {exc}",
            "check [provider] endpoint",
        )
    ]


async def _project(client: AzureClient, project_id: str) -> Check:
    name = "project"
    try:
        project = await client.get_project(project_id)
    except NotFound:
        return ok(name, f"{project_id!r} does not exist yet: the first run creates it ({PERSONAL})")
    except ProviderError as exc:
        return fail(
            name, f"could not read project {project_id!r}: {exc}", "check [provider] project"
        )
    if project.kind != PERSONAL:
        return fail(
            name,
            f"{project_id!r} is a {project.kind} project; personal voices need {PERSONAL} "
            "and a project's kind cannot change",
            "set [provider] project to another id (the first run creates it)",
        )
    return ok(name, f"{project_id!r} exists, kind {PERSONAL}")


def _links(page: Page[Project], endpoint: str) -> Check:
    name = "alt: nextLink host"
    if page.next_link is None:
        return ok(name, "unknown: the resource has at most one project, so no nextLink came back")
    ours = urlsplit(endpoint).netloc.lower()
    theirs = urlsplit(page.next_link).netloc.lower()
    if theirs == ours:
        return ok(name, "the same host as the endpoint")
    return ok(name, f"another host: {theirs} (the endpoint is {ours})")
