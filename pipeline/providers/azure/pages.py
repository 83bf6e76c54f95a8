"""Paging through Azure lists: ``maxpagesize`` and ``filter`` on the first page, ``nextLink``
sent where :mod:`.links` says (the key goes only to our endpoint or Azure's own hosts), an item
seen twice yielded once (a create between two pages can shift one into the next)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from pipeline.providers.azure.records import Consent, Page, PersonalVoice, format_datetime
from pipeline.providers.http.fields import JsonObject, array, json_object, opt_string

R = TypeVar("R")
_Identified = TypeVar("_Identified", Consent, PersonalVoice)


def first_query(
    page_size: int, project_id: str | None, created_since: datetime | None
) -> list[tuple[str, str]]:
    """The query of a list's first page (of ``project_id``, created at or after
    ``created_since``)."""
    query = [("maxpagesize", str(page_size))]
    clauses = []
    if project_id is not None:
        clauses.append(f"projectId eq '{project_id}'")
    if created_since is not None:
        clauses.append(f"createdDateTime ge {format_datetime(created_since)}")
    if clauses:
        query.append(("filter", " and ".join(clauses)))
    return query


def page(payload: object, collection: str, parse: Callable[[JsonObject], R]) -> Page[R]:
    """One page of ``collection`` (``{"value": [...], "nextLink": …}``)."""
    obj = json_object(payload, f"{collection} list")
    values = array(obj, "value", f"{collection} list", required=True)
    items = tuple(parse(json_object(v, f"{collection} item")) for v in values)
    return Page(items, opt_string(obj, "nextLink"))


async def iterate(
    fetch: Callable[[str | None], Awaitable[Page[_Identified]]],
) -> AsyncIterator[_Identified]:
    """Every item of a list: ``fetch(None)`` is its first page, ``fetch(next_link)`` the next."""
    current = await fetch(None)
    seen: set[str] = set()
    while True:
        for item in current.items:
            if item.id not in seen:
                seen.add(item.id)
                yield item
        if current.next_link is None:
            return
        current = await fetch(current.next_link)
