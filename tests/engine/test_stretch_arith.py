"""The stretch arithmetic (engine/stretch.py) against straightforward per-iteration loops."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine.stretch import blocks_needed, safe_iterations


def _blocks_loop(key_cnt, d_first, d_last):
    return sum(key_cnt[d % len(key_cnt)] for d in range(d_first, d_last + 1))


def _safe_loop(key_cnt, d0, available):
    d, left = d0 + 1, available
    while key_cnt[d % len(key_cnt)] <= left:
        left -= key_cnt[d % len(key_cnt)]
        d += 1
    return d - d0


counts = st.lists(st.integers(0, 5), min_size=1, max_size=16).filter(lambda c: sum(c) > 0)


@settings(max_examples=300, deadline=None)
@given(counts, st.integers(0, 10**6), st.integers(-3, 200))
def test_blocks_needed_is_the_sum_over_iterations(key_cnt, d_first, span):
    n = sum(key_cnt)
    assert blocks_needed(key_cnt, n, d_first, d_first + span - 1) == _blocks_loop(key_cnt, d_first, d_first + span - 1)


@settings(max_examples=300, deadline=None)
@given(counts, st.integers(0, 10**6), st.integers(0, 300))
def test_safe_iterations_is_the_first_iteration_short_of_blocks(key_cnt, d0, available):
    assert safe_iterations(key_cnt, sum(key_cnt), d0, available) == _safe_loop(key_cnt, d0, available)
