"""Audio: read, measure, check and normalize recordings; the only importer of soundfile and soxr.

- :mod:`.profiles` — what each provider wants (:class:`AudioProfile`, :func:`resolve_profile`)
- :mod:`.analyze` — block-wise measurements (:func:`analyze`) and per-clip checks (:func:`assess`)
- :mod:`.loudness` — ITU-R BS.1770-4 integrated loudness in constant memory
- :mod:`.normalize` — conversion to the profile's format with a content-addressed cache
  (:func:`normalize`, :func:`lookup`) and joining clips into one long recording
  (:func:`join`, :func:`write_joined`)
- :mod:`.workers` — where the work runs: a shared pool of worker processes (or threads)

Every function here is blocking and CPU-bound: stages run them on :mod:`.workers`, never on
the event loop's thread.
"""

from __future__ import annotations

from pipeline.audio.analyze import analyze, assess
from pipeline.audio.normalize import NormalizedAudio, join, lookup, normalize, write_joined
from pipeline.audio.profiles import PROFILE_ALGO_VERSION, PROFILES, AudioProfile, resolve_profile

__all__ = [
    "PROFILES",
    "PROFILE_ALGO_VERSION",
    "AudioProfile",
    "NormalizedAudio",
    "analyze",
    "assess",
    "join",
    "lookup",
    "normalize",
    "resolve_profile",
    "write_joined",
]
