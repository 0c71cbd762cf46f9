"""Inter-token-latency samples of one replica, kept as arrays (one chunk per decode stretch).

An iteration of latency L ending at t with n decoding sequences contributes n token gaps of L: it is
stored once with weight n. Arrays are concatenated lazily, when read.

A fleet-hour has millions of iterations, but the metrics only need a histogram per metrics window:
`ITLRecorder.bin_by(window_s)` makes the recorder fold its samples into (window, gap rounded to 1 us)
bins every BIN_EVERY samples (`bin_samples`, which metrics.ItlSamples.compact also uses), so memory is
bounded by the distinct gaps per window, not by the iterations run. Binning is exact and idempotent:
binning in pieces gives the same bins as binning once at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BIN_EVERY = 1 << 16          # raw samples a binning recorder holds before folding them into bins


def bin_samples(t_s: np.ndarray | None, gaps_s: np.ndarray, weights: np.ndarray, window_s: float,
                resolution_s: float = 1e-6) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
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


@dataclass(frozen=True, slots=True)
class ITLArrays:
    """ITL samples of one replica: gap of each iteration, its weight (decoding sequences) and end time."""

    gaps_s: np.ndarray
    weights: np.ndarray
    t_s: np.ndarray


def _weights(chunks: list) -> np.ndarray:
    """The weight column of chunks whose weight is one int for the whole chunk or an array."""
    lens = [len(c[1]) for c in chunks]
    w = np.repeat(np.array([c[2] if isinstance(c[2], int) else 0 for c in chunks], dtype=np.int64), lens)
    start = 0
    for c, n in zip(chunks, lens):
        if not isinstance(c[2], int):
            w = w.astype(np.result_type(w, c[2]), copy=False)
            w[start:start + n] = c[2]
        start += n
    return w


class ITLRecorder:
    """Append-only (end time, gap, weight) samples; per-iteration scalars or whole stretches."""

    __slots__ = ("_t", "_g", "_w", "_chunks", "_cache", "_bin_s", "_raw", "_bins")

    def __init__(self) -> None:
        self._t: list[float] = []
        self._g: list[float] = []
        self._w: list[int] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray | int]] = []
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._bin_s: float | None = None      # metrics window to bin by (None: keep every sample)
        self._raw = 0                         # samples not yet binned
        self._bins: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # binned parts, merged 8 at a time

    def bin_by(self, window_s: float) -> None:
        """Keep samples as a histogram per `window_s` (see the module docstring); times become window
        midpoints. For a simulation's replicas; tests of iteration timing leave it off."""
        if not window_s > 0:
            raise ValueError(f"expected a positive window in seconds but got window_s={window_s!r}")
        self._bin_s = float(window_s)

    def add(self, t_end_s: float, gap_s: float, weight: int) -> None:
        self._t.append(t_end_s)
        self._g.append(gap_s)
        self._w.append(weight)
        self._cache = None
        self._raw += 1
        if self._bin_s is not None and self._raw >= BIN_EVERY:
            self._fold()

    def add_many(self, t_end_s: np.ndarray, gap_s: np.ndarray, weight: int) -> None:
        self._flush()
        self._chunks.append((t_end_s, gap_s, weight))
        self._cache = None
        self._raw += len(gap_s)
        if self._bin_s is not None and self._raw >= BIN_EVERY:
            self._fold()

    def _concat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._flush()
        chunks = self._chunks
        return (np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]), _weights(chunks))

    def _fold(self) -> None:
        """Bin the raw samples into a new part; past 8 parts, merge them (each raw sample is sorted
        once, bins only when parts merge, so the work stays linear in samples)."""
        if self._t or self._chunks:
            self._bins.append(bin_samples(*self._concat(), self._bin_s))
            self._chunks = []
            self._raw = 0
        if len(self._bins) >= 8:
            self._merge()

    def _merge(self) -> None:
        if len(self._bins) > 1:
            parts = self._bins
            self._bins = [bin_samples(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                                      np.concatenate([p[2] for p in parts]), self._bin_s)]

    def _flush(self) -> None:
        if self._t:
            self._chunks.append((np.array(self._t, dtype=float), np.array(self._g, dtype=float),
                                 np.array(self._w, dtype=np.int64)))
            self._t, self._g, self._w = [], [], []

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(iteration end times s, gaps s, weights = decoding sequences), in time order."""
        if self._cache is None:
            if self._bin_s is not None:
                self._fold()
                self._merge()
                t, g, w = self._bins[0] if self._bins else (np.empty(0), np.empty(0), np.empty(0))
            elif self._t or self._chunks:
                t, g, w = self._concat()
                self._chunks = [(t, g, w)]
            else:
                t, g, w = np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
            self._cache = (t, g, w)
        return self._cache

    def drain(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The samples so far (as `arrays`), which the recorder then forgets: the caller keeps them (the
        simulation merges all replicas' bins into one fleet histogram, so memory does not grow with the
        replica count)."""
        out = self.arrays()
        self._t, self._g, self._w, self._chunks, self._bins = [], [], [], [], []
        self._raw = 0
        self._cache = None
        return out

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

    def arrays(self) -> dict[int, ITLArrays]:
        out = {}
        for tenant, rec in sorted(self.recorders.items()):
            t, g, w = rec.arrays()
            out[tenant] = ITLArrays(gaps_s=g, weights=w, t_s=t)
        return out
