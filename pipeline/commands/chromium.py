"""Headless Chromium for looking at reports: the DOM after layout, and full-page screenshots.

Used by ``make report-demo`` and by the report's browser tests. Only Chromium itself is needed
(Debian's ``chromium`` package); no driver, no Python browser library. A layout question is
asked by injecting a small script into a *copy* of the page that writes its answer into the DOM,
which ``--dump-dom`` then prints. The report itself carries no script.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Final

#: Flags that work headless as root in a container, with no network chatter of its own.
BASE_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
_NAMES: Final = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_CSP: Final = "default-src 'none';"
_PROBE: Final = re.compile(r'data-probe="([^"]*)"')


class ChromiumError(RuntimeError):
    """Chromium is missing, failed, or did not answer."""


def find_chromium() -> str | None:
    """The Chromium binary: ``$CHROMIUM`` if set, else the first of the usual names on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    return next((p for name in _NAMES if (p := shutil.which(name))), None)


def _run(args: list[str], *, timeout: float) -> str:
    binary = find_chromium()
    if binary is None:
        raise ChromiumError("chromium not found (Debian: apt-get install chromium)")
    # A fresh profile per call: no state leaks between runs and no lock on a shared profile.
    with tempfile.TemporaryDirectory(prefix="vo-chromium-") as profile:
        try:
            proc = subprocess.run(
                [binary, *BASE_FLAGS, f"--user-data-dir={profile}", *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ChromiumError(f"chromium did not finish within {timeout:g} s") from None
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        raise ChromiumError(f"chromium exited {proc.returncode}: {' | '.join(tail)}")
    return proc.stdout


def dump_dom(page: Path, *, width: int = 1280, height: int = 900, timeout: float = 60.0) -> str:
    """The page's DOM as Chromium serializes it after loading ``page``."""
    return _run(
        [f"--window-size={width},{height}", "--dump-dom", page.resolve().as_uri()], timeout=timeout
    )


def probe(
    page_html: str, script: str, *, width: int = 1280, height: int = 900, timeout: float = 60.0
) -> Any:
    """Load ``page_html`` in Chromium with ``script`` appended and return what it computed.

    ``script`` is the body of a function that returns a JSON-able value; it runs after the
    page is parsed and laid out. The page's Content-Security-Policy is kept, with inline script
    allowed for this copy only, so any network load the page attempted would still be refused.
    """
    relaxed = page_html.replace(_CSP, _CSP + " script-src 'unsafe-inline';", 1)
    wrapper = (
        "<script>(function(){let r;try{r=(function(){"
        + script
        + "})();}catch(e){r={probe_error:String(e)};}"
        "document.body.setAttribute('data-probe',JSON.stringify(r));})();</script>"
    )
    relaxed = relaxed.replace("</body>", wrapper + "</body>", 1)
    with tempfile.TemporaryDirectory(prefix="vo-probe-") as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(relaxed, encoding="utf-8")
        dom = dump_dom(copy, width=width, height=height, timeout=timeout)
    m = _PROBE.search(dom)
    if m is None:
        raise ChromiumError("the probe script left no answer (did the page load?)")
    return json.loads(html.unescape(m.group(1)))


def page_height(page: Path, *, width: int = 1280) -> int:
    """The laid-out height of ``page`` in CSS pixels at ``width``."""
    value = probe(
        page.read_text(encoding="utf-8"),
        "return document.documentElement.scrollHeight;",
        width=width,
    )
    return int(value)


def screenshot(
    page: Path, png: Path, *, width: int = 1280, height: int | None = None, timeout: float = 90.0
) -> Path:
    """A PNG of ``page`` (the whole page when ``height`` is None)."""
    if height is None:
        height = min(page_height(page, width=width) + 8, 16000)
    png.parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            "--run-all-compositor-stages-before-draw",
            page.resolve().as_uri(),
        ],
        timeout=timeout,
    )
    if not png.exists() or png.stat().st_size == 0:
        raise ChromiumError(f"chromium wrote no screenshot to {png}")
    return png


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.commands.chromium PAGE.html OUT.png``: a full-page screenshot."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m pipeline.commands.chromium PAGE.html OUT.png", file=sys.stderr)
        return 2
    try:
        out = screenshot(Path(args[0]), Path(args[1]))
    except ChromiumError as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 3
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
