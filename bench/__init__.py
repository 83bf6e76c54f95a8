"""Benchmarks of voice-onboarding against standard tools (``make bench``; not collected by pytest).

Each benchmark measures ours and an anchor (sox, curl, or the naive alternative) in the same
run, interleaved, and reports the ratio: the machine is shared and absolute figures are noisy,
ratios much less so. ``python -m bench.run`` runs them all and writes ``var/bench/results.json``.
"""

from __future__ import annotations
