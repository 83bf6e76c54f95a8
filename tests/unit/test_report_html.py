"""The HTML report as text: sections, limits from the profile, timelines, escaping, no network."""

from __future__ import annotations

import html
import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.audio.profiles import PROFILES
from pipeline.config import load_job
from pipeline.records import Phase, PhaseEvent, VoiceStatus
from pipeline.report import RunFacts, publish
from pipeline.report.facts import ClipFigures
from pipeline.report.html import MAX_CARDS, MAX_STRIP_ROWS, lanes, metrics_for, render_html

START = datetime(2026, 11, 21, 2, 15, 0, tzinfo=UTC).timestamp()
PROFILE = PROFILES["huawei-basic"]


def _voice(key: str, status: str, **extra: Any) -> dict[str, Any]:
    """A manifest voice entry with three 8 s files."""
    files = [
        {"source": f"{key}/{i:04d}.wav", "sha256": "0" * 64, "index": i, "duration_s": 8.0}
        for i in range(3)
    ]
    return {
        "voice": key,
        "voice_name": f"Voice {key}",
        "status": status,
        "remote": {},
        "files": files,
        "findings": [],
    } | extra


def _doc(voices: list[dict[str, Any]], command: str = "run") -> dict[str, Any]:
    """A manifest document holding ``voices``, its summary counted from them."""
    summary = {"voices": len(voices)} | {str(s): 0 for s in VoiceStatus}
    for v in voices:
        summary[v["status"]] += 1
    return {
        "schema_version": 1,
        "batch": "nightly",
        "command": command,
        "provider": {"kind": "huawei-metastudio", "edition": "basic"},
        "started_at": "2026-11-21T02:15:00Z",
        "finished_at": "2026-11-21T02:16:40Z",
        "summary": summary,
        "voices": voices,
    }


def _clips(keys: list[str], duration: float = 8.0) -> tuple[ClipFigures, ...]:
    """Three clips per voice, ``duration`` s and one and two seconds longer."""
    return tuple(
        ClipFigures(
            voice=k,
            source=f"{k}/{i:04d}.wav",
            duration_s=duration + i,
            loudness_lufs=-23.0,
            snr_db=45.0,
            peak_dbfs=-5.0,
            peak_out_dbfs=-4.5,
        )
        for k in keys
        for i in range(3)
    )


def _events(key: str, *steps: tuple[float, Phase, VoiceStatus]) -> list[PhaseEvent]:
    """Ledger events of one voice at seconds relative to the run's start."""
    return [PhaseEvent(key=key, stage=st, status=vs, at=START + t) for t, st, vs in steps]


FAILED = _voice(
    "bob",
    "failed",
    remote={"job_id": "job-123", "state": "FAILED"},
    findings=[
        {
            "severity": "error",
            "code": "remote.job_failed",
            "file": None,
            "message": "MSS.20030001 Model training failed.",
        }
    ],
    last_error="MSS.20030001 Model training failed.",
)


def test_sections_and_verdict() -> None:
    """A batch with a failure: verdict, tiles, the voice's card with its retry command, table."""
    doc = _doc([_voice("alice", "succeeded"), FAILED])
    page = render_html(doc, RunFacts(clips=_clips(["alice", "bob"])), PROFILE, job="jobs/n.toml")
    assert 'data-verdict="bad"' in page
    assert "1 of 2 voices need a human: 1 failed" in page
    for section in ("attention", "voices", "audio", "timelines", "codes"):
        assert f'<section id="{section}">' in page
    card = re.search(r'<article class="card voice-card act" data-voice="bob".*?</article>', page)
    assert card is not None
    assert "voice-onboard retry jobs/n.toml --voices=bob" in card.group(0)
    assert "remote.job_failed" in card.group(0)
    assert page.count('<tr data-voice="') == 2
    assert re.search(r'data-status="succeeded"><b>1</b>', page)


def test_charts_draw_the_profile_limits() -> None:
    """Duration bounds, the SNR thresholds and the quiet level come from the profile."""
    page = render_html(
        _doc([_voice("alice", "succeeded")]), RunFacts(clips=_clips(["alice"])), PROFILE
    )
    for key in ("duration", "loudness", "snr", "peak"):
        assert f'data-chart="{key}"' in page
    assert "max 15 s" in page
    assert "min 5 s" in page
    assert ">35</text>" in page
    assert ">20</text>" in page
    assert ">-40</text>" in page


def test_out_of_bounds_clip_is_marked() -> None:
    """A 16 s clip in a 5–15 s profile is a red point and counted under the chart."""
    page = render_html(
        _doc([_voice("alice", "rejected")]), RunFacts(clips=_clips(["alice"], 14.5)), PROFILE
    )
    duration = page[page.index('data-metric="duration"') :]
    duration = duration[: duration.index("</figure>")]
    assert duration.count('class="pt pt-bad"') == 2  # 15.5 s and 16.5 s
    assert "2 out of bounds" in duration


def test_metric_verdicts_follow_overrides() -> None:
    """An [audio] override moves the zone a value falls in."""
    from dataclasses import replace

    snr = next(m for m in metrics_for(replace(PROFILE, snr_warn_db=50.0)) if m.key == "snr")
    assert snr.verdict(45.0) == "warn"
    assert snr.verdict(10.0) == "bad"
    assert snr.verdict(60.0) == "ok"


def test_large_batches_get_histograms() -> None:
    """Past the row limit each metric is one histogram instead of a row per voice."""
    keys = [f"v{i:03d}" for i in range(MAX_STRIP_ROWS + 1)]
    page = render_html(
        _doc([_voice(k, "succeeded") for k in keys]), RunFacts(clips=_clips(keys)), PROFILE
    )
    assert 'class="bar pt-ok"' in page
    assert 'class="pt pt-' not in page


def test_timeline_lanes() -> None:
    """Stages inside the run become bars, the earlier state a faded carry-over, the end a marker."""
    events = [
        *_events(
            "bob",
            (-86400, Phase.DONE, VoiceStatus.FAILED),
            (-60, Phase.PREPARED, VoiceStatus.PENDING),
            (5, Phase.CREATING, VoiceStatus.PENDING),
            (6, Phase.CREATED, VoiceStatus.PENDING),
            (20, Phase.UPLOADED, VoiceStatus.PENDING),
            (21, Phase.SUBMITTED, VoiceStatus.PENDING),
            (90, Phase.DONE, VoiceStatus.FAILED),
        ),
        *_events("alice", (3, Phase.PREPARED, VoiceStatus.PENDING)),
    ]
    got = {lane.voice: lane for lane in lanes(events, ["bob", "alice"], START, START + 100)}
    bob = got["bob"]
    assert [s.stage for s in bob.segments] == [
        "prepared",
        "creating",
        "created",
        "uploaded",
        "submitted",
    ]
    assert bob.segments[0].carried
    assert bob.end_status == "failed"
    assert bob.end_at == START + 90
    alice = got["alice"]
    assert [s.stage for s in alice.segments] == ["preflight", "prepared"]
    assert alice.segments[-1].end == START + 100
    assert alice.end_status is None

    doc = _doc([FAILED, _voice("alice", "pending")])
    page = render_html(doc, RunFacts(events=tuple(events)), PROFILE)
    assert 'data-chart="timeline"' in page
    assert 'class="end end-failed"' in page
    assert 'fill-opacity="0.35"' in page  # the carried-over state


def test_check_report_has_no_timeline() -> None:
    """A pre-flight report says why there is no timeline and shows ready/rejected tiles."""
    doc = _doc([_voice("alice", "ready")], command="check")
    page = render_html(doc, RunFacts(clips=_clips(["alice"])), PROFILE)
    assert "never talks to the provider" in page
    assert 'data-status="ready"><b>1</b>' in page
    assert 'data-verdict="ok"' in page


def test_untrusted_text_is_escaped_and_nothing_is_loaded() -> None:
    """Provider messages and names cannot inject markup; the page loads nothing external."""
    evil = '<script>alert(1)</script><img src="https://evil.example/x.png">'
    voice = _voice(
        "eve",
        "needs_attention",
        voice_name=evil,
        findings=[
            {"severity": "error", "code": "remote.audit_failed", "file": evil, "message": evil}
        ],
        last_error=evil,
    )
    page = render_html(_doc([voice]), RunFacts(clips=_clips(["eve"])), PROFILE)
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    # Only the SVG namespace may look like a URL; no src=, no link, no @import.
    urls = set(re.findall(r"https?://[^\s\"'<>&]+", page)) - {"http://www.w3.org/2000/svg"}
    assert urls == {"https://evil.example/x.png"}  # inside escaped text only
    assert ' src="' not in page
    assert "<link" not in page
    assert "@import" not in page
    assert "default-src 'none'" in page


def test_publish_failures_do_not_raise(tmp_path: Path, write_job: Any) -> None:
    """An unwritable report or metrics path is logged; publish returns, the manifest stays."""
    job = write_job(extra='[report]\nmetrics_textfile = "blocked/m.prom"\n')
    (tmp_path / "blocked").write_text("a file where a folder should be", encoding="utf-8")
    config = load_job(job)
    manifest = config.manifest_dir / "t-20261121T021500Z.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}", encoding="utf-8")
    (config.manifest_dir / "t-latest.html").mkdir()  # a folder where the report should go
    doc = _doc([FAILED]) | {"batch": "t"}
    assert publish(config, doc, manifest, RunFacts(), exit_code=1) is None
    assert manifest.read_text(encoding="utf-8") == "{}"
    assert not (tmp_path / "blocked" / "m.prom").exists()


@pytest.mark.parametrize("html_flag", [True, False])
def test_report_table_in_job_file(write_job: Any, html_flag: bool) -> None:
    """[report] html and metrics_textfile are read; the path resolves against the job file."""
    flag = "true" if html_flag else "false"
    job = write_job(extra=f'[report]\nhtml = {flag}\nmetrics_textfile = "m/v.prom"\n')
    config = load_job(job)
    assert config.report.html is html_flag
    assert config.report.metrics_textfile == (job.parent / "m" / "v.prom").resolve()


def test_ledger_manifest_report_spans_the_batch() -> None:
    """A `manifest` report (scale-out, ledger only) draws the whole history, nothing faded."""
    events = _events(
        "bob",
        (-7200, Phase.PREPARED, VoiceStatus.PENDING),
        (-7000, Phase.SUBMITTED, VoiceStatus.PENDING),
        (-100, Phase.DONE, VoiceStatus.FAILED),
    )
    page = render_html(_doc([FAILED], command="manifest"), RunFacts(events=tuple(events)), PROFILE)
    assert "stages of each voice over the batch's life" in page
    assert "since the batch&#x27;s first record" in page
    assert 'fill-opacity="0.35"' not in page
    assert 'class="end end-failed"' in page
    assert "built from the ledger alone" in page


def test_many_problem_voices_are_capped() -> None:
    """A batch with very many problem voices draws a bounded number of cards and says so."""
    keys = [f"v{i:03d}" for i in range(MAX_CARDS + 10)]
    page = render_html(_doc([_voice(k, "rejected") for k in keys]), RunFacts(), PROFILE)
    assert page.count('<article class="card voice-card') == MAX_CARDS
    assert "… and 10 more voices" in page
    assert page.count('<tr data-voice="') == MAX_CARDS + 10


#: Voice folder names a shell would misread in a pasted command (control characters are refused
#: at discovery, so these are the names that can reach the report).
HOSTILE = ("$(id)", "a b", "-rf", "it's", "x`id`y", "semi;colon", "*glob?")


def _commands(page: str) -> list[str]:
    """The suggested command lines of a report, as a shell would be given them."""
    return [html.unescape(c) for c in re.findall(r'<pre class="cmd">(.*?)</pre>', page)]


def test_suggested_commands_are_shell_quoted() -> None:
    """Every retry command splits, as a POSIX shell splits it, into the job and one literal
    --voices=KEY, whatever the voice folder and the job path are called."""
    voices = [_voice(k, "failed", remote={"job_id": f"j{i}"}) for i, k in enumerate(HOSTILE)]
    page = render_html(_doc(voices), RunFacts(), PROFILE, job="my jobs/$(whoami).toml")
    commands = _commands(page)
    assert len(commands) == len(HOSTILE)
    got = set()
    for line in commands:
        argv = shlex.split(line)
        assert argv[:3] == ["voice-onboard", "retry", "my jobs/$(whoami).toml"], line
        assert len(argv) == 4, line
        assert argv[3].startswith("--voices="), line
        got.add(argv[3].removeprefix("--voices="))
    assert got == set(HOSTILE)
    assert "--voices -rf" not in page
    assert "--voices $(id)" not in page


def test_deferred_voice_is_shown_as_not_sent() -> None:
    """A deferred voice has its own pill and colour, sits under "Needs a human" with a true
    next step and its last error (a pending one stays "with the provider"), and the verdict
    is never a success."""
    carol = _voice(
        "carol",
        "deferred",
        last_error="cannot reach http://127.0.0.1:1: Connection refused",
    )
    dan = _voice("dan", "pending", remote={"job_id": "j1"})
    doc = _doc([_voice("alice", "succeeded"), carol, dan])
    page = render_html(doc, RunFacts(), PROFILE)
    assert 'data-verdict="bad"' in page
    assert "1 of 3 voices not sent this run; the next run sends them" in page
    assert "voices succeeded" not in page
    # pending (accepted by the provider) keeps its own words.
    pending = re.search(r'<article class="card voice-card act" data-voice="dan".*?</article>', page)
    assert pending is not None
    assert "still with the provider; the next run picks up the result" in pending.group(0)
    card = re.search(r'<article class="card voice-card act" data-voice="carol".*?</article>', page)
    assert card is not None
    assert '<span class="pill st-deferred" data-status="deferred">deferred</span>' in card.group(0)
    assert "not sent: the provider could not be reached this run" in card.group(0)
    assert "the next run sends it" in card.group(0)
    assert "Last error:</b> cannot reach http://127.0.0.1:1: Connection refused" in card.group(0)
    assert "still with the provider" not in card.group(0)
    assert re.search(r'data-status="deferred"><b>1</b><span>deferred</span>', page)
    # Its own colour: not needs_attention's amber, not pending's blue.
    colours = dict(re.findall(r"\.pill\.st-(\w+)\{background:(#[0-9a-f]{6})\}", page))
    assert colours["deferred"] not in (colours["needs_attention"], colours["pending"])


@pytest.mark.parametrize("summary", [{"interrupted": "provider unreachable"}, {"deferred": 1}])
def test_verdict_never_a_success_when_cut_short(summary: dict[str, Any]) -> None:
    """An interrupted run, or one with deferred voices, never gets the green verdict, whatever
    else the summary says."""
    doc = _doc([_voice("alice", "succeeded"), _voice("bob", "succeeded")])
    doc["interrupted"] = summary.get("interrupted")
    doc["summary"] |= {k: v for k, v in summary.items() if k != "interrupted"}
    page = render_html(doc, RunFacts(), PROFILE)
    assert 'data-verdict="bad"' in page
    assert "voices succeeded" not in page


def test_multi_line_messages_stay_on_one_line() -> None:
    """A provider message with line breaks (\\n, \\r, U+2028 …) is one line in the card and
    the table."""
    broken = "MSS.00000001 audit failed:\r\n  line two\u2028line\tthree\x85end\x00\x1b\x0b"
    voice = _voice(
        "erin",
        "needs_attention",
        findings=[
            {"severity": "error", "code": "remote.audit_failed", "file": None, "message": broken}
        ],
        last_error=broken,
    )
    page = render_html(_doc([voice]), RunFacts(), PROFILE)
    flat = "MSS.00000001 audit failed: line two line three end"
    assert f"<span class='msg'>{flat}</span>" in page
    assert f"remote.audit_failed: {flat}</td>" in page
    for ch in ("\r", "\u2028", "\x85", "\t", "\x00", "\x1b", "\x0b"):
        assert ch not in page


def test_check_report_does_not_replace_the_runs_latest(tmp_path: Path, write_job: Any) -> None:
    """publish() of a `check` writes <batch>-check-latest.html; the run's <batch>-latest.html
    (its statuses and asset ids) stays as it was."""
    config = load_job(write_job())
    config.manifest_dir.mkdir(parents=True)
    run_html = config.manifest_dir / "t-latest.html"
    run_html.write_text("the run's report", encoding="utf-8")
    manifest = config.manifest_dir / "t-20261121T021500Z.json"
    manifest.write_text("{}", encoding="utf-8")
    doc = _doc([_voice("alice", "ready")], command="check") | {"batch": "t"}
    written = publish(config, doc, manifest, RunFacts(), exit_code=0)
    assert written == manifest.with_suffix(".html")
    assert run_html.read_text(encoding="utf-8") == "the run's report"
    check_html = (config.manifest_dir / "t-check-latest.html").read_text(encoding="utf-8")
    assert check_html == written.read_text(encoding="utf-8")
    assert 'data-command="check"' in check_html
