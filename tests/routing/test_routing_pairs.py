"""power_of_two's pair draws (routing/pairs.py) are exactly Generator.choice(n, 2, replace=False)'s."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.routing.pairs import DistinctPairs


@settings(max_examples=80)
@given(seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.one_of(st.integers(2, 9), st.integers(2, 300), st.integers(2, 200_000)),
                      min_size=1, max_size=200))
def test_distinct_pairs_replay_generator_choice_call_for_call(seed, sizes):
    """Any sequence of pool sizes (pools change between picks) gives the same pairs in the same order."""
    ref, mine = np.random.default_rng(seed), DistinctPairs(np.random.default_rng(seed))
    for n in sizes:
        want = tuple(int(i) for i in ref.choice(n, size=2, replace=False))
        assert mine.draw(n) == want


def test_rejection_sampling_path_is_taken_and_still_matches():
    # n - 1 = 2**31 + 1 makes Lemire's rejection frequent (threshold ~ half the 32-bit range)
    ref, mine = np.random.default_rng(5), DistinctPairs(np.random.default_rng(5))
    for _ in range(2000):
        assert mine.draw(2**31 + 2) == tuple(int(i) for i in ref.choice(2**31 + 2, size=2, replace=False))


def test_a_pair_needs_two_positions():
    with pytest.raises(ValueError, match="n=1"):
        DistinctPairs(np.random.default_rng(0)).draw(1)
