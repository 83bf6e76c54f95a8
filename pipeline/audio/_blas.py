"""Keep BLAS single-threaded in every process that does audio work.

The audio hot path (the K-weighting in :mod:`.loudness`, the downmix) is small matrix products.
OpenBLAS, which NumPy's wheels bundle, spreads a product over all cores once it passes a size
threshold; with our own workers already on every core that only oversubscribes them, and its
spinning threads measured up to 7x slower per clip on this 2-core machine. The pipeline's
parallelism is one clip per worker, so BLAS gets one thread.

There is no public NumPy call for this, so, like threadpoolctl (not a dependency), we find the
loaded OpenBLAS in ``/proc/self/maps`` and call its ``*set_num_threads*`` entry point. Best
effort: on a system without /proc or with another BLAS nothing happens, which costs speed only.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Final

#: OpenBLAS's setter under the names its builds export (NumPy's bundle prefixes ``scipy_``).
_SETTERS: Final = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)


def _loaded_openblas() -> list[str]:
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    paths = {line.split(maxsplit=5)[-1] for line in maps.splitlines() if "openblas" in line}
    return sorted(p for p in paths if p.startswith("/"))


@functools.cache
def single_threaded_blas() -> bool:
    """Set OpenBLAS to one thread in this process (once); whether it was found."""
    import numpy  # noqa: F401  (loads the BLAS library, so /proc/self/maps lists it)

    found = False
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(1))
                found = True
                break
    return found
