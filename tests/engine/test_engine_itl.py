"""The ITL recorder: raw samples in order, and binned per metrics window with bounded memory."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.engine import itl as itl_mod
from chaos.engine.itl import ITLRecorder, bin_samples
from chaos.metrics import ItlSamples


def _feed(rec: ITLRecorder, rng: np.random.Generator, n_chunks: int) -> None:
    t = 0.0
    for _ in range(n_chunks):
        if rng.random() < 0.3:
            gap = float(rng.choice([0.021, 0.0305, 0.5]))
            t += gap
            rec.add(t, gap, int(rng.integers(1, 9)))
        else:
            k = int(rng.integers(1, 40))
            gaps = np.round(0.02 + 0.001 * rng.integers(0, 5, size=k), 6)
            times = t + np.cumsum(gaps)
            t = float(times[-1])
            rec.add_many(times, gaps, int(rng.integers(1, 9)))


def test_raw_recorder_keeps_every_sample_with_its_weight():
    rec = ITLRecorder()
    rec.add(1.0, 0.5, 3)
    rec.add_many(np.array([1.1, 1.2]), np.array([0.1, 0.1]), 4)
    rec.add(1.5, 0.3, 2)
    t, g, w = rec.arrays()
    assert t.tolist() == [1.0, 1.1, 1.2, 1.5]
    assert g.tolist() == [0.5, 0.1, 0.1, 0.3]
    assert w.tolist() == [3, 4, 4, 2] and rec.tokens == 13


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), every=st.integers(1, 200))
def test_binning_in_pieces_equals_binning_once(seed, every):
    """A recorder that folds its samples into bins every few samples ends with exactly the bins of
    the whole raw record binned once (ItlSamples.compact), so its memory can stay bounded."""
    old = itl_mod.BIN_EVERY
    itl_mod.BIN_EVERY = every
    try:
        raw, binned = ITLRecorder(), ITLRecorder()
        binned.bin_by(2.0)
        _feed(raw, np.random.default_rng(seed), 120)
        _feed(binned, np.random.default_rng(seed), 120)
    finally:
        itl_mod.BIN_EVERY = old
    t, g, w = raw.arrays()
    once = ItlSamples(g, w, t).compact(2.0)
    bt, bg, bw = binned.arrays()
    assert np.array_equal(bt, once.t_s) and np.array_equal(bg, once.gaps_s) and np.array_equal(bw, once.weights)
    assert bw.sum() == w.sum()
    again = bin_samples(bt, bg, bw, 2.0)                 # idempotent
    assert all(np.array_equal(a, b) for a, b in zip(again, (bt, bg, bw)))


def test_a_binned_recorder_holds_bins_not_iterations():
    rec = ITLRecorder()
    rec.bin_by(10.0)
    for i in range(300):                                  # 300 stretches of 1,000 iterations, 30 s each
        times = i * 30.0 + np.arange(1, 1001) * 0.03
        rec.add_many(times, np.full(1000, 0.03), 8)
    t, g, w = rec.arrays()
    assert len(g) <= 901 and w.sum() == 300 * 1000 * 8     # one bin per 10 s window (9,000 s), all tokens kept
