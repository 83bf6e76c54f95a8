"""Helpers for tests against a real PostgreSQL server (tests only, like procrastinate.testing).

Every test gets its own schema, named uniquely, selected through the URL's ``search_path``
option: the ledger's, the rate limiter's and procrastinate's tables all land there, so parallel
runs of the suite (or of several checkouts) on one server never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Final
from urllib.parse import quote

import psycopg

from pipeline.ledger.postgres import describe_url

#: The server the suite uses unless ``VOICE_ONBOARD_TEST_DATABASE_URL`` names another.
DEFAULT_TEST_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"


def database_url_for_tests() -> str:
    """The test server's URL (``VOICE_ONBOARD_TEST_DATABASE_URL`` or the local default)."""
    return os.environ.get("VOICE_ONBOARD_TEST_DATABASE_URL") or DEFAULT_TEST_URL


def unreachable_reason(url: str) -> str | None:
    """Why ``url`` cannot be used (one line), or None when a query works."""
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        why = lines[0] if lines else type(exc).__name__
        return f"PostgreSQL at {describe_url(url)} is unusable: {why}"
    return None


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>`` added (libpq URI form)."""
    option = "options=" + quote(f"-csearch_path={schema}", safe="")
    return f"{url}{'&' if '?' in url else '?'}{option}"


@contextmanager
def scratch_schema(url: str, prefix: str = "vo_test") -> Iterator[str]:
    """Create a uniquely named schema, yield a URL that uses it, drop it (and all in it)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"'.encode())
    try:
        yield with_search_path(url, schema)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def require_test_database() -> str:
    """The test server's URL; skips the calling test when it is unusable, except in CI
    (``CI=true``), where a missing server is a failure, never a silent skip."""
    import pytest  # only tests call this; the package itself never imports pytest

    url = database_url_for_tests()
    reason = unreachable_reason(url)
    if reason is not None:
        hint = "start it or set VOICE_ONBOARD_TEST_DATABASE_URL"
        if _truthy(os.environ.get("CI")):
            pytest.fail(f"{reason} ({hint}; CI=true, so this is not skipped)")
        pytest.skip(f"{reason} ({hint})")
    return url


def max_per_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most events inside any half-open window [t, t + width) (e.g. creates per second)."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
