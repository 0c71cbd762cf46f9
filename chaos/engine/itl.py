"""Inter-token-latency samples of one replica, kept in preallocated column buffers.

An iteration of latency L ending at t with n decoding sequences contributes n token gaps of L: it is
stored once with weight n. A decode stretch is copied into the buffers by slice assignment, so a
recorder keeps no reference to the caller's arrays and reading needs no concatenation.

A fleet-hour has millions of iterations, but the metrics only need a histogram per metrics window:
`ITLRecorder.bin_by(window_s)` makes the recorder fold its buffer into (window, gap rounded to 1 us)
bins every BIN_EVERY samples, so memory is bounded by the distinct gaps per window, not by the
iterations run. A fold first merges consecutive samples of equal (window, gap) -- a stretch's gaps
grow by less than 1 us per iteration, so it is a few runs, not ~100 samples (the fleet benchmark's
9.6 M samples make 0.65 M runs) -- and sorts only those runs. Binning is exact and idempotent: binning in pieces gives the same arrays as `bin_samples` (the
straightforward reference, which metrics.ItlSamples.compact also uses) on every sample at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

BIN_EVERY = 1 << 14          # raw samples a binning recorder holds before folding them into bins (~256 KB)
RESOLUTION_S = 1e-6          # gap resolution of the bins
_FIRST_CAPACITY = 1024       # a recorder's first buffer (grown by doubling)

Bins = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(window index int64, gap in RESOLUTION_S units int64, weight): binned samples in key space."""


def bin_samples(t_s: np.ndarray | None, gaps_s: np.ndarray, weights: np.ndarray, window_s: float,
                resolution_s: float = RESOLUTION_S) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """(t_s, gaps_s, weights) merged per (window, gap rounded to `resolution_s`), weights summed as
    float64 (exact for integer weights), sorted by window then gap; t_s becomes each window's midpoint
    (None stays None: one window)."""
    if len(gaps_s) == 0:
        return t_s, gaps_s, weights
    q = np.rint(gaps_s / resolution_s).astype(np.int64)
    span = int(q.max()) + 1
    win = (np.floor(t_s / window_s).astype(np.int64) if t_s is not None else np.zeros(len(q), dtype=np.int64))
    keys, inverse = np.unique(win * span + q, return_inverse=True)
    summed = np.bincount(inverse, weights=weights)
    t_out = (keys // span + 0.5) * window_s if t_s is not None else None
    return t_out, np.round((keys % span) * resolution_s, 12), summed


def sample_runs(t_s: np.ndarray, gaps_s: np.ndarray, weights: np.ndarray, window_s: float) -> Bins:
    """Samples in key space (bin_samples' window index and rounded gap), consecutive samples of equal
    key merged (weights summed): the same bins, unsorted and maybe repeated, in far fewer rows."""
    q = np.rint(gaps_s / RESOLUTION_S).astype(np.int64)
    win = np.floor(t_s / window_s).astype(np.int64)
    if len(q) < 2:
        return win, q, weights.copy()
    change = q[1:] != q[:-1]
    change |= win[1:] != win[:-1]
    starts = np.flatnonzero(change)
    starts += 1
    starts = np.concatenate((_ZERO, starts))
    return win[starts], q[starts], np.add.reduceat(weights, starts)


_ZERO = np.zeros(1, dtype=np.int64)


def merge_bins(parts: list[Bins]) -> Bins:
    """Key-space parts merged into sorted bins: one row per (window, gap), weights summed (integer
    weights stay exact), ordered by window then gap as bin_samples orders them."""
    if len(parts) == 1:
        win, q, w = parts[0]
    else:
        win, q, w = (np.concatenate(c) for c in zip(*parts))
    if len(q) == 0:
        return win, q, w
    lo = int(q.min())
    key = win * (int(q.max()) - lo + 1)      # orders by window, then gap
    key += q
    key -= lo
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(key[1:] != key[:-1])
    starts += 1
    starts = np.concatenate((_ZERO, starts))
    order_s = order[starts]
    return win[order_s], q[order_s], np.add.reduceat(w[order], starts)


def bins_to_samples(bins: Bins, window_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(window midpoints s, gaps s, float64 weights), exactly as bin_samples computes them."""
    win, q, w = bins
    return (win + 0.5) * window_s, np.round(q * RESOLUTION_S, 12), w.astype(np.float64)


def split_closed(bins: Bins, window_s: float, cut_s: float) -> tuple[tuple | None, Bins | None]:
    """Sorted bins cut at `cut_s`: (the windows that ended by then as bins_to_samples arrays, or None;
    the later windows' bins, or None)."""
    win = bins[0]
    k = int(np.searchsorted((win + 0.5) * window_s, cut_s - 0.5 * window_s, side="right"))
    if k == 0:
        return None, bins
    closed = bins_to_samples(tuple(c[:k] for c in bins), window_s)
    return closed, (tuple(c[k:].copy() for c in bins) if k < len(win) else None)


def _count(weight) -> int:
    """A sample weight (decoding sequences) as an int; anything else is a caller's bug."""
    if isinstance(weight, Integral) or (isinstance(weight, float) and weight.is_integer()):
        return int(weight)
    raise ValueError(f"expected an integer ITL weight (decoding sequences) but got weight={weight!r}")


@dataclass(frozen=True, slots=True)
class ITLArrays:
    """ITL samples of one replica: gap of each iteration, its weight (decoding sequences) and end time."""

    gaps_s: np.ndarray
    weights: np.ndarray
    t_s: np.ndarray


_NO_F = np.empty(0)


class ITLRecorder:
    """Append-only (end time, gap, weight) samples; per-iteration scalars or whole stretches."""

    __slots__ = ("_t", "_g", "_ws", "_wv", "_wlast", "_n", "_bin_s", "_runs", "_held", "_merged", "_cache")

    def __init__(self) -> None:
        self._t, self._g = _NO_F, _NO_F       # column buffers: rows [0, _n) are samples
        self._ws: list[int] = []              # weights run-length coded: row where each run starts...
        self._wv: list[int] = []              # ...and its weight (a stretch is one run: no per-row fill)
        self._wlast = None
        self._n = 0
        self._bin_s: float | None = None      # metrics window to bin by (None: keep every sample)
        self._runs: list[Bins] = []           # binned mode: folded parts (sample_runs / merge_bins)
        self._held = 0                        # rows in _runs
        self._merged = 0                      # rows after the last merge of _runs
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def bin_by(self, window_s: float) -> None:
        """Keep samples as a histogram per `window_s` (see the module docstring); times become window
        midpoints. For a simulation's replicas; tests of iteration timing leave it off."""
        if not window_s > 0:
            raise ValueError(f"expected a positive window in seconds but got window_s={window_s!r}")
        if self._bin_s is not None and self._bin_s != float(window_s) and (self._n or self._runs):
            raise ValueError(f"this recorder already bins by {self._bin_s} s; got window_s={window_s!r}")
        self._bin_s = float(window_s)

    def add(self, t_end_s: float, gap_s: float, weight: int) -> None:
        n = self._n
        if n == len(self._g):
            self._room(1)
            n = self._n
        self._t[n] = t_end_s
        self._g[n] = gap_s
        if weight != self._wlast:
            self._weight_run(n, weight)
        self._n = n + 1
        self._cache = None

    def add_many(self, t_end_s: np.ndarray, gap_s: np.ndarray, weight: int) -> None:
        """A stretch of iterations with one weight; the arrays are copied (they may be views)."""
        n = self._n
        m = n + len(gap_s)
        if m > len(self._g):
            self._room(m - n)
            n = self._n
            m = n + len(gap_s)
        self._t[n:m] = t_end_s
        self._g[n:m] = gap_s
        if weight != self._wlast:
            self._weight_run(n, weight)
        self._n = m
        self._cache = None

    def _weight_run(self, n: int, weight) -> None:
        """Samples from row n on have `weight` (a new run: weights are kept run-length coded)."""
        if weight.__class__ is not int:
            weight = _count(weight)
        self._ws.append(n)
        self._wv.append(weight)
        self._wlast = weight

    def _room(self, k: int) -> None:
        """Make room for k more samples: a binning recorder past BIN_EVERY folds its buffer, else the
        buffer doubles (never beyond max(BIN_EVERY, k) when binning)."""
        n = self._n
        if self._bin_s is not None and n and n + k > BIN_EVERY:
            self._fold()
            n = 0
        cap = len(self._g)
        if n + k <= cap:
            return
        cap = max(n + k, 2 * cap, _FIRST_CAPACITY)
        if self._bin_s is not None:
            cap = min(cap, max(BIN_EVERY, n + k))
        t, g = np.empty(cap), np.empty(cap)
        t[:n], g[:n] = self._t[:n], self._g[:n]
        self._t, self._g = t, g

    def _weights(self) -> np.ndarray:
        """The weight column of the buffer's rows (int64)."""
        if not self._ws:
            return np.empty(0, dtype=np.int64)
        ends = self._ws[1:]
        ends.append(self._n)
        return np.repeat(np.array(self._wv, dtype=np.int64), np.subtract(ends, self._ws))

    def _empty_buffer(self) -> None:
        self._n = 0
        self._ws, self._wv, self._wlast = [], [], None

    def _fold(self) -> None:
        """Move the buffer's samples into a folded part; when the parts hold twice what the last merge
        left (and at least BIN_EVERY rows), merge them (so the work stays linear in samples)."""
        n = self._n
        if n:
            part = sample_runs(self._t[:n], self._g[:n], self._weights(), self._bin_s)
            self._runs.append(part)
            self._held += len(part[1])
            self._empty_buffer()
            if len(self._runs) > 1 and self._held >= max(BIN_EVERY, 2 * self._merged):
                self._merge()

    def _merge(self) -> None:
        # one part is already merged when it is what the last merge left (_merged == _held)
        if len(self._runs) > 1 or (self._runs and self._merged != self._held):
            self._runs = [merge_bins(self._runs)]
            self._held = self._merged = len(self._runs[0][1])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(iteration end times s, gaps s, weights = decoding sequences), in time order; when binning,
        bins sorted by window then gap (times are window midpoints, weights float64)."""
        if self._cache is None:
            if self._bin_s is not None:
                self._fold()
                self._merge()
                if self._runs:
                    t, g, w = bins_to_samples(self._runs[0], self._bin_s)
                else:
                    t, g, w = np.empty(0), np.empty(0), np.empty(0)
            else:
                n = self._n
                t, g, w = self._t[:n], self._g[:n], self._weights()    # later samples go past n
            self._cache = (t, g, w)
        return self._cache

    def drain(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples so far (as `arrays`), which the recorder then forgets: the caller keeps them."""
        out = self.arrays()
        self._forget()
        return out

    def drain_bins(self) -> list[Bins]:
        """A binning recorder's samples so far in key space (parts as sample_runs gives them: unsorted,
        keys maybe repeated; merge_bins sorts them), which it then forgets. The simulation merges every
        replica's parts into one fleet histogram with a single sort (sim.run._FleetItl)."""
        if self._bin_s is None:
            raise ValueError("drain_bins needs a binning recorder (call bin_by first)")
        self._fold()
        out = self._runs
        self._forget()
        return out

    def _forget(self) -> None:
        if self._bin_s is None:      # the caller holds views of the buffer: start a new one
            self._t, self._g = _NO_F, _NO_F
        self._empty_buffer()
        self._runs = []
        self._held = self._merged = 0
        self._cache = None

    def take_closed(self, cut_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A binning recorder's bins of the windows that ended by `cut_s` (as `arrays` gives them), which
        it then forgets, keeping the later ones (None when no window closed): what a spilling run
        writes to disk."""
        if self._bin_s is None:
            raise ValueError("take_closed needs a binning recorder (call bin_by first)")
        self._fold()
        self._merge()
        if not self._runs:
            return None
        closed, rest = split_closed(self._runs[0], self._bin_s, cut_s)
        if closed is not None:
            self._runs = [rest] if rest is not None else []
            self._held = self._merged = len(rest[1]) if rest is not None else 0
            self._cache = None
        return closed

    @property
    def times_s(self) -> np.ndarray:
        return self.arrays()[0]

    @property
    def gaps_s(self) -> np.ndarray:
        return self.arrays()[1]

    @property
    def weights(self) -> np.ndarray:
        return self.arrays()[2]

    @property
    def tokens(self) -> int:
        """Decode tokens recorded (sum of weights)."""
        return int(self.weights.sum())


class TenantITL:
    """ITL samples of one replica split by tenant (kept only when the fleet has tenants): an iteration's
    gap counts once per decoding sequence of each tenant, so the tenants' weights sum to the replica's.

    The replica reports decoders entering and leaving (`enter`/`leave`) and takes a `snapshot` of the
    per-tenant counts when it plans an iteration or a stretch; the samples use that snapshot, as the
    replica's own samples use the decoder count of the plan."""

    __slots__ = ("_dec", "_snap", "recorders", "_bin_s")

    def __init__(self) -> None:
        self._dec: dict[int, int] = {}
        self._snap: dict[int, int] = {}
        self.recorders: dict[int, ITLRecorder] = {}
        self._bin_s: float | None = None

    def bin_by(self, window_s: float) -> None:
        """Every tenant's recorder keeps a histogram per window (ITLRecorder.bin_by)."""
        self._bin_s = float(window_s)
        for rec in self.recorders.values():
            rec.bin_by(window_s)

    def enter(self, tenant: int) -> None:
        self._dec[tenant] = self._dec.get(tenant, 0) + 1

    def leave(self, tenant: int) -> None:
        self._dec[tenant] -= 1

    def clear(self) -> None:
        """A crash: no one decodes."""
        self._dec.clear()
        self._snap = {}

    def snapshot(self) -> None:
        self._snap = {t: n for t, n in self._dec.items() if n}

    def _rec(self, tenant: int) -> ITLRecorder:
        rec = self.recorders.get(tenant)
        if rec is None:
            rec = self.recorders[tenant] = ITLRecorder()
            if self._bin_s is not None:
                rec.bin_by(self._bin_s)
        return rec

    def add(self, t_end_s: float, gap_s: float, fresh) -> None:
        """One iteration: its decoders of the snapshot less those in `fresh` (requests whose token here
        follows a gap, recorded by the client side)."""
        snap = self._snap
        if fresh:
            snap = dict(snap)
            for r in fresh:
                snap[r.tenant] -= 1
        for tenant, n in snap.items():
            if n > 0:
                self._rec(tenant).add(t_end_s, gap_s, n)

    def add_many(self, t_end_s: np.ndarray, gap_s: np.ndarray) -> None:
        """A decode stretch (its batch is the snapshot's)."""
        for tenant, n in self._snap.items():
            self._rec(tenant).add_many(t_end_s, gap_s, n)

    def take_closed(self, cut_s: float) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every tenant's bins of windows that ended by `cut_s` (ITLRecorder.take_closed), by tenant id."""
        out = {}
        for tenant, rec in sorted(self.recorders.items()):
            closed = rec.take_closed(cut_s)
            if closed is not None:
                out[tenant] = closed
        return out

    def arrays(self) -> dict[int, ITLArrays]:
        out = {}
        for tenant, rec in sorted(self.recorders.items()):
            t, g, w = rec.arrays()
            out[tenant] = ITLArrays(gaps_s=g, weights=w, t_s=t)
        return out
