"""From fits to findings: the thresholds, calibrated on real espeak-ng speech.

Calibration (``bench/content.py``'s batch: en-us, en-gb, en-us+f3, en-gb+m3 speaking 20
Harvard sentences each, 0.4 s of digital silence around them; 80 clips): the right text
always aligned, its ``score`` between -1.4 and -3.5 and its worst 30-frame stretch no worse
than -6.8. A text with one word in four replaced failed to align a third of the time; another
sentence failed 60 % of the time and otherwise mostly scored below -4.5. So an error needs
strong evidence (no alignment, a score or a stretch no right text came near, or another
clip's text fitting the audio clearly better), and a weaker doubt is a warning: with these
lines 1.3 % of healthy clips got a warning and none an error, and a one-in-four-wrong text
got at least a warning 79 % of the time, an error 43 % (the README gives the bench's figure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pipeline.audio.content.base import Fit

SCORE_WARN: Final = -3.3  #: below: the text is doubtful
WORD_WARN: Final = -6.0  #: a stretch of words fitting worse than this per frame: doubtful
SCORE_ERROR: Final = -4.5  #: below: the text is not what was said
#: (-7.5 kept healthy short sentences clear, but sample-data's 7-10 s multi-sentence clips
#: reached -8.1: the worst of more stretches is lower)
WORD_ERROR: Final = -9.0
#: another clip's text is the speech when it fits this much better than the clip's own
BETTER_BY: Final = 0.5
#: consent: the talent's or the company's name fits worse than this per frame (calibrated on
#: 20 espeak-ng consents by five espeak voices and 24 naming another company: the right
#: company's name no worse than -4.44, another company's at best -4.89 — a narrow margin)
NAMES_ERROR: Final = -4.7

Verdict = Literal["ok", "doubt", "wrong"]


def verdict(fit: Fit) -> Verdict:
    """How far ``fit`` is from what the right text gives."""
    if not fit.aligned or fit.score < SCORE_ERROR or fit.worst_word < WORD_ERROR:
        return "wrong"
    if fit.score < SCORE_WARN or fit.worst_word < WORD_WARN:
        return "doubt"
    return "ok"


@dataclass(frozen=True, slots=True)
class ClipVerdict:
    """One clip's content verdict."""

    verdict: Verdict
    fit: Fit
    belongs_to: int | None = None  #: the index of the clip whose text the speech says


def best_other(own: Fit, others: Sequence[tuple[int, Fit]]) -> int | None:
    """The clip whose text fits this audio clearly better than its own, if one does."""
    best: tuple[float, int] | None = None
    for index, fit in others:
        if verdict(fit) == "wrong":
            continue
        if own.aligned and fit.score < own.score + BETTER_BY:
            continue
        if best is None or fit.score > best[0]:
            best = (fit.score, index)
    return None if best is None else best[1]


def describe(fit: Fit) -> str:
    """The measurements of ``fit`` in a few words (for a finding's message)."""
    if not fit.aligned:
        return "the text does not align to the speech"
    return f"fit {fit.score:.1f}/frame, worst word {fit.worst!r} {fit.worst_word:.1f}"


def consent_statement(locale: str, talent: str, company: str) -> str | None:
    """The consent statement for ``locale`` with the names filled in, or None where no
    template is known (Azure: verbal-statement-all-locales.txt)."""
    if locale.lower().startswith("en"):
        return (
            f"I {talent} am aware that recordings of my voice will be used by {company} "
            "to create and use a synthetic version of my voice."
        )
    return None


def consent_verdict(fit: Fit, names: Sequence[frozenset[str]]) -> Verdict:
    """The consent's verdict: the statement must align, and each name (the talent's, the
    company's) must fit about as well as the rest of it (another company's name aligns, but
    badly, where the name is)."""
    base = verdict(fit)
    if base == "wrong":
        return base
    for name in names:
        deficit = fit.deficit(name)
        if deficit is not None and deficit < NAMES_ERROR:
            return "wrong"
    return "ok" if base == "ok" else "doubt"


def names_fit(fit: Fit, names: Sequence[frozenset[str]]) -> float | None:
    """The worst of the names' deficits (for the message)."""
    found = [d for d in (fit.deficit(n) for n in names) if d is not None]
    return min(found) if found else None
