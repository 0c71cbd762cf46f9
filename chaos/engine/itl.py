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
