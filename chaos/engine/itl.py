"""Inter-token-latency samples of one replica, kept as arrays (one chunk per decode stretch).

An iteration of latency L ending at t with n decoding sequences contributes n token gaps of L: it is
stored once with weight n. Arrays are concatenated lazily, when read.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ITLArrays:
    """ITL samples of one replica: gap of each iteration, its weight (decoding sequences) and end time."""

    gaps_s: np.ndarray
    weights: np.ndarray
    t_s: np.ndarray


class ITLRecorder:
    """Append-only (end time, gap, weight) samples; per-iteration scalars or whole stretches."""

    __slots__ = ("_t", "_g", "_w", "_chunks", "_cache")

    def __init__(self) -> None:
        self._t: list[float] = []
        self._g: list[float] = []
        self._w: list[int] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray | int]] = []
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def add(self, t_end_s: float, gap_s: float, weight: int) -> None:
        self._t.append(t_end_s)
        self._g.append(gap_s)
        self._w.append(weight)
        self._cache = None

    def add_many(self, t_end_s: np.ndarray, gap_s: np.ndarray, weight: int) -> None:
        self._flush()
        self._chunks.append((t_end_s, gap_s, weight))
        self._cache = None

    def _flush(self) -> None:
        if self._t:
            self._chunks.append((np.array(self._t, dtype=float), np.array(self._g, dtype=float),
                                 np.array(self._w, dtype=np.int64)))
            self._t, self._g, self._w = [], [], []

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(iteration end times s, gaps s, weights = decoding sequences), in time order."""
        if self._cache is None:
            self._flush()
            if self._chunks:
                t = np.concatenate([c[0] for c in self._chunks])
                g = np.concatenate([c[1] for c in self._chunks])
                w = np.concatenate([np.full(len(c[1]), c[2], dtype=np.int64) if isinstance(c[2], int)
                                    else c[2] for c in self._chunks])
                self._chunks = [(t, g, w)]
            else:
                t, g, w = np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
            self._cache = (t, g, w)
        return self._cache

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

    __slots__ = ("_dec", "_snap", "recorders")

    def __init__(self) -> None:
        self._dec: dict[int, int] = {}
        self._snap: dict[int, int] = {}
        self.recorders: dict[int, ITLRecorder] = {}

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
