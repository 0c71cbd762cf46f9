"""One run (or one time window of it) summarised: latency percentiles, throughput, goodput, SLOs.

Which requests count in a window [t0, t1] (closed at both ends, so a run summarised over
(0, horizon) counts the request that finishes exactly at the horizon; back-to-back windows may both
count an event that lands exactly on their shared edge):
  * request counts: requests that *arrived* in the window, by final status (so they add up);
  * TTFT: requests whose first token came in the window;
  * TPOT, E2E, throughput, goodput, SLO attainment: COMPLETED requests that *finished* in the window.
    throughput_tok_s counts all generated tokens of those requests at their finish time (simple and
    exact over long windows; a request spanning the window edge lands wholly in the later window).
prefix_hit_ratio: prefix-cache hit tokens over input tokens of requests that arrived in the window
and got a first token.
Without a window the run's span (0, latest arrival/first-token/finish time) is used.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from chaos.metrics.log import RequestLog, Status
from chaos.metrics.quantile import ItlSamples, weighted_quantile

QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True, slots=True)
class Slo:
    """Per-request targets (seconds); None = no target. A request meets the SLO when its TTFT and
    TPOT are at most these (a request with one generated token has no TPOT and meets that target)."""
    ttft_s: float | None = None
    tpot_s: float | None = None

    def met(self, log: RequestLog) -> np.ndarray:
        """Boolean per request: completed and within every target."""
        ok = log.status == Status.COMPLETED
        if self.ttft_s is not None:
            ok &= log.ttft_s() <= self.ttft_s
        if self.tpot_s is not None:
            tpot = log.tpot_s()
            ok &= np.isnan(tpot) | (tpot <= self.tpot_s)
        return ok


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """p50/p90/p99/max/mean in seconds; NaN when there are no samples."""
    p50: float = math.nan
    p90: float = math.nan
    p99: float = math.nan
    max: float = math.nan
    mean: float = math.nan

    @classmethod
    def of(cls, values: np.ndarray) -> "LatencyStats":
        v = np.asarray(values, dtype=np.float64)
        v = v[~np.isnan(v)]
        if len(v) == 0:
            return cls()
        p = np.quantile(v, QUANTILES)
        return cls(float(p[0]), float(p[1]), float(p[2]), float(v.max()), float(v.mean()))

    @classmethod
    def weighted(cls, values: np.ndarray, weights: np.ndarray) -> "LatencyStats":
        v = np.asarray(values, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        ok = ~np.isnan(v) & (w > 0)
        v, w = v[ok], w[ok]
        if len(v) == 0:
            return cls()
        p = weighted_quantile(v, w, np.asarray(QUANTILES))
        return cls(float(p[0]), float(p[1]), float(p[2]), float(v.max()), float(np.average(v, weights=w)))


@dataclass(frozen=True, slots=True)
class Summary:
    """Headline numbers of a run or window; to_dict() is JSON-ready (NaN -> None)."""
    requests: dict[str, int]
    ttft_s: LatencyStats
    tpot_s: LatencyStats
    itl_s: LatencyStats
    e2e_s: LatencyStats
    throughput_tok_s: float
    throughput_rps: float
    goodput_rps: float
    slo_attainment: float
    prefix_hit_ratio: float
    window: tuple[float, float] = field(default=(0.0, 0.0))

    def to_dict(self) -> dict:
        out = {
            "requests": dict(self.requests),
            "ttft_s": asdict(self.ttft_s), "tpot_s": asdict(self.tpot_s),
            "itl_s": asdict(self.itl_s), "e2e_s": asdict(self.e2e_s),
            "throughput_tok_s": self.throughput_tok_s, "throughput_rps": self.throughput_rps,
            "goodput_rps": self.goodput_rps, "slo_attainment": self.slo_attainment,
            "prefix_hit_ratio": self.prefix_hit_ratio, "window_s": list(self.window),
        }
        return _nan_to_none(out)


def _nan_to_none(x):
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def run_end_s(log: RequestLog) -> float:
    """Latest time any request arrived, got its first token or finished (0 for an empty log)."""
    times = np.concatenate([log.arrival_s, log.first_token_s, log.finish_s])
    times = times[~np.isnan(times)]
    return float(times.max()) if len(times) else 0.0


def _in(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (t >= t0) & (t <= t1)


def summarize(log: RequestLog, *, itl: ItlSamples | None = None, slo: Slo | None = None,
              window: tuple[float, float] | None = None) -> Summary:
    """Summary of `log` over `window` (see module docstring). Without an SLO, goodput_rps and
    slo_attainment are NaN (nothing to attain); rates are NaN over a zero-length window. ITL samples are windowed only when they carry t_s."""
    if window is None:
        t0, t1 = 0.0, run_end_s(log)
        in_window = np.ones(len(log), dtype=bool)
        finished = log.status == Status.COMPLETED
        first = ~np.isnan(log.first_token_s)
        span = t1 - t0
    else:
        t0, t1 = float(window[0]), float(window[1])
        if not t1 >= t0:
            raise ValueError(f"summarize: window must have end >= start but got {window!r}")
        in_window = _in(log.arrival_s, t0, t1)
        finished = (log.status == Status.COMPLETED) & _in(log.finish_s, t0, t1)
        first = _in(log.first_token_s, t0, t1)
        span = t1 - t0
    counts = _counts(log, in_window)
    n_done = int(finished.sum())
    tokens = float(log.generated_tokens[finished].sum())
    rate = (lambda x: x / span) if span > 0 else (lambda x: math.nan)
    if slo is not None:
        good = int((slo.met(log) & finished).sum())
        goodput = rate(good)
        attainment = good / n_done if n_done else math.nan
    else:
        goodput = attainment = math.nan
    started = ~np.isnan(log.first_token_s) & in_window
    inp = float(log.input_tokens[started].sum())
    hit_ratio = float(log.prefix_hit_tokens[started].sum()) / inp if inp > 0 else math.nan
    if itl is not None:
        keep = _in(itl.t_s, t0, t1) if (window is not None and itl.t_s is not None) else slice(None)
        itl_stats = LatencyStats.weighted(itl.gaps_s[keep], itl.weights[keep])
    else:
        itl_stats = LatencyStats()
    return Summary(
        requests=counts, ttft_s=LatencyStats.of(log.ttft_s()[first]),
        tpot_s=LatencyStats.of(log.tpot_s()[finished]), itl_s=itl_stats,
        e2e_s=LatencyStats.of(log.e2e_s()[finished]), throughput_tok_s=rate(tokens),
        throughput_rps=rate(n_done), goodput_rps=goodput, slo_attainment=attainment,
        prefix_hit_ratio=hit_ratio, window=(t0, t1))


def _counts(log: RequestLog, mask: np.ndarray) -> dict[str, int]:
    full = log.counts()  # validates codes for the whole log
    if mask.all():
        return full
    c = np.bincount(log.status[mask], minlength=len(Status) + 1)
    return {"arrived": int(mask.sum()), "completed": int(c[Status.COMPLETED]), "failed": int(c[Status.FAILED]),
            "rejected": int(c[Status.REJECTED]), "in_flight": int(c[Status.IN_FLIGHT])}
