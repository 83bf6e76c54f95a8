"""The recognizer seam: what a content check asks of a speech recognizer, and its answers.

A recognizer hears 16 kHz mono float samples. It never decides whether a clip is healthy:
it measures how well a text fits the audio (:class:`Fit`), and :mod:`.judge` turns the
measurements of a voice's clips into findings with thresholds calibrated on real speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias

if TYPE_CHECKING:  # only in annotations: the cache's look-ups need no NumPy
    import numpy as np
    import numpy.typing as npt

    Samples: TypeAlias = npt.NDArray[np.float32]

#: Bump when a fit would come out different for the same audio, text and model (cache key).
CONTENT_VERSION: Final = 6

#: The shortest stretch of speech (frames of 10 ms) one word's fit is judged on.
SPAN_FRAMES: Final = 30

#: The sample rate every recognizer hears.
RATE: Final = 16000


@dataclass(frozen=True, slots=True)
class Fit:
    """How well one text fits one recording.

    ``score`` is the forced alignment's log-likelihood per frame relative to each frame's best
    senone (what a free phone loop would reach): a text the speech really says comes close
    to it (calibrated on espeak-ng: -1 to -4.5), a wrong one falls far below or does not
    align at all. ``worst_word`` is the same
    difference over the frames of the word that fits worst: one wrong word in a long
    sentence barely moves ``score`` but shows here.
    """

    aligned: bool
    score: float = 0.0
    frames: int = 0
    #: (word, frames, deficit per frame) for every word of the text, in order
    words: tuple[tuple[str, int, float], ...] = ()

    @property
    def worst_word(self) -> float:
        """The deficit per frame of the worst-fitting stretch of words (0 when none)."""
        return self._worst()[0]

    @property
    def worst(self) -> str:
        """The words of that stretch."""
        return self._worst()[1]

    def _worst(self) -> tuple[float, str]:
        """The worst run of consecutive words spanning at least :data:`SPAN_FRAMES`: a short
        word ("of", "her") alone is too few frames to judge (healthy ones reached -11 per
        frame on espeak-ng speech), and a wrong content word spans that many frames anyway."""
        best = (0.0, "")
        for i in range(len(self.words)):
            frames, total, names = 0, 0.0, []
            for word, n, d in self.words[i:]:
                frames += n
                total += n * d
                names.append(word)
                if frames >= SPAN_FRAMES:
                    break
            if frames and total / frames < best[0]:
                best = (total / frames, " ".join(names))
            if frames < SPAN_FRAMES:
                break  # every later start is shorter still
        return best

    def deficit(self, names: frozenset[str]) -> float | None:
        """The frame-weighted deficit of the words in ``names``, or None if none aligned."""
        picked = [(n, d) for w, n, d in self.words if w in names]
        frames = sum(n for n, _ in picked)
        return sum(n * d for n, d in picked) / frames if frames else None


@dataclass(frozen=True, slots=True)
class RecognizerSpec:
    """A picklable recipe for a recognizer (worker processes build it once each)."""

    language: str  #: the BCP-47 tag it serves, e.g. "en-US"
    folder: Path | None = None  #: None: the model the pocketsphinx wheel carries (en-US)

    @property
    def version(self) -> str:
        """Part of the content cache key: the model and the algorithm."""
        where = "wheel" if self.folder is None else str(self.folder)
        return f"pocketsphinx:{self.language}:{where}:v{CONTENT_VERSION}"


class Recognizer(Protocol):
    """A speech recognizer for one language."""

    spec: RecognizerSpec

    def fit(self, samples: Samples, text: str) -> Fit:
        """How well ``text`` fits ``samples`` (16 kHz mono)."""
        ...

    def heard(self, samples: Samples) -> str:
        """What a free decode hears in ``samples`` (for the report; may be rough)."""
        ...
