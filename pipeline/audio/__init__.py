"""Audio: read, measure, check and normalize recordings; the only importer of soundfile and soxr.

- :mod:`.profiles` — what each provider wants (:class:`AudioProfile`, :func:`resolve_profile`)
- :mod:`.analyze` — block-wise measurements (:func:`analyze`)
- :mod:`.clip_checks` — per-clip checks of the measurements (:func:`assess`)
- :mod:`.loudness` — ITU-R BS.1770-4 integrated loudness in constant memory
- :mod:`.normalize` — conversion to the profile's format with a content-addressed cache
  (:func:`normalize`, :func:`lookup`) and joining clips into one long recording
  (:func:`join`, :func:`write_joined`)
- :mod:`.workers` — where the work runs: a shared pool of worker processes (or threads)

Every function here is blocking and CPU-bound: stages run them on :mod:`.workers`, never on
the event loop's thread.

Nothing is imported until it is used: the names below load their module on first access
(PEP 562), so what needs only :mod:`.profiles` (the config records, ``--version``) does not
import NumPy, libsndfile and soxr (~0.1 s of start-up) with it.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Final

from pipeline.exports import lazy_exports

if TYPE_CHECKING:
    from pipeline.audio.analyze import analyze
    from pipeline.audio.clip_checks import assess
    from pipeline.audio.normalize import NormalizedAudio, join, lookup, normalize, write_joined
    from pipeline.audio.profiles import (
        PROFILE_ALGO_VERSION,
        PROFILES,
        AudioProfile,
        resolve_profile,
    )

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

#: Each name's module.
_HOME: Final = {
    "analyze": "analyze",
    "assess": "clip_checks",
    "NormalizedAudio": "normalize",
    "join": "normalize",
    "lookup": "normalize",
    "normalize": "normalize",
    "write_joined": "normalize",
    "PROFILE_ALGO_VERSION": "profiles",
    "PROFILES": "profiles",
    "AudioProfile": "profiles",
    "resolve_profile": "profiles",
}
#: Functions named like the submodule they live in.
_SHADOWED: Final = frozenset({"analyze", "normalize"})


__getattr__ = lazy_exports(__name__, _HOME)


class _Package(types.ModuleType):
    """This package, keeping ``analyze`` and ``normalize`` the functions.

    Importing a submodule binds it on its package under its own name, which for these two
    would replace the function of the same name (the eager ``from … import`` of old rebound
    it afterwards); the binding is ignored, so ``pipeline.audio.analyze`` stays the function
    and the submodule stays in ``sys.modules``, where imports find it.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
