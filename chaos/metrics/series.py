"""Time series: request metrics per fixed window (vectorised) and fleet state sampled by the simulation.

Window k covers [k w, (k+1) w); the last one also takes events at exactly t_end. Arrivals are binned by arrival time; completions, throughput, TPOT
and goodput by finish time of COMPLETED requests; TTFT by first-token time; failed/rejected by
finish_s when recorded (the time they left) else by arrival time. Rates are per second of window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from chaos.metrics.log import RequestLog, Status
from chaos.metrics.quantile import grouped_quantiles
from chaos.metrics.summary import Slo


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """Per-window arrays (length n_windows); t_s is each window's start."""
    window_s: float
    t_s: np.ndarray
    arrivals: np.ndarray
    completions: np.ndarray
    throughput_tok_s: np.ndarray
    ttft_p50_s: np.ndarray
    ttft_p99_s: np.ndarray
    tpot_p99_s: np.ndarray
    goodput_rps: np.ndarray
    failed: np.ndarray
    rejected: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready: lists, NaN -> None."""
        out: dict = {"window_s": self.window_s}
        for name in ("t_s", "arrivals", "completions", "throughput_tok_s", "ttft_p50_s", "ttft_p99_s",
                     "tpot_p99_s", "goodput_rps", "failed", "rejected"):
            out[name] = _list(getattr(self, name))
        return out


def _list(arr: np.ndarray) -> list:
    if arr.dtype.kind == "f":
        return [None if x != x else x for x in arr.tolist()]
    return arr.tolist()


def _bins(t: np.ndarray, w: float, n: int, t_end: float) -> np.ndarray:
    """Window index per time; -1 for NaN or outside [0, t_end]. A time exactly at t_end goes to the
    last window, so a run's series counts the request that finishes at the horizon."""
    with np.errstate(invalid="ignore"):
        k = np.floor(t / w)
        k = np.where((t <= t_end) & (k >= n), n - 1, k)
        ok = (k >= 0) & (k < n) & (t <= t_end)
    return np.where(ok, k, -1).astype(np.int64)


def _count(k: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = k >= 0
    return np.bincount(k[ok], weights=None if weights is None else weights[ok], minlength=n)[:n]


def time_series(log: RequestLog, *, window_s: float, t_end: float, slo: Slo | None = None) -> TimeSeries:
    """Per-window request metrics over [0, t_end); see the module docstring for what lands where.
    goodput_rps is NaN without an SLO."""
    if not window_s > 0:
        raise ValueError(f"time_series: window_s must be > 0 but got {window_s!r}")
    n = max(int(math.ceil(t_end / window_s - 1e-9)), 0)
    done = log.status == Status.COMPLETED
    k_arr = _bins(log.arrival_s, window_s, n, t_end)
    k_fin = np.where(done, _bins(log.finish_s, window_s, n, t_end), -1)
    k_first = _bins(log.first_token_s, window_s, n, t_end)
    leave_t = np.where(np.isnan(log.finish_s), log.arrival_s, log.finish_s)
    k_leave = _bins(leave_t, window_s, n, t_end)
    q_ttft = grouped_quantiles(k_first, log.ttft_s(), n, (0.5, 0.99))
    q_tpot = grouped_quantiles(k_fin, log.tpot_s(), n, (0.99,))
    if slo is not None:
        goodput = _count(np.where(slo.met(log), k_fin, -1), n).astype(np.float64) / window_s
    else:
        goodput = np.full(n, np.nan)
    return TimeSeries(
        window_s=float(window_s), t_s=np.arange(n, dtype=np.float64) * window_s,
        arrivals=_count(k_arr, n), completions=_count(k_fin, n),
        throughput_tok_s=_count(k_fin, n, log.generated_tokens.astype(np.float64)).astype(np.float64) / window_s,
        ttft_p50_s=q_ttft[0], ttft_p99_s=q_ttft[1], tpot_p99_s=q_tpot[0], goodput_rps=goodput,
        failed=_count(np.where(log.status == Status.FAILED, k_leave, -1), n),
        rejected=_count(np.where(log.status == Status.REJECTED, k_leave, -1), n))


@dataclass(slots=True)
class FleetSeries:
    """Fleet state sampled once per window by the simulation: `append(t, queue_depth=3, running=40,
    kv_use_frac=0.7, replicas_up={"prefill": 2, "decode": 1})`. Mapping values become one column per
    key ("replicas_up.prefill"). Columns first seen later are NaN before; missing values are NaN."""
    t_s: list[float] = field(default_factory=list)
    _cols: dict[str, list[float]] = field(default_factory=dict)

    def append(self, t: float, **values: float | dict[str, float]) -> None:
        n = len(self.t_s)
        flat: dict[str, float] = {}
        for name, value in values.items():
            if isinstance(value, dict):
                for key, v in value.items():
                    flat[f"{name}.{key}"] = float(v)
            else:
                flat[name] = float(value)
        for name in flat:
            if name not in self._cols:
                self._cols[name] = [math.nan] * n
        for name, col in self._cols.items():
            col.append(flat.get(name, math.nan))
        self.t_s.append(float(t))

    def __len__(self) -> int:
        return len(self.t_s)

    def columns(self) -> list[str]:
        return list(self._cols)

    def __getitem__(self, name: str) -> np.ndarray:
        """One column as a float64 array (t_s included)."""
        if name == "t_s":
            return np.asarray(self.t_s, dtype=np.float64)
        try:
            return np.asarray(self._cols[name], dtype=np.float64)
        except KeyError:
            raise KeyError(f"no fleet series {name!r}; have t_s, {', '.join(self._cols)}") from None

    def to_dict(self) -> dict:
        """JSON-ready: {"t_s": [...], "queue_depth": [...], "replicas_up": {"prefill": [...]}}."""
        out: dict = {"t_s": list(self.t_s)}
        for name, col in self._cols.items():
            values = [None if x != x else x for x in col]
            if "." in name:
                head, key = name.split(".", 1)
                out.setdefault(head, {})[key] = values
            else:
                out[name] = values
        return out
