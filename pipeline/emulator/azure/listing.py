"""Azure list answers: the OData-like ``filter``, ``skip``/``maxpagesize`` and ``nextLink`` pages.

Every list route (projects, consents, personal voices) answers through ``page``: filter the
records, cut the page, and link the next one with the same filter and api-version.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Final, Protocol, TypeVar

from aiohttp import web
from yarl import URL

from pipeline.emulator.azure.errors import bad_argument

T = TypeVar("T")
#: What a list of consents or personal voices may filter on.
RESOURCE_FILTERS: Final = ("projectId", "locale", "createdDateTime")


class LongRunning(Protocol):
    """A consent or a personal voice, as a list shows it."""

    def to_json(self, now: float, api_version: str) -> dict[str, object]: ...

    def fields(self) -> Mapping[str, str | float]: ...


def page(
    request: web.Request,
    base_url: str,
    version: str,
    items: list[T],
    filterable: tuple[str, ...],
    render: Callable[[T], dict[str, object]],
    fields: Callable[[T], Mapping[str, str | float]],
    cap: int = 100,
) -> web.Response:
    """One page of ``items`` as the list answer ``{"value": [...], "nextLink"?}``; a page holds
    at most ``cap`` items whatever ``maxpagesize`` asks."""
    skip, size = page_bounds(request.query, cap)
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
        url = URL(f"{base_url}{request.path}").with_query(query)
        body["nextLink"] = str(url)
    return web.json_response(body)


def page_resources(
    request: web.Request,
    base_url: str,
    version: str,
    now: float,
    items: Iterable[LongRunning],
    cap: int = 100,
) -> web.Response:
    """One page of consents or personal voices, each shown at emulated ``now``."""
    return page(
        request,
        base_url,
        version,
        list(items),
        RESOURCE_FILTERS,
        lambda r: r.to_json(now, version),
        lambda r: r.fields(),
        cap,
    )


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


def page_bounds(query: Mapping[str, str], cap: int = 100) -> tuple[int, int]:
    """``skip`` and ``maxpagesize`` from the query: defaults 0 and 100; ``cap`` (default 100:
    the real maximum is undocumented, so the emulator picks the default) bounds the size."""

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

    return number("skip", 0, 0), min(number("maxpagesize", 100, 1), cap)
