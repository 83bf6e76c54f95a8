"""Audio: read, measure, check and normalize recordings; the only importer of soundfile and soxr.

- :mod:`.profiles` — what each provider wants (:class:`AudioProfile`, :func:`resolve_profile`)
- :mod:`.analyze` — block-wise measurements (:func:`analyze`) and per-clip checks (:func:`assess`)
- :mod:`.loudness` — ITU-R BS.1770-4 integrated loudness in constant memory
- :mod:`.normalize` — conversion to the profile's format with a content-addressed cache
  (:func:`normalize`) and joining clips into one long recording (:func:`join`)

Every function here is blocking and CPU-bound: stages call them through
``anyio.to_thread.run_sync`` with the CPU limiter (numpy, libsndfile and soxr release the GIL).
"""

from __future__ import annotations

from pipeline.audio.analyze import analyze, assess
from pipeline.audio.normalize import NormalizedAudio, join, normalize
from pipeline.audio.profiles import PROFILE_ALGO_VERSION, PROFILES, AudioProfile, resolve_profile

__all__ = [
    "PROFILES",
    "PROFILE_ALGO_VERSION",
    "AudioProfile",
    "NormalizedAudio",
    "analyze",
    "assess",
    "join",
    "normalize",
    "resolve_profile",
]
