"""Sample inboxes: synthetic, speech-like voices for the demo, the tests and the benchmarks.

``voice-onboard sample-data DIR --voices N --profile P [--with-defects] [--seed S]`` calls
:func:`write_inbox`. Every voice folder follows DESIGN §3.1. Where espeak-ng is installed the
clips speak their transcripts (:mod:`.spoken`: real speech, which the pre-flight's voice-activity
detection and content checks need), over the room noise below; elsewhere the audio is made with numpy alone:
syllables of a harmonic source (an f0 contour with intonation drift and slight vibrato) shaped by
vowel formants and an amplitude envelope, unvoiced noise bursts, pauses between words and phrases,
a room-noise-only lead-in and tail, and pink-ish room noise at a chosen SNR. Formats, transcript
forms and encodings vary from clip to clip and voice to voice, deterministically from the seed:
two runs with the same arguments write byte-identical trees.

With ``with_defects`` every defect of :data:`DEFECTS` gets one voice of its own (``defect-<name>``)
that carries exactly that defect, and a few healthy-but-tricky voices (``tricky-<name>``: GBK or
UTF-8-BOM transcripts, upper-case ``.WAV``) must pass without findings.

The pieces: ``plan`` (the profiles; what is decided about a voice first), ``synth`` (the audio),
``formats`` (clip formats, WAV bytes), ``text`` (sentences, transcript files), ``defects`` (the
defect and tricky voices, the broken clips) and ``layout`` (one voice folder on disk).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.commands.sample_data import spoken
from pipeline.commands.sample_data.defects import _READY, DEFECTS, TRICKY
from pipeline.commands.sample_data.formats import _wav_bytes as _wav_bytes
from pipeline.commands.sample_data.layout import _write_voice
from pipeline.commands.sample_data.plan import PROFILES
from pipeline.commands.sample_data.plan import _plan as _plan
from pipeline.commands.sample_data.synth import _Synth
from pipeline.commands.sample_data.text import _encode as _encode
from pipeline.commands.sample_data.text import _write_transcripts as _write_transcripts
from pipeline.errors import ConfigError

# Also importable from here, for the tests: _encode, _plan, _wav_bytes, _write_transcripts.
__all__ = ["DEFECTS", "PROFILES", "TRICKY", "SampleVoice", "write_inbox"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleVoice:
    """One voice folder written by :func:`write_inbox` and what the pre-flight must say of it."""

    key: str  #: folder name
    defect: str | None  #: None for healthy (and tricky) voices, else a name from DEFECTS
    #: error/warning codes the pre-flight must report for this voice (at least these; () means
    #: none at all). ``fixed`` findings (resampled, downmixed, trimmed …) are never listed.
    expected_codes: tuple[str, ...]
    expected_status: str  #: "ready" or "rejected"


def write_inbox(
    root: Path,
    *,
    voices: int,
    profile: str,
    with_defects: bool = False,
    seed: int = 0,
    snr_db: float = 45.0,
    progress: Callable[[str], None] | None = None,
    force: bool = False,
    real_speech: bool = False,
) -> list[SampleVoice]:
    """Write ``voices`` healthy voice folders (plus defect and tricky ones) under ``root``;
    ``root`` must be missing or empty unless ``force`` (an inbox is not a scratch folder).
    ``real_speech``: the clips speak their transcripts with espeak-ng where it is installed
    (:mod:`.spoken`; the `sample-data` command does); without it (or with False, the default
    for tests' fixtures, three times faster) they are synthetic syllables."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r} (one of {', '.join(PROFILES)})")
    if voices < 0:
        raise ConfigError(f"--voices must be 0 or more (got {voices})")
    if seed < 0:
        raise ConfigError(f"--seed must be 0 or more (got {seed})")
    if not snr_db > 0:
        raise ConfigError(f"the SNR must be positive (got {snr_db} dB)")
    plans = [_plan(seed, f"voice-{i:03d}", defect=None, tricky=None) for i in range(1, voices + 1)]
    if with_defects:
        plans += [
            _plan(seed, f"defect-{name}", defect=name, tricky=None) for name in DEFECTS[profile]
        ]
        plans += [
            _plan(seed, f"tricky-{name}", defect=None, tricky=name) for name in TRICKY[profile]
        ]
    # Refuse before writing anything: never mix a new sample tree into an inbox of real voices.
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: not a folder; choose an empty folder")
    if not force and root.is_dir() and any(root.iterdir()):
        raise ConfigError(f"{root}: not empty; choose an empty folder or pass --force")
    for plan in plans:
        if (root / plan.key).exists():
            raise ConfigError(f"{root / plan.key} already exists; choose an empty folder")
    root.mkdir(parents=True, exist_ok=True)
    synth = _Synth(seed)
    speaker = spoken.speaker() if real_speech else None
    result: list[SampleVoice] = []
    for plan in plans:
        _write_voice(root, plan, profile, synth, seed=seed, snr_db=snr_db, speaker=speaker)
        if progress is not None:
            progress(plan.key)
        codes, status = DEFECTS[profile][plan.defect] if plan.defect else ((), _READY)
        result.append(
            SampleVoice(
                key=plan.key, defect=plan.defect, expected_codes=codes, expected_status=status
            )
        )
    return result
