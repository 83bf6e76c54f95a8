"""The HTML report of a real run with failures, rendered by headless Chromium and inspected.

A batch runs on the in-process emulator (voice-002 forced to FAILED, voice-003 to
AUDIT_FAILED, one voice rejected by the pre-flight); Chromium loads the report the run wrote
beside its manifest, a probe script reads the laid-out page, and a full-page screenshot is
taken. Without Chromium the tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from pipeline.commands.chromium import find_chromium, probe, screenshot
from pipeline.commands.sample_data import write_inbox
from pipeline.records import VoiceStatus
from pipeline.runner import RunReport
from tests.integration.e2e import huawei_job, run
from tests.tools import missing

pytestmark = pytest.mark.anyio

_EMULATOR = """
[emulator]
time_scale = 1000000
outcomes = ["*voice-002*=FAILED", "*voice-003*=AUDIT_FAILED"]
"""

#: Reads the laid-out page; runs in Chromium after the report is parsed.
_PROBE = """
const q = s => [...document.querySelectorAll(s)];
const size = el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
const charts = {};
q('svg[data-chart]').forEach(s => { charts[s.dataset.chart] = size(s); });
const rows = {};
q('table.voices tbody tr').forEach(r => { rows[r.dataset.voice] = r.dataset.status; });
const pill = v => getComputedStyle(document.querySelector(
  `tr[data-voice="${v}"] .pill`)).backgroundColor;
const clipped = q('td, .voice-card, .tile, .chart-card')
  .filter(el => el.scrollWidth > el.clientWidth + 1).length;
return {
  overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  height: document.documentElement.scrollHeight,
  charts, rows,
  pills: {failed: pill('voice-002'), attention: pill('voice-003'), ok: pill('voice-001')},
  verdict: document.querySelector('.verdict').textContent,
  cards: q('.voice-card').map(c => c.dataset.voice),
  retryCmd: q('.voice-card pre.cmd').map(p => p.textContent),
  ends: q('svg[data-chart=timeline] circle.end').map(c => c.getAttribute('class')),
  badDurations: q('svg[data-chart=duration] circle.pt-bad').length,
  points: q('svg[data-chart=snr] circle.pt').length,
  svgNamespace: document.querySelector('svg[data-chart=duration]').namespaceURI,
  resources: performance.getEntriesByType('resource').length,
  clipped,
};
"""


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module-scoped so the module-scoped run fixture can use it."""
    return "asyncio"


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary; skip without one (fail under CI, which installs it)."""
    binary = find_chromium()
    if binary is None:
        missing("chromium", "chromium", "browser tests")
    return binary


@pytest.fixture(scope="module")
async def failed_run(tmp_path_factory: pytest.TempPathFactory) -> RunReport:
    """One run with a failed, a needs_attention and a rejected voice; its report on disk."""
    root = tmp_path_factory.mktemp("report-run")
    inbox = root / "inbox"
    write_inbox(inbox, voices=3, profile="huawei-basic", seed=21)
    # A fourth voice without its signed authorization letter: rejected by the pre-flight.
    broken = inbox / "voice-009"
    shutil.copytree(inbox / "voice-001", broken)
    for letter in broken.glob("authorization.*"):
        letter.unlink()
    meta = broken / "voice.toml"
    meta.write_text(meta.read_text(encoding="utf-8").replace("voice-001", "voice-009"), "utf-8")
    config = huawei_job(root / "job", endpoint="emulator", inbox=inbox, extra=_EMULATOR)
    report = await run(config)
    statuses = {r.voice: r.status for r in report.results}
    assert statuses == {
        "voice-001": VoiceStatus.SUCCEEDED,
        "voice-002": VoiceStatus.FAILED,
        "voice-003": VoiceStatus.NEEDS_ATTENTION,
        "voice-009": VoiceStatus.REJECTED,
    }
    return report


def _page(report: RunReport) -> Path:
    """The HTML report the run wrote beside its manifest."""
    page = report.manifest.with_suffix(".html")
    assert page.exists(), "the run wrote no report beside its manifest"
    return page


async def test_report_lays_out_in_chromium(chromium: str, failed_run: RunReport) -> None:
    """Chromium lays the page out without overflow, with every chart, row, card and colour."""
    got: dict[str, Any] = probe(_page(failed_run).read_text(encoding="utf-8"), _PROBE)
    assert "probe_error" not in got, got
    assert got["overflow"] <= 0
    assert got["clipped"] == 0
    assert set(got["charts"]) == {"duration", "loudness", "snr", "peak", "timeline"}
    for name, (width, height) in got["charts"].items():
        assert width > 400, name
        assert height > 100, name
    assert got["svgNamespace"] == "http://www.w3.org/2000/svg"
    assert got["rows"] == {
        "voice-001": "succeeded",
        "voice-002": "failed",
        "voice-003": "needs_attention",
        "voice-009": "rejected",
    }
    assert got["pills"] == {
        "failed": "rgb(207, 34, 46)",
        "attention": "rgb(191, 135, 0)",
        "ok": "rgb(26, 127, 55)",
    }
    assert "3 of 4 voices need a human" in got["verdict"]
    assert got["cards"][:3] == ["voice-003", "voice-002", "voice-009"]
    assert any(c.endswith("--voices=voice-002") for c in got["retryCmd"])
    assert sorted(got["ends"]) == [
        "end end-failed",
        "end end-needs_attention",
        "end end-succeeded",
    ]
    assert got["points"] == 80  # 4 voices × 20 clips, each a dot in the SNR chart
    assert got["resources"] == 0  # nothing fetched: the page is self-contained


async def test_report_screenshot(chromium: str, failed_run: RunReport, tmp_path: Path) -> None:
    """A full-page PNG of the report: a real image, as wide as the window, the page's height."""
    png = screenshot(_page(failed_run), tmp_path / "report.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280
    assert height > 1500
    assert len(data) > 50_000  # charts and text, not a blank page
