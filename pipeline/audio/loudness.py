"""ITU-R BS.1770-4 integrated loudness, measured block by block in constant memory.

pyloudnorm implements the same algorithm but needs the whole signal in memory (and SciPy), so
an hour-long 96 kHz file would not fit our memory bound; this module keeps only one 100 ms
energy value per gating sub-block. ``tests/unit/test_audio_loudness.py`` checks it against
pyloudnorm within 0.1 LU.

The K-weighting filter is the BS.1770 pre-filter (high shelf, +4 dB above ~1.7 kHz) followed by
the RLB high-pass (~38 Hz), with the analogue parameters libebur128 uses so that the biquads
equal the standard's 48 kHz table and are correct at every other rate.

It runs as the exact IIR cascade, without a per-sample Python loop and without SciPy: the
signal is cut into blocks of :data:`BLOCK` samples, and each block's output is a linear function
of its inputs, the two inputs before it and the cascade's four-number state (the last two
outputs of each biquad). That function is one matrix (taken once per rate by running the
recursion on unit vectors in float64), so a whole chunk of blocks is a single float32 matrix
product; the states the blocks start from follow from a linear recursion over blocks that is
itself solved in blocks (:func:`_scan`). This is the hottest loop of normalization — it runs
over the input and again over the output — and the matrix form costs about 4x less than the
FFT overlap-add of the truncated impulse response it replaced (NumPy's forward real FFT
measured 15-25 ns per sample here; the matrix product under 2 ns).

Numerics: the block matrices act on the signal and on the biquads' own outputs, never on the
numerator and denominator separately, so nothing ill-conditioned is formed (the high-pass's
near-double pole at 38 Hz would otherwise amplify float32 round-off a thousandfold). The
output agrees with float64 filtering by the exact impulse response to 2e-5 of its RMS at
48 kHz (7e-5 at 96 kHz), and every 100 ms energy to within 0.0004 dB.
"""

from __future__ import annotations

import functools
import math
from typing import Final

import numpy as np
import numpy.typing as npt

from pipeline.audio._blas import single_threaded_blas

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

ABSOLUTE_GATE_LUFS: Final = -70.0
RELATIVE_GATE_LU: Final = -10.0
#: BS.1770 channel weights for L, R, C, Ls, Rs; further channels (rare in voice work) count 1.0.
_CHANNEL_GAINS: Final = (1.0, 1.0, 1.0, 1.41, 1.41)
_TAIL_CUTOFF: Final = 1e-9
#: Samples per filter block: the product costs 2 * (BLOCK + 6) flops a sample, the state
#: recursion about 700 / BLOCK; 32 measured fastest, and it stays below the size at which
#: OpenBLAS would spread one product over threads (the workers already use every core).
BLOCK: Final = 32
#: Blocks per group in each level of the state recursion (_scan).
_GROUP: Final = 16
#: Frames per chunk that callers aim for (analyze.Meter re-chunks to it): big enough that
#: the per-chunk Python overhead vanishes, small enough to stay in a core's L2 cache. At
#: 2**15 the state recursion's few dozen small NumPy calls per chunk were 40 % of the filter;
#: 2**16 cut normalization's CPU by 4 % (mixed-format bench batch), 2**17 gained nothing more.
_TARGET_CHUNK: Final = 1 << 16

# At import, before any audio worker runs a product: see _blas for why BLAS gets one thread.
single_threaded_blas()


def sub_block_frames(rate: int) -> int:
    """Frames in one 100 ms gating step: exactly ten 10 ms analysis frames.

    Tying the step to the frame grid keeps both aligned across blocks; at rates that are not
    a multiple of 100 Hz the step is off 100 ms by under 0.5 %, far below 0.01 LU.
    """
    return 10 * max(1, round(rate / 100))


def _biquads(rate: float) -> tuple[tuple[F64, F64], tuple[F64, F64]]:
    """(b, a) of the pre-filter and the RLB high-pass at ``rate`` (libebur128's design)."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf_b = np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
                        (vh - vb * k / q + k * k) / a0])  # fmt: skip
    shelf_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    hp_b = np.array([1.0, -2.0, 1.0])
    hp_a = np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0])
    return (shelf_b, shelf_a), (hp_b, hp_a)


@functools.lru_cache(maxsize=16)
def k_weighting_fir(rate: int) -> F64:
    """The K-weighting impulse response at ``rate``, truncated where it is negligible.

    The reference the block IIR is checked against (tests), and the filter's length in time.
    """
    # One second of response is far longer than the filter rings (the 38 Hz pole decays to
    # 1e-9 within ~0.1 s), so sampling the frequency response on this grid aliases nothing.
    n = 1 << max(12, math.ceil(math.log2(rate)))
    z = np.exp(-1j * np.pi * np.arange(n // 2 + 1) / (n // 2))  # e^{-jw}
    response = np.ones_like(z)
    for b, a in _biquads(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    h: F64 = np.fft.irfft(response, n)
    big = np.flatnonzero(np.abs(h) > _TAIL_CUTOFF * np.abs(h).max())
    return h[: int(big[-1]) + 1].copy()


@functools.lru_cache(maxsize=16)
def _block_matrices(rate: int) -> tuple[F32, F32, F64]:
    """(W, V, A) for blocks of BLOCK samples at ``rate``.

    With ``w`` = the block's inputs preceded by the two before it (BLOCK + 2 values) and
    ``s`` = the cascade's state before the block (u[-2], u[-1], y[-2], y[-1]; u is the
    pre-filter's output, y the high-pass's): the block's output is ``[w, s] @ W`` and the
    state after it ``w @ V + s @ A``.
    """
    (b1, a1), (b2, a2) = _biquads(rate)
    n = BLOCK
    cases = n + 6  # one unit impulse per input and per state element
    win = np.zeros((cases, n + 2))
    win[np.arange(n + 2), np.arange(n + 2)] = 1.0
    u = np.zeros((cases, n + 2))  # u[:, j] is u[j - 2]
    y = np.zeros((cases, n + 2))
    for j in range(4):
        (u if j < 2 else y)[n + 2 + j, j % 2] = 1.0
    for m in range(n):
        k = m + 2
        u[:, k] = (
            b1[0] * win[:, k] + b1[1] * win[:, k - 1] + b1[2] * win[:, k - 2]
            - a1[1] * u[:, k - 1] - a1[2] * u[:, k - 2]
        )  # fmt: skip
        y[:, k] = (
            b2[0] * u[:, k] + b2[1] * u[:, k - 1] + b2[2] * u[:, k - 2]
            - a2[1] * y[:, k - 1] - a2[2] * y[:, k - 2]
        )  # fmt: skip
    after = np.stack([u[:, n], u[:, n + 1], y[:, n], y[:, n + 1]], axis=1)
    w = y[:, 2:].astype(np.float32)
    v = after[: n + 2].astype(np.float32)
    a = after[n + 2 :].copy()
    return w, v, a


#: One level of the state recursion: (A, M, P), see _levels.
_Level = tuple[F64, F64, F64]
#: Levels prepared per rate: G**8 blocks of 32 samples is far beyond any recording.
_MAX_LEVELS: Final = 8


@functools.lru_cache(maxsize=16)
def _levels(rate: int) -> tuple[_Level, ...]:
    """For each level k of :func:`_scan`: (A_k, M_k, P_k), with A_0 the block state map A and
    A_{k+1} = A_k**G.

    ``M`` maps a group's G flattened inputs to its states after 1..G blocks (started from
    zero); ``P`` maps the state a group starts from to its states before blocks 0..G-1.
    """
    g = _GROUP
    a = _block_matrices(rate)[2]
    out: list[_Level] = []
    for _ in range(_MAX_LEVELS):
        powers = [np.eye(4)]
        for _ in range(g):
            powers.append(powers[-1] @ a)
        m = np.zeros((4 * g, 4 * g))
        for i in range(1, g + 1):
            for j in range(i):
                m[4 * j : 4 * j + 4, 4 * (i - 1) : 4 * i] = powers[i - 1 - j]
        out.append((a, m, np.hstack(powers[:g])))
        a = powers[g]
    return tuple(out)


def _scan(e: F64, levels: tuple[_Level, ...], s0: F64, depth: int = 0) -> tuple[F64, F64]:
    """Solve ``s[k+1] = e[k] + s[k] @ A`` with ``s[0] = s0`` for every channel.

    ``e`` is (channels, blocks, 4). Returns the states before each block (same shape) and
    the state after the last. Blocks are taken G at a time: the states within every group
    (from a zero start) are one matrix product, and the groups' start states are the same
    recursion one level up (with ``A**G``) until one group is left: no Python loop over
    blocks at all (a loop over the last few blocks used to cost more than the products).
    """
    a, m, p = levels[depth]
    channels, n, _ = e.shape
    g = _GROUP
    groups = -(-n // g)
    padded = e
    if groups * g != n:
        padded = np.concatenate([e, np.zeros((channels, groups * g - n, 4))], axis=1)
    local = (padded.reshape(channels * groups, 4 * g) @ m).reshape(channels, groups, g, 4)
    if groups == 1:
        starts = s0[:, None, :]
    else:
        starts, _ = _scan(local[:, :, g - 1], levels, s0, depth + 1)
    states = (starts.reshape(channels * groups, 4) @ p).reshape(channels, groups, g, 4)
    states[:, :, 1:] += local[:, :, : g - 1]
    states = states.reshape(channels, groups * g, 4)[:, :n]
    return states, e[:, n - 1] + states[:, n - 1] @ a


class _KFilter:
    """The K-weighting cascade over a stream of (channels, frames) float32 blocks."""

    def __init__(self, rate: int, channels: int) -> None:
        w, v, _ = _block_matrices(rate)
        # Split by what they act on: the block's own inputs, and the rest of its row (the
        # two inputs before it, then the state before it); see _blocks.
        self._w_in = np.ascontiguousarray(w[2 : BLOCK + 2])
        self._w_rest = np.ascontiguousarray(np.concatenate([w[:2], w[BLOCK + 2 :]]))
        self._v_in = np.ascontiguousarray(v[2:])
        self._v_hist = np.ascontiguousarray(v[:2])
        self._levels = _levels(rate)
        self._history = np.zeros((channels, 2), np.float32)  # the two inputs before the next
        self._state = np.zeros((channels, 4))
        self._pending = np.zeros((channels, 0), np.float32)  # < BLOCK inputs not yet filtered

    def feed(self, x: F32) -> F32:
        """Filter (channels, frames) input; returns the output of every whole block so far."""
        if self._pending.shape[1]:
            x = np.concatenate([self._pending, x], axis=1)
        whole = (x.shape[1] // BLOCK) * BLOCK
        self._pending = x[:, whole:].copy()
        return self._blocks(x[:, :whole])

    def flush(self) -> F32:
        """The output of the inputs left over (less than one block), zero-padded past them."""
        rest = self._pending.shape[1]
        if not rest:
            return np.zeros((self._state.shape[0], 0), np.float32)
        padded = np.zeros((self._state.shape[0], BLOCK), np.float32)
        padded[:, :rest] = self._pending
        self._pending = padded[:, :0]
        return self._blocks(padded)[:, :rest]

    def _blocks(self, x: F32) -> F32:
        channels, n = x.shape
        if n == 0:
            return np.zeros((channels, 0), np.float32)
        blocks = n // BLOCK
        # Each block's output is [two inputs before | its inputs | the state before it] @ W.
        # Its inputs are a view of x; the rest of the row is kept transposed, one row per
        # value, so every piece of it is one strided copy: assembling whole rows of
        # BLOCK + 6 took a copy per block and piece (~15 instructions a sample, a third of
        # the filter's).
        inputs = x.reshape(channels * blocks, BLOCK)
        by_block = inputs.reshape(channels, blocks, BLOCK)
        rest = np.empty((6, channels, blocks), np.float32)
        rest[:2, :, 1:] = by_block[:, :-1, BLOCK - 2 :].transpose(2, 0, 1)
        rest[:2, :, 0] = self._history.T
        self._history = x[:, -2:].copy()
        before = rest.reshape(6, channels * blocks).T  # (blocks, 6), column-major: BLAS takes it
        zero_state = inputs @ self._v_in
        zero_state += before[:, :2] @ self._v_hist
        states, self._state = _scan(
            zero_state.astype(np.float64).reshape(channels, blocks, 4), self._levels, self._state
        )
        rest[2:] = states.transpose(2, 0, 1)
        y: F32 = inputs @ self._w_in
        y += before @ self._w_rest
        return y.reshape(channels, n)


class LoudnessMeter:
    """Feeds blocks of (frames, channels) audio; :meth:`integrated` gives BS.1770 LUFS.

    Blocks may have any length; a caller that feeds whole 100 ms sub-blocks
    (:meth:`block_frames`) gets the same result with the least copying.
    """

    def __init__(self, rate: int, channels: int, max_block: int = 0) -> None:
        # max_block is accepted for compatibility: the IIR form needs no transform size.
        self.rate = rate
        self.sub_len = sub_block_frames(rate)  #: 100 ms: a quarter of a 400 ms gating block
        self._channels = channels
        self._filter = _KFilter(rate, channels)
        self._gains = np.array(
            [_CHANNEL_GAINS[c] if c < len(_CHANNEL_GAINS) else 1.0 for c in range(channels)]
        )
        # Energies per 10 ms frame (a tenth of a sub-block, so the sub-blocks are sums of
        # ten frames): one row per channel, and for several channels a last row for their
        # K-weighted sum, whose energy over channels**2 is that of the mono mix (K-weighting
        # is linear: the mean of the filtered channels is the filtered downmix).
        # normalize() derives its output's loudness from the mix's frames.
        rows = channels if channels == 1 else channels + 1
        self._frames = _FrameSums(self.sub_len // 10, rows)

    @staticmethod
    def block_frames(rate: int, target: int = _TARGET_CHUNK) -> int:
        """A block length that suits this meter: whole 100 ms sub-blocks, about ``target``."""
        sub_len = sub_block_frames(rate)
        return max(1, target // sub_len) * sub_len

    def feed(self, x: F32) -> None:
        """Add one block of shape (frames, channels)."""
        if x.shape[0] == 0:
            return
        self._energy(self._filter.feed(np.ascontiguousarray(x.T, dtype=np.float32)))

    def _energy(self, y: F32) -> None:
        """Add the per-frame energies of filter output ``y`` (channels, n; changed in place)."""
        if y.shape[1] == 0:
            return
        if y.shape[0] == 1:
            np.square(y, out=y)
            self._frames.add(y)
            return
        rows = np.empty((y.shape[0] + 1, y.shape[1]), np.float32)
        mix = rows[-1]
        # Row by row: y.sum(axis=0) is ~25x slower than the adds for two rows.
        np.add(y[0], y[1], out=mix)
        for row in y[2:]:
            mix += row
        np.square(mix, out=mix)
        np.square(y, out=rows[:-1])
        self._frames.add(rows)

    def integrated(self) -> float:
        """Gated integrated loudness in LUFS; -inf when silent or shorter than 400 ms.

        A trailing partial sub-block is not counted (gating blocks hold whole sub-blocks).
        """
        self._energy(self._filter.flush())
        per_channel = self._frames.sums()[: self._channels]
        energy = self._gains @ per_channel  # BS.1770's channel-weighted sum, per frame
        subs = energy[: (energy.shape[0] // 10) * 10].reshape(-1, 10).sum(axis=1)
        return gated_loudness(subs, self.sub_len)

    def mono_frame_energies(self) -> F64:
        """The K-weighted mono mix's energy per 10 ms frame (``sub_len // 10`` samples), after
        :meth:`integrated`."""
        mix: F64 = self._frames.sums()[-1]
        return mix if self._channels == 1 else mix / float(self._channels**2)


class _FrameSums:
    """Sums of ``rows`` streams of per-sample energies over consecutive frames of ``sub``
    samples, the streams fed side by side as (rows, n) blocks of any length."""

    def __init__(self, sub: int, rows: int) -> None:
        self._sub = sub
        # Whole frames are summed as float32 matrix-vector products: BLAS keeps many
        # partial sums, so a sum of a frame's energies is within ~1e-6 of float64's
        # (1e-5 dB), at a fifth of the cost of a float64 reduction (measured 0.07 vs 0.41
        # ns a sample). Sub-blocks and gating blocks add the frames up in float64.
        self._ones = np.ones(sub, np.float32)
        self._parts: list[F64] = []
        self._carry = np.zeros(rows)  # energy of the frame in progress, per stream
        self._carried = 0  # its samples so far

    def add(self, energy: F32) -> None:
        sub = self._sub
        rows, n = energy.shape
        start = 0
        if self._carried:
            start = min(sub - self._carried, n)
            self._carry += energy[:, :start].sum(axis=1, dtype=np.float64)
            self._carried += start
            if self._carried < sub:
                return
            self._parts.append(self._carry[:, None])
            self._carry, self._carried = np.zeros(rows), 0
        whole = (n - start) // sub
        if whole:
            # The sums are kept in float64: they feed a mean over the whole recording.
            block = energy[:, start : start + whole * sub].reshape(rows, whole, sub)
            self._parts.append((block @ self._ones).astype(np.float64))
        rest = energy[:, start + whole * sub :]
        if rest.shape[1]:
            self._carry = rest.sum(axis=1, dtype=np.float64)
            self._carried = rest.shape[1]

    def sums(self) -> F64:
        """(rows, whole frames so far): a partial frame in progress is not included."""
        if not self._parts:
            return np.zeros((self._carry.shape[0], 0))
        return np.concatenate(self._parts, axis=1)


def gated_loudness(subs: F64, sub_len: int) -> float:
    """BS.1770 gated loudness (LUFS) from 100 ms sub-block energy sums of ``sub_len`` samples;
    -inf when silent or shorter than one 400 ms gating block."""
    if subs.shape[0] < 4:
        return -math.inf
    # 400 ms blocks with 75 % overlap: each is four consecutive 100 ms sub-blocks.
    csum = np.concatenate(([0.0], np.cumsum(subs)))
    z = (csum[4:] - csum[:-4]) / (4 * sub_len)
    with np.errstate(divide="ignore"):
        levels = -0.691 + 10.0 * np.log10(z)
    gated = z[levels > ABSOLUTE_GATE_LUFS]
    if gated.shape[0] == 0:
        return -math.inf
    relative = -0.691 + 10.0 * math.log10(float(gated.mean())) + RELATIVE_GATE_LU
    final = z[(levels > ABSOLUTE_GATE_LUFS) & (levels > relative)]
    if final.shape[0] == 0:
        return -math.inf
    return -0.691 + 10.0 * math.log10(float(final.mean()))
