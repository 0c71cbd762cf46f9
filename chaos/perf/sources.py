"""Latency sources other than the roofline, behind the engine's IterationCost protocol (DESIGN principle 9).

`latency: {table: measured.csv}` — a user's measured per-iteration latencies for one model/GPU/TP/backend:

  CSV columns  tokens, context, latency_ms  (a full grid: every tokens value with every context value)
  tokens       tokens computed in the iteration: decoding sequences + prompt tokens
  context      KV tokens the iteration holds for its sequences: decode_ctx_sum + prefill_kv_read +
               prefill_tokens (a decode step of b sequences at context c: b x c; one prompt of P: P)
  inside       bilinear interpolation on the grid, after making the table monotone (running maximum
               along tokens and along context; the journal says when that changed a value), so latency
               never falls with more tokens or context
  outside      the calibrated roofline (the deployment's backend profile) scaled to meet the table at
               its edge: latency(t, c) = table(edge(t, c)) * g_t(t) * g_c(c), edge = the point clamped
               to the grid, g_t(t) = R(t, c_max) / R(t_max, c_max) beyond the largest tokens (else 1) and
               g_c(c) = R(t_min, c) / R(t_min, c_max) beyond the largest context (else 1), R the
               roofline of a decode step (t sequences, context sum c). One factor per axis keeps the
               result monotone and continuous at the edge; the journal says the table extrapolates
  slowdown     (stragglers, throttling) multiplies the table latency; KV replication adds the roofline's
               replication term

`latency: {source: aiconfigurator}` builds its grids from aiconfigurator and prices them with TableCost:
see chaos.perf.aiconfigurator.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from chaos.errors import InputError
from chaos.perf.latency import PerfModel


@dataclass(frozen=True)
class LatencyTable:
    """A monotone grid of measured iteration latencies (seconds) over tokens x context."""

    tokens: np.ndarray        # increasing, shape (n,)
    context: np.ndarray       # increasing, shape (m,)
    latency_s: np.ndarray     # shape (n, m), nondecreasing along both axes
    path: str
    adjusted: int = 0         # values raised to make the table monotone

    def interpolate(self, tokens, context):
        """Bilinear interpolation at points inside the grid (arrays broadcast)."""
        t = np.clip(np.asarray(tokens, dtype=np.float64), self.tokens[0], self.tokens[-1])
        c = np.clip(np.asarray(context, dtype=np.float64), self.context[0], self.context[-1])
        i = np.clip(np.searchsorted(self.tokens, t, side="right") - 1, 0, max(len(self.tokens) - 2, 0))
        j = np.clip(np.searchsorted(self.context, c, side="right") - 1, 0, max(len(self.context) - 2, 0))
        t0, c0 = self.tokens[i], self.context[j]
        t1 = self.tokens[np.minimum(i + 1, len(self.tokens) - 1)]
        c1 = self.context[np.minimum(j + 1, len(self.context) - 1)]
        ft = np.where(t1 > t0, (t - t0) / np.where(t1 > t0, t1 - t0, 1.0), 0.0)
        fc = np.where(c1 > c0, (c - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
        i1, j1 = np.minimum(i + 1, len(self.tokens) - 1), np.minimum(j + 1, len(self.context) - 1)
        L = self.latency_s
        return ((1 - ft) * (1 - fc) * L[i, j] + ft * (1 - fc) * L[i1, j] + (1 - ft) * fc * L[i, j1]
                + ft * fc * L[i1, j1])

    def edge(self, tokens, context):
        """The point clamped into the grid."""
        return (np.clip(np.asarray(tokens, dtype=np.float64), self.tokens[0], self.tokens[-1]),
                np.clip(np.asarray(context, dtype=np.float64), self.context[0], self.context[-1]))


def load_latency_table(path: str | Path) -> LatencyTable:
    """Read and check a latency table CSV; InputError names the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"latency table {str(path)!r} does not exist", field="latency.table")
    rows = [(n, ln) for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if ln.strip() and not ln.lstrip().startswith("#")]
    if not rows:
        raise InputError("empty latency table: expected a header tokens,context,latency_ms and rows",
                         file=str(path), field="latency.table")
    header = [h.strip() for h in rows[0][1].split(",")]
    if header[:3] != ["tokens", "context", "latency_ms"]:
        raise InputError(f"expected the header tokens,context,latency_ms but got {rows[0][1]!r}",
                         file=str(path), line=rows[0][0], field="latency.table")
    points: dict[tuple[float, float], float] = {}
    for n, ln in rows[1:]:
        cells = [c.strip() for c in ln.split(",")]
        try:
            t, c, lat = float(cells[0]), float(cells[1]), float(cells[2])
        except (ValueError, IndexError):
            raise InputError(f"expected three numbers tokens,context,latency_ms but got {ln!r}",
                             file=str(path), line=n, field="latency.table") from None
        if not (t >= 1 and c >= 0 and lat > 0 and np.isfinite([t, c, lat]).all()):
            raise InputError(f"expected tokens >= 1, context >= 0 and a positive latency but got {ln!r}",
                             file=str(path), line=n, field="latency.table")
        if (t, c) in points:
            raise InputError(f"duplicate point tokens={t:g}, context={c:g}", file=str(path), line=n,
                             field="latency.table")
        points[(t, c)] = lat / 1e3
    tokens = np.array(sorted({t for t, _ in points}))
    context = np.array(sorted({c for _, c in points}))
    missing = [(t, c) for t in tokens for c in context if (t, c) not in points]
    if missing:
        t, c = missing[0]
        raise InputError(f"the table is not a full grid: {len(missing)} (tokens, context) points missing, e.g. "
                         f"tokens={t:g}, context={c:g}; measure every tokens value at every context value",
                         file=str(path), field="latency.table")
    raw = np.array([[points[(t, c)] for c in context] for t in tokens])
    mono = np.maximum.accumulate(np.maximum.accumulate(raw, axis=0), axis=1)
    return LatencyTable(tokens, context, mono, str(path), int(np.count_nonzero(mono > raw)))


@dataclass(frozen=True)
class TableCost:
    """IterationCost from a measured table, with the roofline outside it (see the module docstring).
    Scalar calls (the engine's per-iteration path) run in plain floats; arrays (decode stretches) in numpy;
    both evaluate the same expression."""

    table: LatencyTable
    roofline: PerfModel
    slowdown: float = 1.0
    _t: list = field(init=False, repr=False, compare=False)
    _c: list = field(init=False, repr=False, compare=False)
    _L: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_t", self.table.tokens.tolist())
        object.__setattr__(self, "_c", self.table.context.tolist())
        object.__setattr__(self, "_L", self.table.latency_s.tolist())

    def _roof(self, t, c):
        """Decode-shaped roofline at t sequences and context sum c (scalars or arrays)."""
        return self.roofline.iteration_time(t, c, 0)

    def _growth(self, tokens, context):
        """g_t(tokens) * g_c(context) of the module docstring (>= 1; exactly 1 inside the grid)."""
        t_max, c_max, t_min = self._t[-1], self._c[-1], self._t[0]
        if isinstance(tokens, float):
            g = 1.0
            if tokens > t_max:
                g *= self._roof(tokens, c_max) / self._roof(t_max, c_max)
            if context > c_max:
                g *= self._roof(t_min, context) / self._roof(t_min, c_max)
            return max(g, 1.0)
        t = np.maximum(tokens, t_max)
        c = np.maximum(context, c_max)
        g = (self._roof(t, np.full_like(t, c_max)) / self._roof(t_max, c_max)
             * self._roof(np.full_like(c, t_min), c) / self._roof(t_min, c_max))
        return np.maximum(g, 1.0)

    def latency(self, tokens: float, context: float) -> float:
        """The table's latency (seconds) at one point, extrapolated outside the grid as the module docstring
        says, before slowdown and KV replication (for sources that sum several tables)."""
        tt, cc, L = self._t, self._c, self._L
        et = min(max(tokens, tt[0]), tt[-1])
        ec = min(max(context, cc[0]), cc[-1])
        i = min(max(bisect_right(tt, et) - 1, 0), max(len(tt) - 2, 0))
        j = min(max(bisect_right(cc, ec) - 1, 0), max(len(cc) - 2, 0))
        i1, j1 = min(i + 1, len(tt) - 1), min(j + 1, len(cc) - 1)
        ft = (et - tt[i]) / (tt[i1] - tt[i]) if tt[i1] > tt[i] else 0.0
        fc = (ec - cc[j]) / (cc[j1] - cc[j]) if cc[j1] > cc[j] else 0.0
        lat = ((1 - ft) * (1 - fc) * L[i][j] + ft * (1 - fc) * L[i1][j] + (1 - ft) * fc * L[i][j1]
               + ft * fc * L[i1][j1])
        if et != tokens or ec != context:
            lat *= self._growth(tokens, context)
        return lat

    def _scalar(self, tokens: float, context: float) -> float:
        return self.slowdown * self.latency(tokens, context) + tokens * self.roofline.kv_replication_s_per_token

    def iteration_time(self, n_decode, decode_ctx_sum, prefill_tokens, prefill_attn_ctx=0.0, prefill_kv_read=0.0,
                       prefill_seqs=None):
        if not any(isinstance(a, (np.ndarray, list, tuple)) for a in (n_decode, decode_ctx_sum, prefill_tokens,
                                                                      prefill_kv_read)):
            tokens = float(n_decode + prefill_tokens)
            if tokens <= 0:
                return 0.0
            return self._scalar(tokens, float(decode_ctx_sum + prefill_kv_read + prefill_tokens))
        tokens = np.asarray(n_decode, dtype=np.float64) + np.asarray(prefill_tokens, dtype=np.float64)
        context = (np.asarray(decode_ctx_sum, dtype=np.float64) + np.asarray(prefill_kv_read, dtype=np.float64)
                   + np.asarray(prefill_tokens, dtype=np.float64))
        tokens, context = np.broadcast_arrays(tokens, context)
        lat = self.table.interpolate(tokens, context) * self._growth(tokens, context)
        lat = self.slowdown * lat + tokens * self.roofline.kv_replication_s_per_token
        lat = np.where(tokens > 0, lat, 0.0)
        return float(lat) if lat.ndim == 0 else lat

    def decode_stretch(self, n_decode: int, ctx_sum0: float, k: int) -> np.ndarray:
        """k decode steps of n sequences: the tokens axis is fixed, so blend its two grid rows once and
        interpolate along context in one np.interp call (the same bilinear value, rearranged)."""
        if n_decode <= 0:
            return np.zeros(k)
        t = float(n_decode)
        lat = self.row(t, ctx_sum0 + np.arange(k, dtype=np.float64) * n_decode)
        return self.slowdown * lat + t * self.roofline.kv_replication_s_per_token

    def row(self, tokens: float, context: np.ndarray) -> np.ndarray:
        """latency(tokens, c) for every c of the increasing array `context` at once (the stretch path)."""
        tt, L = self._t, self.table.latency_s
        t = float(tokens)
        et = min(max(t, tt[0]), tt[-1])
        i = min(max(bisect_right(tt, et) - 1, 0), max(len(tt) - 2, 0))
        i1 = min(i + 1, len(tt) - 1)
        ft = (et - tt[i]) / (tt[i1] - tt[i]) if tt[i1] > tt[i] else 0.0
        lat = np.interp(context, self.table.context, (1 - ft) * L[i] + ft * L[i1])
        if t > tt[-1] or context[-1] > self._c[-1]:
            lat = lat * self._growth(np.full(len(context), t), context)
        return lat

    def with_slowdown(self, slowdown: float) -> "TableCost":
        return TableCost(self.table, self.roofline.with_slowdown(slowdown), float(slowdown))
