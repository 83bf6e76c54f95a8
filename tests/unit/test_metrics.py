"""The Prometheus textfile: parses with prometheus_client, keeps the last success, lands atomically."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline import metrics


def _doc(**summary: int) -> dict[str, Any]:
    """A manifest document of batch `nightly` with these status counts."""
    counts = {"succeeded": 0, "failed": 0, "rejected": 0, "needs_attention": 0, "pending": 0}
    counts.update(summary)
    return {
        "schema_version": 1,
        "batch": "nightly",
        "command": "run",
        "started_at": "2026-11-21T02:15:00Z",
        "finished_at": "2026-11-21T02:31:12Z",
        "summary": {"voices": sum(counts.values()), **counts, "ready": 0},
        "voices": [],
    }


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a textfile as (name, sorted labels) → value, via prometheus_client."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


FINISHED = datetime(2026, 11, 21, 2, 31, 12, tzinfo=UTC).timestamp()


def test_textfile_parses_with_prometheus_client() -> None:
    """Every family parses, with the types, labels and values the run implies."""
    text = metrics.render(
        _doc(succeeded=9, failed=1, rejected=2),
        exit_code=1,
        bytes_uploaded=123_456_789,
        retries={"provider_call": 4, "operator": 1},
        previous_success=None,
    )
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["voice_onboard_voices"].type == "gauge"
    assert families["voice_onboard_retries"].type == "counter"  # the parser drops _total
    got = _samples(text)
    b = ("batch", "nightly")
    assert got[("voice_onboard_voices", (b, ("status", "succeeded")))] == 9
    assert got[("voice_onboard_voices", (b, ("status", "failed")))] == 1
    assert got[("voice_onboard_voices", (b, ("status", "ready")))] == 0
    assert got[("voice_onboard_last_run_bytes_uploaded", (b,))] == 123_456_789
    assert got[("voice_onboard_retries_total", (b, ("kind", "provider_call")))] == 4
    assert got[("voice_onboard_retries_total", (b, ("kind", "operator")))] == 1
    assert got[("voice_onboard_last_run_duration_seconds", (b,))] == 16 * 60 + 12
    assert got[("voice_onboard_last_run_timestamp_seconds", (b,))] == FINISHED
    assert got[("voice_onboard_last_run_exit_code", (b,))] == 1
    assert got[("voice_onboard_last_success_timestamp_seconds", (b,))] == 0


def test_last_success_is_kept_until_a_run_succeeds(tmp_path: Path) -> None:
    """A failing run keeps the previous success time; a good run moves it to its finish."""
    path = tmp_path / "voice_onboard.prom"
    none = {"provider_call": 0, "operator": 0}
    metrics.publish(path, _doc(succeeded=3), exit_code=0, bytes_uploaded=1, retries=none)
    assert metrics.previous_success(path, "nightly") == FINISHED

    later = _doc(failed=1) | {"finished_at": "2026-11-22T02:31:12Z"}
    metrics.publish(path, later, exit_code=1, bytes_uploaded=1, retries=none)
    got = _samples(path.read_text(encoding="utf-8"))
    success = ("voice_onboard_last_success_timestamp_seconds", (("batch", "nightly"),))
    run_at = ("voice_onboard_last_run_timestamp_seconds", (("batch", "nightly"),))
    assert got[success] == FINISHED
    assert got[run_at] == FINISHED + 86400


def test_written_atomically_and_world_readable(tmp_path: Path) -> None:
    """The file is replaced whole, readable by node_exporter, and no temp file is left."""
    path = tmp_path / "collector" / "voice_onboard.prom"
    metrics.write_textfile(path, "a 1\n")
    metrics.write_textfile(path, "a 2\n")
    assert path.read_text(encoding="utf-8") == "a 2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["voice_onboard.prom"]


def test_label_values_are_escaped() -> None:
    """Quotes, backslashes and newlines in a label cannot break the exposition format."""
    doc = _doc(succeeded=1) | {"batch": 'we"ird\\name\n'}
    text = metrics.render(doc, exit_code=0, bytes_uploaded=None, retries={}, previous_success=None)
    labels = {s.labels["batch"] for f in text_string_to_metric_families(text) for s in f.samples}
    assert labels == {'we"ird\\name\n'}


@pytest.mark.parametrize(
    "content",
    ["", "garbage {{{", 'voice_onboard_last_success_timestamp_seconds{batch="other"} 5\n'],
)
def test_previous_success_tolerates_other_files(tmp_path: Path, content: str) -> None:
    """An empty, foreign or other-batch file yields no previous success (never an error)."""
    path = tmp_path / "m.prom"
    path.write_text(content, encoding="utf-8")
    assert metrics.previous_success(path, "nightly") is None
    assert metrics.previous_success(tmp_path / "missing.prom", "nightly") is None


def test_bytes_left_out_when_unknown() -> None:
    """`manifest` knows no upload figure: the family is left out rather than reported as 0."""
    text = metrics.render(
        _doc(succeeded=1) | {"command": "manifest"},
        exit_code=0,
        bytes_uploaded=None,
        retries={},
        previous_success=None,
    )
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "voice_onboard_last_run_bytes_uploaded" not in names
    assert "voice_onboard_voices" in names


@pytest.mark.parametrize(
    ("exit_code", "summary", "interrupted"),
    [
        (3, {"deferred": 3}, "3 of 3 voices could not be sent: connection refused"),
        (1, {"failed": 1}, None),
        (0, {"succeeded": 2, "deferred": 1}, None),  # inconsistent, but never a success
        (0, {"succeeded": 2}, "SIGTERM"),
    ],
)
def test_last_success_moves_only_on_a_clean_exit_0(
    tmp_path: Path, exit_code: int, summary: dict[str, int], interrupted: str | None
) -> None:
    """After a good run, a run that exits non-zero or leaves voices deferred (or cut short)
    keeps the earlier success time (only exit 0 with nothing deferred moves it); the deferred
    voices are counted under status="deferred"."""
    path = tmp_path / "voice_onboard.prom"
    metrics.publish(path, _doc(succeeded=3), exit_code=0, bytes_uploaded=1, retries={})
    later = _doc(**summary) | {
        "finished_at": "2026-11-22T02:31:12Z",
        "interrupted": interrupted,
    }
    metrics.publish(path, later, exit_code=exit_code, bytes_uploaded=0, retries={})
    got = _samples(path.read_text(encoding="utf-8"))
    b = (("batch", "nightly"),)
    assert got[("voice_onboard_last_success_timestamp_seconds", b)] == FINISHED
    assert got[("voice_onboard_last_run_timestamp_seconds", b)] == FINISHED + 86400
    assert got[("voice_onboard_last_run_exit_code", b)] == exit_code
    assert got[("voice_onboard_voices", (*b, ("status", "deferred")))] == summary.get("deferred", 0)
