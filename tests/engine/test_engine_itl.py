"""The ITL recorder: raw samples in order, and binned per metrics window with bounded memory."""
from __future__ import annotations

import numpy as np
import pytest
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


def _draw_calls(data, n_calls: int) -> list[tuple]:
    """A replica's ITL calls: single iterations (`add`) and decode stretches (`add_many`, gaps
    non-decreasing except a first one carrying a stall), times mostly rising but sometimes stepping
    back (the client streams record out of order)."""
    calls, t = [], data.draw(st.floats(0.0, 50.0))
    for _ in range(n_calls):
        if data.draw(st.booleans()):
            t -= data.draw(st.sampled_from([0.0, 0.0, 0.0, 3.0, 25.0]))    # rarely out of order
        if data.draw(st.integers(0, 3)) == 0:
            gap = data.draw(st.sampled_from([0.0, 1e-7, 0.0199995, 0.02, 0.0305, 0.5, 7.25]))
            t = max(0.0, t) + gap
            calls.append(("add", t, gap, data.draw(st.integers(1, 9))))
        else:
            k = data.draw(st.integers(1, 150))
            base = data.draw(st.sampled_from([0.012, 0.0199995, 0.03]))
            gaps = base + np.cumsum(np.full(k, data.draw(st.sampled_from([0.0, 2e-7, 4e-7, 3e-6]))))
            gaps[0] += data.draw(st.sampled_from([0.0, 0.0, 1.5]))          # a carried stall
            times = max(0.0, t) + np.cumsum(gaps)
            t = float(times[-1])
            calls.append(("add_many", times, gaps, data.draw(st.integers(1, 64))))
    return calls


def _play(rec: ITLRecorder, calls: list[tuple], views: bool) -> None:
    """Feed `calls`; with `views`, stretches arrive as views of one scratch buffer that is then
    overwritten (as the engine's stretch buffers may be), so a recorder must copy them."""
    scratch = np.empty((2, 256))
    for kind, t, g, w in calls:
        if kind == "add":
            rec.add(t, g, w)
        elif views:
            k = len(g)
            scratch[0, :k], scratch[1, :k] = t, g
            rec.add_many(scratch[0, :k], scratch[1, :k], w)
            scratch.fill(-1.0)
        else:
            rec.add_many(t, g, w)


def _raw(calls):
    t = np.concatenate([np.atleast_1d(np.asarray(c[1], dtype=float)) for c in calls])
    g = np.concatenate([np.atleast_1d(np.asarray(c[2], dtype=float)) for c in calls])
    w = np.concatenate([np.full(np.size(c[2]), c[3], dtype=np.int64) for c in calls])
    return t, g, w


@settings(max_examples=30, deadline=None)
@given(data=st.data(), every=st.sampled_from([1, 7, 64, 300, 1 << 16]), window=st.sampled_from([0.5, 2.0, 10.0]),
       views=st.booleans())
def test_recorder_bins_equal_bin_samples_of_every_sample(data, every, window, views):
    """Whatever the fold size and call mix, a binning recorder's arrays are exactly (bit for bit)
    bin_samples over every sample recorded, reads in between change nothing, and a raw recorder
    keeps each sample with its integer weight."""
    calls = _draw_calls(data, data.draw(st.integers(1, 25)))
    old = itl_mod.BIN_EVERY
    itl_mod.BIN_EVERY = every
    try:
        raw, binned = ITLRecorder(), ITLRecorder()
        binned.bin_by(window)
        cut = data.draw(st.integers(0, len(calls)))
        _play(raw, calls[:cut], views)
        _play(binned, calls[:cut], views)
        binned.arrays()                                       # a read mid-way (cached, then invalidated)
        _play(raw, calls[cut:], views)
        _play(binned, calls[cut:], views)
    finally:
        itl_mod.BIN_EVERY = old
    t, g, w = _raw(calls)
    rt, rg, rw = raw.arrays()
    assert np.array_equal(rt, t) and np.array_equal(rg, g) and np.array_equal(rw, w) and rw.dtype == np.int64
    want = bin_samples(t, g, w, window)
    got = binned.arrays()
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()


def test_drained_parts_merge_into_the_same_bins():
    """drain_bins hands over key-space parts that merge_bins turns into bin_samples' bins, and the
    recorder starts empty again."""
    rng = np.random.default_rng(3)
    rec = ITLRecorder()
    rec.bin_by(5.0)
    parts, everything = [], []
    for _ in range(4):
        times = np.sort(rng.uniform(0, 100, 500))
        gaps = np.round(rng.choice([0.02, 0.021, 0.3], 500), 6)
        rec.add_many(times, gaps, 3)
        everything.append((times, gaps))
        parts += rec.drain_bins()
        assert rec.drain_bins() == [] and len(rec.arrays()[1]) == 0
    t = np.concatenate([e[0] for e in everything])
    g = np.concatenate([e[1] for e in everything])
    got = itl_mod.bins_to_samples(itl_mod.merge_bins(parts), 5.0)
    for a, b in zip(got, bin_samples(t, g, np.full(len(t), 3), 5.0)):
        assert a.tobytes() == b.tobytes()


def test_a_weight_must_be_a_count():
    rec = ITLRecorder()
    rec.add(1.0, 0.1, np.int64(2))
    rec.add_many(np.array([2.0]), np.array([0.1]), 3.0)
    assert rec.weights.tolist() == [2, 3]
    with pytest.raises(ValueError, match="integer ITL weight"):
        rec.add(3.0, 0.1, 2.5)


def test_merge_orders_by_window_then_gap_whatever_the_gaps():
    """Key-space merging orders (window, gap) lexicographically even for a gap below zero (never
    recorded by the engine, but the merge must not depend on it)."""
    win = np.array([1, 0, 1, 0, 1], dtype=np.int64)
    q = np.array([-5, 7, 3, 7, -5], dtype=np.int64)
    w = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    mw, mq, ms = itl_mod.merge_bins([(win, q, w)])
    assert mw.tolist() == [0, 1, 1] and mq.tolist() == [7, -5, 3] and ms.tolist() == [6, 6, 3]
