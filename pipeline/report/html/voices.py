"""The report's voice sections: what needs a human, every voice in one table, findings by code."""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pipeline.codes import CODES
from pipeline.report.html.common import _line, _pill, _Voice
from pipeline.report.svg import esc

#: Voice cards in "Needs a human" at most; the table below lists every voice.
MAX_CARDS: Final = 60

_SEVERITY_ORDER: Final = {"error": 0, "warning": 1, "fixed": 2}


def suggested(*words: str) -> str:
    """A command line to paste into a shell: every word quoted as the shell needs it (a voice
    folder may be called ``$(id)``, ``a b`` or ``-rf``)."""
    return " ".join(shlex.quote(w) for w in words)


def _hint(status: str, voice: str, job: str) -> str:
    """What an operator does next for a voice in ``status`` (HTML)."""
    # --voices=KEY: a key that starts with a dash stays a value, not an option.
    line = suggested("voice-onboard", "retry", job, f"--voices={voice}")
    cmd = f'<pre class="cmd">{esc(line)}</pre>'
    return {
        "needs_attention": "<b>Next:</b> the provider's review found a problem. Fix the files "
        f"named above, then re-queue the voice and run again:{cmd}",
        "failed": "<b>Next:</b> if the files were at fault, fix them and re-queue the voice; "
        f"to train again with the same files add <code>--force</code>:{cmd}",
        "rejected": "<b>Next:</b> nothing was sent. Fix the files named above; the next run "
        "sends the voice on its own.",
        "pending": "<b>Next:</b> still with the provider; the next run picks up the result.",
        "deferred": "<b>Next:</b> not sent: the provider could not be reached this run (or the "
        "run was cut short before this voice). Nothing is lost: the next run sends it, resuming "
        "where it stopped.",
    }.get(status, "")


def _short_id(job: str) -> str:
    return job if len(job) <= 14 else job[:13] + "…"


def _finding_li(f: Mapping[str, Any], more: Sequence[Mapping[str, Any]] = ()) -> str:
    sev = str(f.get("severity"))
    code = str(f.get("code"))
    where = f'<span class="file">{esc(_line(f["file"]))}</span> ' if f.get("file") else ""
    extra = ""
    if more:
        files = ", ".join(str(m.get("file") or "") for m in more)
        extra = f' <span class="more" title="{esc(files)}">+{len(more)} more like it</span>'
    return (
        f'<li class="finding sev-{esc(sev)}" data-code="{esc(code)}">'
        f'<span class="sev">{esc(sev)}</span> <code title="{esc(CODES.get(code, ""))}">'
        f"{esc(code)}</code> {where}<span class='msg'>{esc(_line(f.get('message')))}</span>"
        f"{extra}</li>"
    )


def _grouped_findings(findings: Sequence[Mapping[str, Any]], limit: int = 8) -> str:
    """Errors, then warnings; a code repeated over many files is one line with a count."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for f in findings:
        if f.get("severity") in ("error", "warning"):
            groups[(str(f.get("severity")), str(f.get("code")))].append(f)
    ordered = sorted(groups.items(), key=lambda kv: _SEVERITY_ORDER.get(kv[0][0], 9))
    items: list[str] = []
    for _, group in ordered:
        if len(group) <= 2:
            items.extend(_finding_li(f) for f in group)
        else:
            items.append(_finding_li(group[0], group[1:]))
    if len(items) > limit:
        items = [
            *items[:limit],
            f'<li class="muted">… {len(items) - limit} more in the manifest</li>',
        ]
    return f'<ul class="findings">{"".join(items)}</ul>' if items else ""


def _attention_section(voices: list[_Voice], job: str) -> str:
    needy = [
        v
        for v in voices
        if v.status in ("needs_attention", "failed", "rejected", "deferred", "pending")
    ]
    # Voices that ended well but carry warnings: worth a look, after the ones that need action.
    look = [v for v in voices if v not in needy and (v.count("error") or v.count("warning"))]
    if not needy and not look:
        return (
            '<section id="attention"><h2>Needs a human</h2><p class="ok-note">Nothing: every '
            "voice ended well and no finding asks for a look.</p></section>"
        )
    cards: list[str] = []
    for v in (*needy, *look)[:MAX_CARDS]:
        fixed = Counter(str(f.get("code")) for f in v.findings if f.get("severity") == "fixed")
        fixed_line = (
            '<p class="fixed muted">Normalized: '
            + ", ".join(f"{esc(c)} ×{n}" for c, n in sorted(fixed.items()))
            + "</p>"
            if fixed
            else ""
        )
        # The provider's last error, unless an error finding below says it better. A deferred
        # voice's is why it was not sent (a refused connection, a timeout …): not the provider's
        # word on the voice.
        label = "Last error" if v.status == "deferred" else "Provider"
        err = (
            f'<p class="last-error"><b>{label}:</b> {esc(v.last_error)}</p>'
            if v.last_error
            and v.status in ("failed", "needs_attention", "deferred", "pending")
            and not v.count("error")
            else ""
        )
        hint = _hint(v.status, v.key, job)
        name = f' <span class="muted">{esc(v.name)}</span>' if v.name else ""
        kind = "act" if v in needy else "look"
        cards.append(
            f'<article class="card voice-card {kind}" data-voice="{esc(v.key)}" '
            f'data-status="{esc(v.status)}"><header>{_pill(v.status)} '
            f"<b>{esc(v.key)}</b>{name}</header>"
            + err
            + _grouped_findings(v.findings)
            + fixed_line
            + (f'<div class="hint">{hint}</div>' if hint else "")
            + "</article>"
        )
    counts = f"{len(needy)} to act on" + (f" · {len(look)} worth a look" if look else "")
    rest = len(needy) + len(look) - len(cards)
    more = (
        f'<p class="muted">… and {rest} more voices; the table below lists every one.</p>'
        if rest > 0
        else ""
    )
    return (
        f'<section id="attention"><h2>Needs a human <small>{counts}</small></h2>'
        f'<div class="cards">{"".join(cards)}</div>{more}</section>'
    )


def _voices_table(voices: list[_Voice]) -> str:
    rows: list[str] = []
    for v in voices:
        job = v.remote.get("job_id") or v.remote.get("personal_voice_id") or ""
        remote_state = v.remote.get("state", "")
        provider = (f'<span class="rstate">{esc(remote_state)}</span>' if remote_state else "") + (
            f'<br><code class="job" title="{esc(job)}">{esc(_short_id(job))}</code>' if job else ""
        )
        if v.history:
            provider += f'<br><span class="muted">replaces {len(v.history)} earlier job(s)</span>'
        counts = [
            f'<span class="c-{sev}">{n} {sev}{"s" if n != 1 and sev != "fixed" else ""}</span>'
            for sev in ("error", "warning", "fixed")
            if (n := v.count(sev))
        ]
        first = next(
            (f for f in v.findings if f.get("severity") == "error"),
            next((f for f in v.findings if f.get("severity") == "warning"), None),
        )
        note = f"{first.get('code')}: {_line(first.get('message'))}" if first is not None else None
        if note is None and v.status in ("failed", "needs_attention", "deferred", "pending"):
            note = v.last_error
        rows.append(
            f'<tr data-voice="{esc(v.key)}" data-status="{esc(v.status)}">'
            f'<td><b>{esc(v.key)}</b><br><span class="muted">{esc(v.name or "")}</span></td>'
            f"<td>{_pill(v.status)}</td><td>{provider or '—'}</td>"
            f'<td class="num">{len(v.files)}<br><span class="muted">'
            f"{v.audio_s:.0f} s</span></td>"
            f"<td class='counts'>{' · '.join(counts) or '—'}</td>"
            f'<td class="note">{esc(note or "")}</td></tr>'
        )
    return (
        '<section id="voices"><h2>All voices</h2><table class="voices"><thead><tr>'
        "<th>Voice</th><th>Status</th><th>Provider</th><th>Clips</th><th>Findings</th>"
        f"<th>Worst finding / provider error</th></tr></thead><tbody>{''.join(rows)}"
        "</tbody></table></section>"
    )


def _codes_section(voices: list[_Voice]) -> str:
    by_code: dict[tuple[str, str], set[str]] = defaultdict(set)
    counts: Counter[tuple[str, str]] = Counter()
    for v in voices:
        for f in v.findings:
            k = (str(f.get("severity")), str(f.get("code")))
            counts[k] += 1
            by_code[k].add(v.key)
    if not counts:
        return ""
    rows = "".join(
        f'<tr class="sev-{esc(sev)}"><td><span class="sev">{esc(sev)}</span></td>'
        f"<td><code>{esc(code)}</code></td><td class='num'>{n}</td>"
        f"<td class='num'>{len(by_code[(sev, code)])}</td>"
        f'<td class="muted">{esc(CODES.get(code, ""))}</td></tr>'
        for (sev, code), n in sorted(
            counts.items(), key=lambda kv: (_SEVERITY_ORDER.get(kv[0][0], 9), -kv[1], kv[0][1])
        )
    )
    return (
        '<section id="codes"><h2>Findings by code</h2><table class="codes"><thead><tr>'
        "<th>Severity</th><th>Code</th><th>Findings</th><th>Voices</th><th>Meaning</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></section>"
    )
