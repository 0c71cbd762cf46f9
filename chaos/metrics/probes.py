"""Steady-state probes: one metric of a run over arbitrary time windows, computed in one numpy pass.

What lands in a window [t0, t1) (half-open; a window that ends at the horizon also takes events at
exactly the horizon, like `time_series`) follows summary.py and series.py:
  * ttft_*: requests whose *first token* came in the window;
  * tpot_*, e2e_*, throughput_*, goodput_rps, slo_attainment: COMPLETED requests that *finished* in
    the window (throughput_tok_s counts all generated tokens of such a request at its finish time);
  * itl_p99: ITL samples whose t_s is in the window (the simulation compacts them to the middle of
    their metrics window, so the time resolution is `metrics.window`); NaN without samples;
  * requests_failed / requests_rejected / requests_lost: FAILED / REJECTED / both, binned by when the
    request left the system (finish_s, else its arrival, as in series.py). FAILED is every request the
    fleet could not answer (errors, timeouts, resets, and "no healthy replica": a 503, as Envoy's
    upstream_cx_none_healthy); REJECTED is deliberate shedding only (admission control, rate limits);
    requests_lost is both: the client did not get a complete answer, whatever the reason;
  * queue_depth_max / replicas_up_min: max / min of the fleet series samples taken in the window
    (replicas_up sums every pool's column);
  * jain_index / service_gap_max: fairness between tenants (chaos.metrics.fairness).
Rates divide by the window's length. Latencies and slo_attainment are NaN for a window with no
samples ("no data"); rates and counts are 0 there, never NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from chaos.errors import expected_one_of
from chaos.metrics.log import RequestLog, Status
from chaos.metrics.quantile import ItlSamples, grouped_quantiles, weighted_quantile
from chaos.metrics.series import FleetSeries
from chaos.metrics.summary import Slo


@dataclass(frozen=True, slots=True)
class RunData:
    """What the metrics need of one run: the request log, the horizon (seconds), and optionally the
    fleet series (queue_depth_max, replicas_up_min) and ITL samples (itl_p99)."""
    log: RequestLog
    horizon_s: float
    fleet_series: Optional[FleetSeries] = None
    itl: Optional[ItlSamples] = None
    tenants: tuple = ()                          # chaos.metrics.tenants.TenantInfo per tenant
    fair_weights: tuple[float, float] = (1.0, 2.0)   # service per prompt / output token (fairness probes)
    tenant_itl: Any = None                       # tenant id -> ItlSamples (runs with tenants:)

    @classmethod
    def of(cls, result: Any) -> "RunData":
        """From anything with log, horizon_s and optionally fleet_series, itl, tenants and fair_weights
        (a chaos.sim Result)."""
        return cls(result.log, float(result.horizon_s), getattr(result, "fleet_series", None),
                   getattr(result, "itl", None), tuple(getattr(result, "tenants", ()) or ()),
                   tuple(getattr(result, "fair_weights", (1.0, 2.0))), getattr(result, "tenant_itl", None))


@dataclass(frozen=True, slots=True)
class Probe:
    """A probe's name, the kind of value (decides how YAML bounds parse), unit and meaning."""
    name: str
    kind: str          # latency (seconds) | rate (per second) | fraction | count | gauge
    unit: str
    doc: str
    needs_slo: bool = False
    needs: str = "log"  # log | fleet | itl | tenants

    @property
    def is_count(self) -> bool:
        return self.kind == "count"


_PROBES = [
    Probe("ttft_p50", "latency", "s", "median TTFT of requests whose first token came in the window"),
    Probe("ttft_p90", "latency", "s", "p90 TTFT of requests whose first token came in the window"),
    Probe("ttft_p99", "latency", "s", "p99 TTFT of requests whose first token came in the window"),
    Probe("tpot_p50", "latency", "s", "median TPOT of requests that completed in the window"),
    Probe("tpot_p99", "latency", "s", "p99 TPOT of requests that completed in the window"),
    Probe("itl_p99", "latency", "s", "p99 gap between consecutive tokens as clients received them (stalls included) in the window", needs="itl"),
    Probe("e2e_p50", "latency", "s", "median end-to-end latency of requests that completed in the window"),
    Probe("e2e_p99", "latency", "s", "p99 end-to-end latency of requests that completed in the window"),
    Probe("throughput_tok_s", "rate", "tok/s", "output tokens/s of requests that completed in the window"),
    Probe("throughput_rps", "rate", "req/s", "requests/s completed in the window"),
    Probe("goodput_rps", "rate", "req/s", "requests/s completed in the window within every SLO", needs_slo=True),
    Probe("slo_attainment", "fraction", "", "share of requests completed in the window that met every SLO",
          needs_slo=True),
    Probe("requests_failed", "count", "requests", "requests the fleet could not answer in the window "
          "(errors, timeouts, resets, no healthy replica)"),
    Probe("requests_rejected", "count", "requests", "requests shed on purpose in the window (admission "
          "control, rate limits)"),
    Probe("requests_lost", "count", "requests", "requests whose client got no complete answer in the "
          "window (failed or rejected)"),
    Probe("queue_depth_max", "gauge", "requests", "largest sampled queue depth (waiting requests, fleet-wide)",
          needs="fleet"),
    Probe("replicas_up_min", "gauge", "replicas", "fewest replicas up (all pools) in the window's samples",
          needs="fleet"),
    Probe("jain_index", "fraction", "", "Jain's fairness index over the active tenants' weighted service "
          "(1 = fair)", needs="tenants"),
    Probe("service_gap_max", "gauge", "tokens", "largest difference of weighted service between active tenants "
          "(VTC's measure)", needs="tenants"),
]
PROBES: dict[str, Probe] = {p.name: p for p in _PROBES}


def assign(t: np.ndarray, t0: np.ndarray, t1: np.ndarray, horizon_s: float) -> np.ndarray:
    """Index of the window [t0[i], t1[i]) holding each time, -1 when none (or NaN). Windows must be
    sorted and disjoint; a window ending at (or past) the horizon also takes times equal to its end."""
    t = np.asarray(t, dtype=np.float64)
    if len(t0) == 0:
        return np.full(len(t), -1, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        k = np.searchsorted(t0, t, side="right") - 1
        kk = np.clip(k, 0, len(t0) - 1)
        end = t1[kk]
        inside = (t < end) | ((t == end) & (end >= horizon_s))
        ok = (k >= 0) & inside & ~np.isnan(t)
    return np.where(ok, k, -1).astype(np.int64)


def _count(k: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    ok = k >= 0
    return np.bincount(k[ok], weights=None if weights is None else weights[ok], minlength=n)[:n].astype(np.float64)


def _latency(q: float, values: Callable[[RequestLog], np.ndarray], when: str):
    def f(run: RunData, t0, t1, slo):
        log = run.log
        if when == "first":
            k = assign(log.first_token_s, t0, t1, run.horizon_s)
        else:
            k = np.where(log.status == Status.COMPLETED, assign(log.finish_s, t0, t1, run.horizon_s), -1)
        return grouped_quantiles(k, values(log), len(t0), (q,))[0]
    return f


def _finished(run: RunData, t0, t1) -> np.ndarray:
    log = run.log
    return np.where(log.status == Status.COMPLETED, assign(log.finish_s, t0, t1, run.horizon_s), -1)


def _left(run: RunData, t0, t1, statuses: tuple[Status, ...]) -> np.ndarray:
    log = run.log
    leave = np.where(np.isnan(log.finish_s), log.arrival_s, log.finish_s)
    k = assign(leave, t0, t1, run.horizon_s)
    return _count(np.where(np.isin(log.status, [int(s) for s in statuses]), k, -1), len(t0))


def _throughput_tok(run, t0, t1, slo):
    k = _finished(run, t0, t1)
    return _count(k, len(t0), run.log.generated_tokens.astype(np.float64)) / (t1 - t0)


def _throughput_rps(run, t0, t1, slo):
    return _count(_finished(run, t0, t1), len(t0)) / (t1 - t0)


def _good(run, t0, t1, slo: Slo) -> tuple[np.ndarray, np.ndarray]:
    k = _finished(run, t0, t1)
    return _count(np.where(slo.met(run.log), k, -1), len(t0)), _count(k, len(t0))


def _goodput(run, t0, t1, slo):
    return _good(run, t0, t1, slo)[0] / (t1 - t0)


def _attainment(run, t0, t1, slo):
    good, done = _good(run, t0, t1, slo)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(done > 0, good / done, np.nan)


def _itl_p99(run, t0, t1, slo):
    out = np.full(len(t0), np.nan)
    itl = run.itl
    if itl is None or itl.t_s is None or len(itl.gaps_s) == 0:
        return out
    k = assign(itl.t_s, t0, t1, run.horizon_s)
    order = np.argsort(k, kind="stable")
    ks = k[order]
    bounds = np.searchsorted(ks, np.arange(len(t0) + 1), side="left")
    for i in range(len(t0)):  # one weighted quantile per window (few windows, compacted samples)
        sel = order[bounds[i]:bounds[i + 1]]
        if len(sel):
            out[i] = weighted_quantile(itl.gaps_s[sel], itl.weights[sel], 0.99)
    return out


def _fleet(column: str, reduce: str):
    def f(run, t0, t1, slo):
        n = len(t0)
        fs = run.fleet_series
        if fs is None or len(fs) == 0:
            return np.full(n, np.nan)
        cols = [c for c in fs.columns() if c == column or c.startswith(column + ".")]
        if not cols:
            return np.full(n, np.nan)
        stack = np.vstack([fs[c] for c in cols])
        values = np.where(np.isnan(stack).all(axis=0), np.nan, np.nansum(stack, axis=0))
        k = assign(fs["t_s"], t0, t1, run.horizon_s)
        ok = (k >= 0) & ~np.isnan(values)
        if reduce == "max":
            acc = np.full(n, -np.inf)
            np.maximum.at(acc, k[ok], values[ok])
        else:
            acc = np.full(n, np.inf)
            np.minimum.at(acc, k[ok], values[ok])
        return np.where(np.isinf(acc), np.nan, acc)
    return f


_COMPUTE: dict[str, Callable] = {
    "ttft_p50": _latency(0.5, RequestLog.ttft_s, "first"),
    "ttft_p90": _latency(0.9, RequestLog.ttft_s, "first"),
    "ttft_p99": _latency(0.99, RequestLog.ttft_s, "first"),
    "tpot_p50": _latency(0.5, RequestLog.tpot_s, "finish"),
    "tpot_p99": _latency(0.99, RequestLog.tpot_s, "finish"),
    "itl_p99": _itl_p99,
    "e2e_p50": _latency(0.5, RequestLog.e2e_s, "finish"),
    "e2e_p99": _latency(0.99, RequestLog.e2e_s, "finish"),
    "throughput_tok_s": _throughput_tok,
    "throughput_rps": _throughput_rps,
    "goodput_rps": _goodput,
    "slo_attainment": _attainment,
    "requests_failed": lambda run, t0, t1, slo: _left(run, t0, t1, (Status.FAILED,)),
    "requests_rejected": lambda run, t0, t1, slo: _left(run, t0, t1, (Status.REJECTED,)),
    "requests_lost": lambda run, t0, t1, slo: _left(run, t0, t1, (Status.FAILED, Status.REJECTED)),
    "queue_depth_max": _fleet("queue_depth", "max"),
    "replicas_up_min": _fleet("replicas_up", "min"),
    "jain_index": lambda run, t0, t1, slo: _fairness("jain_index", run, t0, t1),
    "service_gap_max": lambda run, t0, t1, slo: _fairness("service_gap_max", run, t0, t1),
}


def _fairness(name: str, run: RunData, t0, t1) -> np.ndarray:
    from chaos.metrics import fairness
    if len(run.tenants) < 2:
        return np.full(len(t0), np.nan)
    return getattr(fairness, name)(run, t0, t1)


def probe_values(name: str, run: RunData, t0: np.ndarray, t1: np.ndarray, *, slo: Slo | None = None) -> np.ndarray:
    """Value of probe `name` in each window [t0[i], t1[i]) (sorted, disjoint, positive length), as a
    float array; see the module docstring for what each probe counts. Probes that need an SLO raise
    ValueError without one."""
    probe = PROBES.get(name)
    if probe is None:
        raise ValueError(f"probe: {expected_one_of(name, PROBES)}")
    if probe.needs_slo and slo is None:
        raise ValueError(f"probe {name} needs an slo: section (ttft/tpot targets)")
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    if t0.shape != t1.shape or not (np.all(t1 > t0) and np.all(t0[1:] >= t1[:-1])):
        raise ValueError("probe_values: windows must be sorted, disjoint and of positive length")
    return np.asarray(_COMPUTE[name](run, t0, t1, slo), dtype=np.float64)


def nan_to_none(x: Any) -> Any:
    """JSON-ready copy: NaN/inf floats -> None, tuples -> lists, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
