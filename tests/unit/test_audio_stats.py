"""The frame statistics' percentile against NumPy's."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.audio.stats import percentile


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 937, 5000])
@pytest.mark.parametrize("q", [0.0, 10.0, 25.0, 50.0, 99.0, 100.0])
def test_percentile_is_numpys_bit_for_bit(n: int, q: float) -> None:
    """Any length and rank, with ties and a skewed spread as frame powers have."""
    rng = np.random.default_rng(n)
    for _ in range(20):
        x = rng.random(n) ** 6
        x[rng.integers(0, n, n // 3)] = 0.0  # ties: digital silence
        assert percentile(x, q) == float(np.percentile(x, q))


def test_percentile_does_not_reorder_its_input() -> None:
    """The caller's frame powers are left as they were."""
    x = np.array([3.0, 1.0, 2.0, 0.5])
    percentile(x, 10.0)
    assert x.tolist() == [3.0, 1.0, 2.0, 0.5]
