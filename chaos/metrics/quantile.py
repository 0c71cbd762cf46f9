"""Percentiles: weighted (for ITL samples) and grouped (one per time window), both vectorised.

Interpolation everywhere is numpy's default "linear" method (Hyndman & Fan type 7): the q-quantile
of n sorted values sits at rank h = (n - 1) q, interpolated between ranks floor(h) and floor(h) + 1.
A weighted quantile treats value v with weight w as w copies of v, so with integer weights it equals
np.quantile(np.repeat(values, weights), q); fractional weights use the same formula on the
cumulative weight (total N = sum of weights, rank r holds the value whose cumulative weight first
exceeds r).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaos.engine.itl import bin_samples


@dataclass(slots=True)
class ItlSamples:
    """Inter-token latencies from the engine as weighted samples: an iteration of latency L with n
    decoding sequences contributes gap L with weight n. t_s (optional) is when each iteration ended,
    so a summary over a time window can keep only that window's gaps."""
    gaps_s: np.ndarray
    weights: np.ndarray
    t_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.gaps_s = np.asarray(self.gaps_s, dtype=np.float64)
        self.weights = np.asarray(self.weights, dtype=np.float64)
        if self.t_s is not None:
            self.t_s = np.asarray(self.t_s, dtype=np.float64)
        if self.gaps_s.shape != self.weights.shape or (self.t_s is not None and self.t_s.shape != self.gaps_s.shape):
            raise ValueError(f"ItlSamples: gaps_s, weights (and t_s) need equal lengths, got "
                             f"{self.gaps_s.shape}, {self.weights.shape}")

    @classmethod
    def concat(cls, parts: list["ItlSamples"]) -> "ItlSamples":
        """One sample set from several (e.g. one per replica)."""
        if not parts:
            return cls(np.empty(0), np.empty(0))
        with_t = all(p.t_s is not None for p in parts)
        return cls(np.concatenate([p.gaps_s for p in parts]), np.concatenate([p.weights for p in parts]),
                   np.concatenate([p.t_s for p in parts]) if with_t else None)


    def compact(self, window_s: float, resolution_s: float = 1e-6) -> "ItlSamples":
        """The same distribution in far fewer samples: gaps rounded to `resolution_s` and merged per
        metrics window (summed weights). An hour of a fleet has millions of engine iterations but only
        thousands of distinct (window, gap) pairs. Time resolution becomes the window: t_s is the
        window's midpoint, so summaries over window-aligned spans stay exact to `resolution_s`."""
        if len(self.gaps_s) == 0:
            return self
        t_s, gaps_s, weights = bin_samples(self.t_s, self.gaps_s, self.weights, window_s, resolution_s)
        return ItlSamples(gaps_s, weights, t_s)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float | np.ndarray) -> float | np.ndarray:
    """q-quantile(s) of `values` where each value counts `weights` times (see module docstring).
    NaN values and non-positive weights are ignored; NaN when nothing is left."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    ok = ~np.isnan(v) & (w > 0)
    v, w = v[ok], w[ok]
    qs = np.asarray(q, dtype=np.float64)
    if len(v) == 0:
        return np.full(qs.shape, np.nan) if qs.ndim else float("nan")
    order = np.argsort(v, kind="stable")
    v, cw = v[order], np.cumsum(w[order])
    h = np.maximum(cw[-1] - 1.0, 0.0) * qs
    lo = np.floor(h)
    i_lo = np.minimum(np.searchsorted(cw, lo, side="right"), len(v) - 1)
    i_hi = np.minimum(np.searchsorted(cw, lo + 1.0, side="right"), len(v) - 1)
    out = v[i_lo] + (h - lo) * (v[i_hi] - v[i_lo])
    return out if qs.ndim else float(out)


def grouped_quantiles(groups: np.ndarray, values: np.ndarray, n_groups: int,
                      qs: tuple[float, ...]) -> np.ndarray:
    """Array (len(qs), n_groups): per group g in [0, n_groups), the linear-interpolated quantiles of
    the values with groups == g (NaN for empty groups). NaN values and out-of-range groups are dropped.
    One lexsort, no Python loop over values or groups."""
    g = np.asarray(groups, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v) & (g >= 0) & (g < n_groups)
    g, v = g[ok], v[ok]
    out = np.full((len(qs), n_groups), np.nan)
    if len(v) == 0:
        return out
    order = np.lexsort((v, g))
    g, v = g[order], v[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    nonempty = counts > 0
    for k, q in enumerate(qs):
        h = (counts[nonempty] - 1) * q
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, counts[nonempty] - 1)
        base = starts[nonempty]
        out[k, nonempty] = v[base + lo] + (h - lo) * (v[base + hi] - v[base + lo])
    return out
