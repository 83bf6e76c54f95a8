"""``make report-demo``: a small batch with failures on the emulator, its report, a screenshot.

``python -m pipeline.commands.report_demo [DIR]`` (default ``var/report-demo``) writes sample voices —
healthy ones, a noisy one, two with pre-flight defects — and a job file whose ``[emulator]``
table forces voice-002 to FAILED and voice-003 to AUDIT_FAILED, runs ``voice-onboard run`` on
it (exit 1 is expected: some voices are not good), and renders the HTML report beside the
manifest to ``DIR/report.png`` with headless Chromium. Exits 0 when the PNG was written.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Final

from pipeline.commands.chromium import ChromiumError, find_chromium, screenshot
from pipeline.commands.sample_data import write_inbox

BATCH: Final = "report-demo"
#: Defect voices worth showing: one out of the duration bounds, one without a transcript.
_DEFECTS: Final = ("defect-too-long", "defect-missing-transcript")

_JOB: Final = f"""# Written by `make report-demo`: a batch with forced failures on the in-process emulator.
[batch]
name = "{BATCH}"
inbox = "inbox"
state_dir = "state"

[provider]
kind = "huawei-metastudio"
endpoint = "emulator"
edition = "basic"
upload_mode = "package"

[await]
poll_interval = "0.2s"
deadline = "5m"

[emulator]
time_scale = 1000000
seed = 1
outcomes = ["*voice-002*=FAILED", "*voice-003*=AUDIT_FAILED"]

[report]
metrics_textfile = "metrics/voice_onboard_{BATCH}.prom"
"""


def build_inbox(inbox: Path) -> None:
    """Healthy voices 001–006, a noisy 007, and the chosen defect voices."""
    write_inbox(inbox, voices=6, profile="huawei-basic", seed=7)
    with tempfile.TemporaryDirectory(prefix="vo-demo-") as tmp:
        extra = Path(tmp)
        write_inbox(extra / "defects", voices=0, profile="huawei-basic", with_defects=True, seed=7)
        for name in _DEFECTS:
            shutil.copytree(extra / "defects" / name, inbox / name)
        # A noisy speaker (SNR under the 35 dB warning): written as voice-001 of its own tree,
        # then renamed — voice names must be unique in a batch (Huawei looks jobs up by name).
        write_inbox(extra / "noisy", voices=1, profile="huawei-basic", seed=8, snr_db=27.0)
        noisy = inbox / "voice-007"
        shutil.copytree(extra / "noisy" / "voice-001", noisy)
        meta = noisy / "voice.toml"
        meta.write_text(
            meta.read_text(encoding="utf-8").replace("voice-001", "voice-007"), encoding="utf-8"
        )


def main(argv: list[str] | None = None) -> int:
    """Build the demo batch in DIR, run it, and screenshot its report."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else "var/report-demo")
    if root.exists():
        shutil.rmtree(root)
    build_inbox(root / "inbox")
    job = root / "job.toml"
    job.write_text(_JOB, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "--log-json", "run", str(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the JSON log lines; the summary on stdout says enough
        text=True,
        check=False,
    )
    print(proc.stdout, end="")
    if proc.returncode not in (0, 1):
        print(f"report-demo: the run exited {proc.returncode}", file=sys.stderr)
        return proc.returncode
    page = root / "state" / "manifests" / f"{BATCH}-latest.html"
    if not page.exists():
        print(f"report-demo: no report at {page}", file=sys.stderr)
        return 1
    print(f"report: {page}")
    if find_chromium() is None:
        print("report-demo: chromium not found; open the report in a browser instead")
        return 0
    try:
        png = screenshot(page, root / "report.png")
    except ChromiumError as exc:
        print(f"report-demo: {exc}", file=sys.stderr)
        return 3
    print(f"screenshot: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
