"""Fast-forward arithmetic for pure-decode stretches (DESIGN principle 1).

While a batch is pure decode, every running sequence gains one token per iteration, so the replica
keeps one iteration counter D instead of per-sequence counters: a sequence that entered decode at
D_enter with g0 tokens has g0 + (D - D_enter) tokens, its context is `_ctxbase + D`, and it needs a
new KV block at the start of iteration D exactly when D % block_size == its `_key` (its free slots
shrink by one per iteration and a block adds block_size). `key_cnt[r]` counts decoding sequences with
key r, so the blocks iteration D needs are key_cnt[D % block_size] - an O(block_size) question for any
stretch length, with no per-sequence work.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

# longest stretch computed in one call; a stretch that ends without an event is simply re-planned
MAX_STRETCH = 2048


@dataclass(slots=True)
class Stretch:
    """A planned run of k pure-decode iterations D0 .. D0+k-1 starting at replica time t0."""

    d0: int
    k: int
    n: int                 # decoding sequences (constant over the stretch)
    lat: np.ndarray        # per-iteration latency, seconds
    times: np.ndarray      # per-iteration end time = cumsum from t0 (sequential, like t = t + L)
    j_done: int = 0        # block allocations applied for iterations d0 .. d0+j_done
    interrupted: bool = False  # an outside event already cut it short (at most once)
    synced_at: float = -1.0    # simulated time of the last lazy materialisation (views)


def stretch_times(t0: float, lat: np.ndarray) -> np.ndarray:
    """End times of consecutive iterations, summed sequentially from t0 like t = t + L (numpy's
    accumulate adds in order): lat[0] is lent t0 for the sum and given back, which spares a buffer."""
    if not len(lat):
        return np.empty(0)
    first = lat[0]
    lat[0] = t0 + first
    times = _accumulate(lat)
    lat[0] = first
    return times


_accumulate = np.add.accumulate     # cumsum without its Python wrapper


def blocks_needed(key_cnt: list[int], n: int, d_first: int, d_last: int) -> int:
    """Blocks the decoding sequences allocate at the starts of iterations d_first .. d_last (inclusive)."""
    if d_last < d_first:
        return 0
    bs = len(key_cnt)
    periods, extra = divmod(d_last - d_first + 1, bs)
    need = periods * n
    if extra:
        start = d_first % bs
        end = start + extra
        need += sum(key_cnt[start:end]) if end <= bs else sum(key_cnt[start:]) + sum(key_cnt[:end - bs])
    return need


def safe_iterations(key_cnt: list[int], n: int, d0: int, available: int) -> int:
    """J such that iterations d0+1 .. d0+J-1 get their blocks from `available` and iteration d0+J would not.

    Iteration d0's own blocks are already allocated. A full period of block_size iterations needs
    exactly n blocks, so the answer is q*block_size plus the first point where one period's running
    sum of needs (from iteration d0+1 on) exceeds the remainder.
    """
    bs = len(key_cnt)
    q, rem = divmod(available, n)
    start = (d0 + 1) % bs
    t = bisect_right(list(accumulate(key_cnt[start:] + key_cnt[:start])), rem)
    if t >= bs:
        raise AssertionError("a period needs n blocks and rem < n")  # pragma: no cover
    return q * bs + t + 1


def count_congruent(a: int, b: int, key: int, bs: int) -> int:
    """How many d in [a, b] have d % bs == key (0 when b < a)."""
    if b < a:
        return 0
    return (b - key) // bs - (a - 1 - key) // bs
