"""The report's "What was heard" section: every content mismatch, heard beside written."""

from __future__ import annotations

from pipeline.report.heard import HEARD_CODES, split_mismatch
from pipeline.report.html.common import _line, _Voice
from pipeline.report.svg import esc


def _heard_section(voices: list[_Voice]) -> str:
    """One row per transcript.mismatch / consent.mismatch finding, none left out (the
    voice cards group a code's findings; here each clip shows what the recognizer heard)."""
    rows: list[str] = []
    for v in voices:
        for f in v.findings:
            if f.get("code") not in HEARD_CODES:
                continue
            parts = split_mismatch(str(f.get("message") or ""))
            if parts is None:
                continue
            lead, heard, written = parts
            sev = str(f.get("severity"))
            rows.append(
                f'<tr class="sev-{esc(sev)}" data-code="{esc(str(f.get("code")))}">'
                f'<td><span class="sev">{esc(sev)}</span></td>'
                f'<td class="file">{esc(_line(f.get("file")))}</td>'
                f'<td class="written">{esc(_line(written))}</td>'
                f'<td class="heard">{esc(_line(heard)) or "<i>(nothing)</i>"}</td>'
                f'<td class="msg">{esc(_line(lead))}</td></tr>'
            )
    if not rows:
        return ""
    return (
        f'<section id="heard"><h2>What was heard <small>{len(rows)} mismatches</small></h2>'
        '<p class="muted">The offline recognizer\'s free decode is rough (it hears words, '
        "not always the right ones); the verdict comes from aligning the written text.</p>"
        "<table><thead><tr><th></th><th>clip</th><th>written</th><th>heard</th>"
        f"<th>why</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )
