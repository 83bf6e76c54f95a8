"""The doctor's offline judgements: the blob SAS URL, the clock, the verdict, durations."""

from __future__ import annotations

import email.utils
from urllib.parse import quote

import pytest

from pipeline.providers.doctor import Status, Verdict, verdict
from pipeline.providers.doctor.common import Reached, clock, rate_headers
from pipeline.providers.doctor.records import fail, ok, span, warn
from pipeline.providers.doctor.sas import parse_time, sas_check

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
DEADLINE = 6 * 3600.0
BASE = {"sv": "2022-11-02", "sr": "c", "sp": "racwl", "se": "2027-02-01T00:00:00Z", "sig": "c2ln"}


def url(**changed: str | None) -> str:
    params = {**BASE, **changed}
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items() if v is not None)
    return f"https://acct.blob.core.windows.net/voices?{query}"


def test_a_good_sas_is_ok_and_never_quotes_the_signature() -> None:
    """sr=c, sp=racwl, se weeks away: ok, and the detail holds no sig value."""
    check = sas_check(url(), now=NOW, deadline_s=DEADLINE)
    assert check.status is Status.OK, check
    assert "c2ln" not in check.detail
    assert "acct.blob.core.windows.net/voices" in check.detail


@pytest.mark.parametrize(
    ("changed", "needle"),
    [
        ({"se": "2020-01-01T00:00:00Z"}, "expired at 2020-01-01"),
        ({"se": "2027-01-15T10:00:00Z"}, "before the await deadline"),
        ({"sp": "rl"}, "lacks c = create"),
        ({"sp": "racw"}, "lacks l = list"),
        ({"sp": "acwl"}, "lacks r = read"),
        ({"sr": "b"}, "not for the container"),
        ({"sig": None}, "no SAS signature"),
        ({"se": "tomorrow"}, "no expiry time that parses"),
        ({"st": "2027-01-16T00:00:00Z"}, "not valid before"),
    ],
    ids=["expired", "before-deadline", "read-only", "no-list", "no-read", "blob", "unsigned",
         "garbled-se", "not-yet"],
)  # fmt: skip
def test_a_spoiled_sas_fails_naming_what(changed: dict[str, str | None], needle: str) -> None:
    """Each way a SAS breaks the run is a failure that says which, with the fix."""
    check = sas_check(url(**changed), now=NOW, deadline_s=DEADLINE)
    assert check.status is Status.FAIL, check
    assert needle in check.detail
    assert "sp=racwl" in check.fix
    assert not check.unreachable


def test_missing_sas_fails_naming_the_variable() -> None:
    """No AZURE_BLOB_CONTAINER_SAS_URL in blob-SAS mode is a failure naming it."""
    check = sas_check(None, now=NOW, deadline_s=DEADLINE)
    assert check.status is Status.FAIL
    assert "AZURE_BLOB_CONTAINER_SAS_URL" in check.detail


def test_stored_access_policy_is_unknown_offline() -> None:
    """A SAS whose sp/se live in a stored access policy (si=) is a warning, not a guess."""
    check = sas_check(url(sp=None, se=None, si="policy1"), now=NOW, deadline_s=DEADLINE)
    assert check.status is Status.WARN
    assert "unknown offline" in check.detail


def test_plain_http_sas_outside_loopback_fails() -> None:
    """An http:// SAS URL to a real host is refused like any URL we would never send to."""
    plain = url().replace("https://", "http://")
    assert sas_check(plain, now=NOW, deadline_s=DEADLINE).status is Status.FAIL


def test_sas_times_parse_with_and_without_seconds_and_as_dates() -> None:
    """`se` may be a full timestamp, one without seconds, or a bare date (midnight UTC)."""
    assert parse_time("2027-01-15T08:00:00Z") == NOW
    assert parse_time("2027-01-15T08:00Z") == NOW
    assert parse_time("2027-01-15") == NOW - 8 * 3600
    assert parse_time("15/01/2027") is None


def reached(skew: float) -> Reached:
    return Reached(ok("endpoint", "x"), email.utils.formatdate(NOW + skew, usegmt=True), NOW)


@pytest.mark.parametrize(
    ("skew", "signed", "status"),
    [
        (0.0, True, Status.OK),
        (-45.0, True, Status.OK),
        (300.0, True, Status.WARN),
        (-1200.0, True, Status.FAIL),
        (1200.0, False, Status.WARN),
    ],
)
def test_clock_thresholds(skew: float, signed: bool, status: Status) -> None:
    """Within 1 min ok; past it warn; past 10 min fail, but only where AK/SK signs requests."""
    assert clock(reached(skew), signed=signed).status is status


def test_clock_without_a_date_header_is_unknown() -> None:
    """No Date header: a warning that the skew is unknown, never a guess."""
    check = clock(Reached(ok("endpoint", "x"), None, NOW), signed=True)
    assert check.status is Status.WARN
    assert "unknown" in check.detail


def test_verdict_unreachable_outranks_configuration() -> None:
    """An unanswered endpoint makes the diagnosis incomplete: UNREACHABLE over CONFIG."""
    bad = fail("quota", "none", "buy")
    gone = fail("endpoint", "refused", "start it", unreachable=True)
    assert verdict([ok("a", "b"), warn("c", "d")]) is Verdict.OK
    assert verdict([bad]) is Verdict.CONFIG
    assert verdict([bad, gone]) is Verdict.UNREACHABLE


def test_rate_headers_lists_what_came_back() -> None:
    """Rate-limit headers seen are quoted; none seen says so with the headers that came."""
    seen = rate_headers([{"X-RateLimit-Remaining": "19", "Date": "x"}], "paced")
    assert "X-RateLimit-Remaining: 19" in seen.detail
    none = rate_headers([{"Date": "x"}], "paced")
    assert none.detail.startswith("none in 1 answers (headers: Date)")


def test_span_reads_like_people_say_it() -> None:
    """45 s, 20 min, 6 h, 3 d."""
    assert [span(45), span(1200), span(6 * 3600), span(3 * 86400)] == [
        "45 s",
        "20 min",
        "6 h",
        "3 d",
    ]


def test_terminal_table_aligns_and_keeps_each_fix_on_its_row() -> None:
    """On a terminal: a header, the detail column aligned, one line per check, a summary."""
    from pipeline.commands.doctor import exit_code, render

    checks = [ok("endpoint", "answered"), fail("alt: list keeps batch_name", "no", "do\nthis")]
    lines = render(checks, exit_code(checks), terminal=True)
    assert lines[0].startswith("STATUS")
    assert len(lines) == 4
    assert lines[1].index("answered") == lines[2].index("no — fix: do this")
    assert lines[-1] == "doctor: 1 ok, 0 warn, 1 fail: fix the configuration (exit 2)"
