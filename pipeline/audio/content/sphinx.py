"""The pocketsphinx recognizer: forced alignment, scored against the best the acoustics allow.

pocketsphinx normalizes every frame's senone scores by that frame's best senone, so an
alignment's log-likelihood per frame is already its distance from the best any phone sequence
could do (a free phone loop over the same audio scored ~0 on it: -0.5 in total for 4 s,
measured; running one cost 0.13 s a clip for nothing).

The en-US model comes inside the pocketsphinx wheel; another language's model is a folder
(``[content] models``) holding an acoustic model directory (with ``mdef``), a pronouncing
dictionary (``*.dict``) and a language model (``*.lm.bin``, ``*.lm`` or ``*.arpa``), and
optionally a phone language model (``*phone*.lm.bin``) for the baseline — loaded by
pocketsphinx's own loader, so a folder that loads here is one it can really use.

Beams are wide and filler words are off in the alignment search: with the defaults the
right text failed to align on most en-gb espeak-ng sentences (measured: 5 of 8), with these
all aligned, at the same speed. The samples are dithered (see _pcm).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from pipeline.audio.content.base import Fit, RecognizerSpec

if TYPE_CHECKING:
    from pipeline.audio.content.base import Samples

_DECODER: Final = {
    "beam": 1e-80,
    "wbeam": 1e-60,
    "pbeam": 1e-80,
    "fsgusefiller": False,
}
_FREE: Final = {"beam": 1e-30, "wbeam": 1e-20, "pbeam": 1e-30}
_FLOOR: Final = -1e4  #: ln of a segment score that underflowed to 0


class ModelError(ValueError):
    """A model folder that pocketsphinx cannot use; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """The files of one pocketsphinx model."""

    hmm: Path
    dict: Path
    lm: Path
    phone_lm: Path | None


def wheel_model() -> ModelFiles:
    """The en-US model the pocketsphinx wheel carries."""
    import pocketsphinx

    return model_files(Path(pocketsphinx.get_model_path()) / "en-us")


def model_files(folder: Path) -> ModelFiles:
    """The model files in ``folder``; :class:`ModelError` naming what is missing."""
    if not folder.is_dir():
        raise ModelError(f"{folder} is not a folder")
    hmm = next((p for p in [folder, *sorted(folder.iterdir())] if (p / "mdef").is_file()), None)
    if hmm is None:
        raise ModelError(f"{folder} holds no acoustic model (a folder with an mdef file)")
    dicts = sorted(p for p in folder.glob("*.dict") if p.is_file())
    if not dicts:
        raise ModelError(f"{folder} holds no pronouncing dictionary (*.dict)")
    lms = sorted(
        p
        for pattern in ("*.lm.bin", "*.lm", "*.arpa", "*.lm.dmp", "*.DMP")
        for p in folder.glob(pattern)
        if p.is_file()
    )
    phone = [p for p in lms if "phone" in p.name]
    words = [p for p in lms if "phone" not in p.name]
    if not words:
        raise ModelError(f"{folder} holds no language model (*.lm.bin, *.lm or *.arpa)")
    return ModelFiles(hmm=hmm, dict=dicts[0], lm=words[0], phone_lm=phone[0] if phone else None)


def check_model(folder: Path) -> None:
    """Load the model in ``folder`` as a run would; :class:`ModelError` if it cannot.

    The load runs in a child process: pocketsphinx ends the whole process (``E_FATAL``,
    exit 1) on some broken files, e.g. an ``mdef`` of the wrong version, where it would
    otherwise take the run down with a line of its own instead of our exit 2.
    """
    model_files(folder)  # what is missing, said without starting anything
    root = Path(__file__).resolve().parents[3]  # the folder holding the pipeline package
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "from pipeline.audio.content.sphinx import SphinxRecognizer, RecognizerSpec; "
        "SphinxRecognizer(RecognizerSpec(language='?', folder=Path(sys.argv[2])))"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(root), str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"cannot load the model in {folder}: {exc}") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise ModelError(f"pocketsphinx cannot load the model in {folder}: {last}")


class SphinxRecognizer:
    """A :class:`~pipeline.audio.content.base.Recognizer` on pocketsphinx 5."""

    def __init__(self, spec: RecognizerSpec) -> None:
        import pocketsphinx

        self.spec = spec
        files = wheel_model() if spec.folder is None else model_files(spec.folder)
        try:
            self._decoder = pocketsphinx.Decoder(
                hmm=str(files.hmm),
                dict=str(files.dict),
                lm=str(files.lm),
                loglevel="FATAL",
                **_DECODER,
            )
            self._files = files
            self._free: object = None  # the free decoder, built for the first suspect clip
        except (RuntimeError, ValueError) as exc:
            where = files.hmm.parent
            raise ModelError(f"pocketsphinx cannot load the model in {where}: {exc}") from None
        self._english = spec.language.lower().startswith("en")

    # --- measurements -----------------------------------------------------------------

    def fit(self, samples: Samples, text: str) -> Fit:
        raw = _pcm(samples)
        words = self.words(text)
        if not words:
            return Fit(aligned=False)
        d = self._decoder
        try:
            d.set_align_text(" ".join(words))
        except RuntimeError:
            return Fit(aligned=False)
        if self._decode(raw) is None:
            return Fit(aligned=False)
        total = 0.0
        frames = 0
        scored: list[tuple[str, int, float]] = []
        for seg in d.seg():
            length = seg.end_frame - seg.start_frame + 1
            ll = math.log(seg.ascore) if seg.ascore > 0 else _FLOOR
            total += ll
            frames += length
            if seg.word.startswith(("<", "[", "(")) or length <= 0:
                continue
            scored.append((_ALT.sub("", seg.word), length, round(ll / length, 3)))
        got = [w for w, _, _ in scored]
        wanted = [_ALT.sub("", w) for w in words]
        if frames == 0 or got not in (wanted, wanted[:-1]):
            # A path that does not hold the text's words in order is no alignment of it:
            # pocketsphinx returned one such (a lone "the" over a whole 2.6 s clip, at a
            # near-perfect score) for a text that is not the speech. Its segmentation does
            # fold the last word into the closing silence now and then, so that one may lack.
            return Fit(aligned=False)
        score = total / frames
        return Fit(
            aligned=True,
            score=round(score, 3),
            frames=frames,
            words=tuple(scored),
        )

    def heard(self, samples: Samples) -> str:
        if self._free is None:
            import pocketsphinx

            # Narrower beams than the alignment's: a free decode at those took 2.4 s for 4 s
            # of speech, at these 0.25 s (measured), and it is only shown, never judged.
            self._free = pocketsphinx.Decoder(
                hmm=str(self._files.hmm),
                dict=str(self._files.dict),
                lm=str(self._files.lm),
                loglevel="FATAL",
                **_FREE,
            )
        d = self._free
        raw = _pcm(samples)
        d.start_utt()  # type: ignore[attr-defined]
        d.process_raw(raw, full_utt=True)  # type: ignore[attr-defined]
        d.end_utt()  # type: ignore[attr-defined]
        hyp = d.hyp()  # type: ignore[attr-defined]
        return "" if hyp is None else str(getattr(hyp, "hypstr", ""))

    def words(self, text: str) -> list[str]:
        """``text`` as dictionary words: lower case, punctuation dropped; a word the
        dictionary lacks gets a spelled-out pronunciation (English) or is left out."""
        out: list[str] = []
        for word in _WORD.findall(text.lower()):
            if word.isdigit():
                out.extend(_DIGITS[int(c)] for c in word)
                continue
            word = word.strip("'")
            if not word:
                continue
            if self._decoder.lookup_word(word) is None:
                if not self._english:
                    continue
                # Several guesses at its vowels: the alignment takes whichever fits (a name
                # spelled one way is said many ways).
                for n, phones in enumerate(dict.fromkeys(_spellings(word))):
                    self._decoder.add_word(word if n == 0 else f"{word}({n + 1})", phones, True)
            out.append(word)
        return out

    # --- decoding -------------------------------------------------------------------------

    def _decode(self, raw: bytes) -> object:
        d = self._decoder
        d.start_utt()
        d.process_raw(raw, full_utt=True)
        d.end_utt()
        return d.hyp()


def _pcm(samples: Samples) -> bytes:
    """16-bit PCM with one LSB of dither.

    Digital silence (exact zeros, as padding writes) gives log-energy features pocketsphinx
    cannot align through: 20 of 80 healthy espeak-ng clips with 0.4 s of zero padding failed
    to align, none dithered. pocketsphinx's own dither draws from one generator across
    utterances, so a clip's fit would depend on the clips heard before it in that worker;
    this one is seeded by the clip, so a fit is the same in any worker, on any run.
    """
    rng = np.random.default_rng(len(samples))
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32766) + rng.integers(-1, 2, len(samples))
    return pcm.astype("<i2").tobytes()


_ALT: Final = re.compile(r"\(\d+\)$")  #: "that(2)": the dictionary's second pronunciation
_WORD: Final = re.compile(r"[a-z0-9']+")
_DIGITS: Final = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# A rough English letter-to-sound table (CMU phones) for names the dictionary lacks, e.g. a
# talent's or company's name in the consent statement: close enough that the right name
# fits better than another one, which is all the check needs.
_DIGRAPHS: Final = {
    "tch": "CH", "sch": "SH K", "th": "TH", "sh": "SH", "ch": "CH", "ph": "F", "ck": "K",
    "ng": "NG", "qu": "K W", "wh": "W", "ee": "IY", "ea": "IY", "oo": "UW", "ou": "AW",
    "ow": "OW", "oi": "OY", "oy": "OY", "ai": "EY", "ay": "EY", "au": "AO", "aw": "AO",
    "ie": "IY", "ey": "EY", "gh": "", "kn": "N", "wr": "R",
}  # fmt: skip
_LETTERS: Final = {
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH",
    "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S",
    "y": "IY", "z": "Z", "'": "",
}  # fmt: skip


_LONG: Final = {"AE": "EY", "EH": "IY", "IH": "AY", "AA": "OW", "AH": "UW"}
_VOWELS: Final = frozenset({"AE", "EH", "IH", "AA", "AH", "IY", "EY", "OW", "UW", "AY"})


def _spellings(word: str) -> list[str]:
    """Guesses at how ``word`` is said: the letter rules, then its single vowels long,
    then every vowel but the first reduced to a schwa (unstressed)."""
    base = _spell(word).split()
    long = [_LONG.get(p, p) for p in base]
    first = next((i for i, p in enumerate(base) if p in _VOWELS), -1)
    reduced = [p if i <= first or p not in _VOWELS else "AH" for i, p in enumerate(base)]
    return [" ".join(base), " ".join(long), " ".join(reduced)]


def _spell(word: str) -> str:
    """A pronunciation for ``word`` from :data:`_DIGRAPHS` and :data:`_LETTERS`."""
    phones: list[str] = []
    i = 0
    while i < len(word):
        for size in (3, 2):
            chunk = word[i : i + size]
            if len(chunk) == size and chunk in _DIGRAPHS:
                phones.append(_DIGRAPHS[chunk])
                i += size
                break
        else:
            if not (word[i] == "e" and i == len(word) - 1 and i > 0):  # a silent final e
                phones.append(_LETTERS.get(word[i], ""))
            i += 1
    out = " ".join(p for p in phones if p)
    return out or "AH"
