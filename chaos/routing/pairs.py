"""Two distinct replica positions per pick, drawn exactly as `Generator.choice(n, 2, replace=False)`
would draw them, at a tenth of its cost (power_of_two routing picks once per dispatch).

numpy's `Generator.choice(n, size=2, replace=False)` (numpy/random/_generator.pyx, any n: Floyd's
algorithm applies whenever size <= n // 50 or n <= 10,000) draws a = U[0, n-2], then v = U[0, n-1]
(v == a -> n-1), then shuffles the pair with j = U[0, 1] (swap when j == 0). Each U[0, r] is Lemire's
bounded draw on 32-bit words (`random_bounded_uint64` -> `buffered_bounded_lemire_uint32`), and a
32-bit word is one half of a 64-bit output of the bit generator: low half first, the high half kept
for the next word (`has_uint32`). `DistinctPairs` replays that arithmetic in Python on the raw 64-bit
outputs, keeping the spare half itself, so a run routes exactly as it did with `choice` while every
pick costs a few integer operations instead of a numpy call with its array set-up. It must be the
only consumer of its generator (the routing stream is the policy's own), since it holds the spare
half and the 64-bit outputs it draws ahead (`RAW_BATCH` per numpy call, read as Python ints) outside
the generator's state.
"""
from __future__ import annotations

import numpy as np

_M32 = 0xFFFFFFFF
RAW_BATCH = 512     # 64-bit outputs drawn per bit-generator call (the sequence is the same one by one)


class DistinctPairs:
    """Ordered pairs of distinct positions of [0, n), identical to successive
    `rng.choice(n, size=2, replace=False)` calls on the generator it was given."""

    __slots__ = ("_random_raw", "_ahead", "_half")

    def __init__(self, rng: np.random.Generator) -> None:
        self._random_raw = rng.bit_generator.random_raw
        self._ahead: list[int] = []             # outputs drawn, not used yet, last first
        self._half: int | None = None          # the high 32 bits of the last 64-bit output, unused yet

    def _raw(self) -> int:
        """The bit generator's next 64-bit output."""
        ahead = self._ahead
        if not ahead:
            ahead.extend(reversed(self._random_raw(RAW_BATCH).tolist()))
        return ahead.pop()

    def _u32(self) -> int:
        half = self._half
        if half is not None:
            self._half = None
            return half
        v = self._raw()
        self._half = v >> 32
        return v & _M32

    def _bounded(self, r: int) -> int:
        """Uniform integer in [0, r] (r < 2**32 - 1), Lemire's multiply-and-reject as numpy does it."""
        if r == 0:
            return 0
        return self._rejected(self._u32() * (r + 1), r + 1) >> 32

    def _rejected(self, m: int, excl: int) -> int:
        """Lemire's product m of a word and `excl`, redrawn while its low word falls in the biased zone."""
        left = m & _M32
        if left < excl:
            threshold = (_M32 - excl + 1) % excl
            while left < threshold:
                m = self._u32() * excl
                left = m & _M32
        return m

    def draw(self, n: int) -> tuple[int, int]:
        """Two distinct positions of [0, n), n >= 2: `_bounded(n - 2)`, `_bounded(n - 1)` and
        `_bounded(1)` in that order, with the word supply of `_u32` written out (one pick per dispatch)."""
        if not 2 <= n < _M32:
            raise ValueError(f"expected 2 <= n < 2**32 positions to draw a pair from but got n={n!r}")
        half, raw = self._half, self._raw
        if n == 2:
            a = 0
        else:
            if half is None:
                w = raw()
                half, w = w >> 32, w & _M32
            else:
                w, half = half, None
            m = w * (n - 1)
            if m & _M32 < n - 1:                  # rare (p < n / 2**32): the rejection loop may draw
                self._half = half
                m = self._rejected(m, n - 1)
                half = self._half
            a = m >> 32
        if half is None:
            w = raw()
            half, w = w >> 32, w & _M32
        else:
            w, half = half, None
        m = w * n
        if m & _M32 < n:
            self._half = half
            m = self._rejected(m, n)
            half = self._half
        v = m >> 32
        b = n - 1 if v == a else v
        # _bounded(1) = (w * 2) >> 32, never rejected (its threshold (2**32 - 2) % 2 is 0): the top bit
        if half is None:
            w = raw()
            half, w = w >> 32, w & _M32
        else:
            w, half = half, None
        self._half = half
        if w >> 31 == 0:
            return b, a
        return a, b
