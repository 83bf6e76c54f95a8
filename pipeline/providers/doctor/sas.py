"""The blob-SAS container URL, judged offline: container scope, permissions, validity window.

voice-onboard PUTs each prompt into the container through this URL (Put Blob: ``c`` create and
``w`` write), and the create call hands the same URL to the Speech service, which lists the
voice's prefix and reads the blobs (``l`` and ``r``, reference §6.4). The URL must stay valid
for the whole run: until the await deadline, since a voice retried late uploads late.
Nothing here is sent anywhere; the signature (``sig``) is never quoted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qs, urlsplit

from pipeline.errors import ProviderProtocolError
from pipeline.providers.doctor.records import Check, fail, ok, span, warn
from pipeline.providers.http import check_url

NAME: Final = "blob SAS"
ENV: Final = "AZURE_BLOB_CONTAINER_SAS_URL"
#: permission letter → who needs it.
NEEDED: Final = {
    "c": "create (voice-onboard's Put Blob)",
    "w": "write (voice-onboard's Put Blob)",
    "r": "read (the Speech service reads the prompts)",
    "l": "list (the Speech service lists the voice's prefix)",
}


def _fix(now: float, deadline_s: float) -> str:
    until = _iso(now + deadline_s + 86400)
    return (
        f"mint a container SAS with sp=racwl and se after the run's deadline, e.g. "
        f"`az storage container generate-sas --account-name ACCOUNT --name CONTAINER "
        f"--permissions racwl --expiry {until} --https-only`, and export {ENV}"
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%MZ")


def parse_time(value: str) -> float | None:
    """A SAS time (``se``/``st``: ISO 8601 UTC, with or without seconds, or a bare date) as Unix
    seconds; None when it does not parse."""
    text = value.strip()
    try:
        if len(text) == 10:
            when = datetime.strptime(text, "%Y-%m-%d")
        else:
            when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def sas_check(url: str | None, *, now: float, deadline_s: float) -> Check:
    """One row about the container SAS URL: ok, or the first thing that would break the run."""
    fix = _fix(now, deadline_s)
    if not url:
        return fail(NAME, f"upload_mode = blob-sas but {ENV} is not set", fix)
    try:
        check_url(url)
        parts = urlsplit(url)
    except (ProviderProtocolError, ValueError) as exc:
        return fail(NAME, f"{ENV} is not a usable URL: {exc}", fix)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    where = f"{parts.netloc}{parts.path}"
    if not query.get("sig"):
        return fail(NAME, f"{ENV} ({where}) carries no SAS signature (sig=)", fix)
    if not parts.path.strip("/"):
        return fail(NAME, f"{ENV} names no container (path {parts.path or '/'!r})", fix)
    scope = query.get("sr", "")
    if scope and scope != "c":
        return fail(NAME, f"sr={scope}: a SAS for one blob, not for the container (sr=c)", fix)
    sp, se = query.get("sp"), query.get("se")
    if (sp is None or se is None) and query.get("si"):
        return warn(
            NAME,
            f"permissions/expiry come from stored access policy si={query['si'][:40]}: "
            "unknown offline",
            "check that policy grants racwl until after the run's deadline",
        )
    missing = [letter for letter in NEEDED if letter not in (sp or "")]
    if missing:
        lacks = "; ".join(f"{m} = {NEEDED[m]}" for m in missing)
        return fail(NAME, f"sp={sp or '(none)'} lacks {lacks}", fix)
    expiry = parse_time(se or "")
    if expiry is None:
        return fail(NAME, f"se={se or '(none)'}: no expiry time that parses", fix)
    deadline = now + deadline_s
    if expiry <= now:
        return fail(NAME, f"expired at {_iso(expiry)} ({span(now - expiry)} ago)", fix)
    if expiry <= deadline:
        return fail(
            NAME,
            f"expires at {_iso(expiry)}, {span(expiry - now)} from now: before the await "
            f"deadline ({span(deadline_s)}, {_iso(deadline)}); uploads after it are refused",
            fix,
        )
    start = parse_time(query.get("st", "")) if query.get("st") else None
    if start is not None and start > now:
        return fail(NAME, f"not valid before st={_iso(start)} ({span(start - now)} from now)", fix)
    return ok(
        NAME,
        f"{where}: sr=c, sp={sp} covers create, write, read and list; expires {_iso(expiry)} "
        f"({span(expiry - now)} from now, after the {span(deadline_s)} await deadline)",
    )
