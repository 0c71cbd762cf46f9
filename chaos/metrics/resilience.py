"""Resilience of a faulted run against its fault-free baseline twin (same seed, same arrivals).

    analyze_resilience(run, baseline, faults=..., detections=..., slo=..., config=..., settle_s=...)
        -> ResilienceReport

Curves (windows of `config.window`, default 10 s, from 0; the last one may be shorter):
  throughput  output tokens/s *by generation time*: each COMPLETED request's first token at its
              first-token time, the other generated_tokens - 1 spread evenly over (first token,
              finish]. Unlike the finish-time binning of summary/series (a request's tokens all land
              when it ends) this follows what the fleet produced when, so a dip is where the fleet
              stalled; failed requests' tokens are not output and do not count.
  TTFT p99    of requests whose first token came in the window (as in summary/series).
Four signals are judged per window; a window is *within tolerance* when the first three are:
  throughput  >= (1 - throughput_tolerance) x baseline;
  TTFT p99    <= ttft_factor x max(baseline's, median of the baseline's windowed TTFT p99) — the floor
              keeps a window where the baseline happened to be fast from flagging noise (a window
              where the baseline had first tokens and the faulted run none is not within tolerance;
              both empty is);
  failures    requests failed or rejected (leaving in the window) <= the baseline's: any excess is harm;
  capacity    replicas up (fewest of the window's fleet samples) >= the baseline's (no samples: within).
Throughput can stay within its tolerance while requests fail (spare capacity hides the loss), which
is why failures count too. Capacity is measured and reported (`recovery_by_signal`, `windows_out`)
but does not hold back recovery: a fleet that serves within tolerance with fewer replicas has
recovered its service; how long it ran short is its capacity figure.
Tokens of a request restarted elsewhere count from its final first token, so work thrown away
in a crash shows as a dip just *before* the crash; windows before a fault's start are outside
its impact span.

Per fault, with span [start, end) as in the hypothesis phases (permanent: to the horizon; instant:
start + settle) and the windows overlapping it:
  time_to_detect_s   first detection (healthy=False) of one of the fault's replicas at or after
                     its start, minus the start; None without replicas or detection.
  time_to_recover_s  recovery is a *sustained* return: k = `recovery_windows` consecutive windows
                     within tolerance. The fault *watches* [start, the first start of another fault at
                     or after its span's end) — to the horizon when none follows — because its effects
                     outlive it (a restarted replica rejoining, a backlog draining). 0 when no window
                     of its span is out of tolerance. Otherwise let L be the last *significant*
                     out-of-tolerance window it watches; recovery is at the start of the first window
                     after L that begins k windows within tolerance; time = that - start (>= 0); None if
                     that never happens before the horizon. An out-of-tolerance window is noise, not
                     significant, when only its throughput or TTFT is off, it belongs to a run of fewer
                     than k such windows, and that run has k windows within tolerance right before it
                     (all at or after the fault's start) and right after it (or the end of what it
                     watches): one noisy window long after a sustained return does not undo it, while
                     excess failures always count. (More damage only ever moves it
                     later: a window turning bad never turns another one into noise.)
  recovery_by_signal the same, on each signal alone (throughput, ttft, failures, capacity): seconds,
                     0 when that signal never left its tolerance during the span, None if never back.
  windows_out        per signal, windows out of its tolerance in the impact span.
  impact span        [start, max(end, recovered_at + recovery_windows x window)), to the horizon
                     when never recovered; just the fault span when it did no harm.
  max_throughput_drop  max over the impact windows of (baseline - faulted) / baseline, clipped to [0, 1].
  lost_output_tokens   sum over the impact windows of max(baseline - faulted, 0) x window length:
                     tokens the baseline produced when this run did not; a later catch-up above the
                     baseline is not netted out.
  requests           failed / rejected (by the time they left) in the impact span and retried
                     (retries > 0, in the system during it), for both runs.
  slo_attainment     during the fault span and in the settle period after it, both runs.
The run: the same over the union of impact spans (tokens), the whole run (requests, SLO), and the cliffs.

Cliffs (performance cliffs in time):
  throughput  on windows of cliff_within / 4: window k is a cliff when its throughput is below
              (1 - cliff_drop) x the largest of the 4 windows before it (a fall of more than
              cliff_drop within cliff_within) *and* below (1 - cliff_drop) x the baseline's in the
              same window (the baseline did not fall with it: the fault did it).
  TTFT p99    on the curve windows: window k is a cliff when its TTFT p99 exceeds cliff_ttft_factor
              x the smallest of the ceil(cliff_within / window) windows before it and
              cliff_ttft_factor x the baseline's.
Consecutive cliff windows are one cliff, reported at the first window with the largest change;
it lists the faults whose span overlaps [t - cliff_within, t + window) and blames those of them that
started at or after t - 2 cliff_within (the fall is measured over the cliff_within before t, and a
fault takes a moment to bite), else all of them.

Score (0-100, deterministic, exactly 100 when the run equals its baseline): the components, their
units and saturating curves are in chaos.metrics.score. Each component's penalty is split over the
faults in proportion to each fault's own amount (failed / rejected requests / tokens / good
requests in its impact span, its recovery time, cliffs it caused) scaled by the share of the run's
amount that falls inside any impact span; the rest is "unattributed" (e.g. failures outside every
fault span). The split sums to the penalty. Only the cliffs amount is not monotone in losses (a
deeper dip just before a fall can turn a sudden fall into a gradual one).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from chaos.metrics.config import ResilienceConfig
from chaos.metrics.log import RequestLog, Status
from chaos.metrics.phases import FaultWindow, unique_names
from chaos.metrics.probes import RunData, assign, nan_to_none, probe_values
from chaos.metrics.score import SCORE_WEIGHTS, SPEC, ResilienceScore, ScoreComponent  # noqa: F401 (re-exported)
from chaos.metrics.summary import Slo

CLIFF_SUBWINDOWS = 4


@dataclass(frozen=True, slots=True)
class Detection:
    """A health verdict on a replica (the journal's `detections` records)."""
    t_s: float
    replica: str
    healthy: bool = False
    reason: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Detection":
        return cls(float(d["t_s"]), str(d["replica"]), bool(d.get("healthy", False)), str(d.get("reason", "")))


# generation-time throughput ---------------------------------------------------------------------
def tokens_generated(log: RequestLog, t: np.ndarray, *, before: bool = False) -> np.ndarray:
    """Output tokens of COMPLETED requests generated by each time in `t` (cumulative, see the module
    docstring: 1 token at the first token, the rest evenly over (first token, finish]); with
    before=True a token generated exactly at t is not counted yet. One sort per column, no loop
    over requests."""
    return Generated(log).by(t, before=before)


class Generated:
    """A log's cumulative generated tokens, sorted once and read at any times (`tokens_generated`)."""

    __slots__ = ("_points", "_cum", "_ramps")

    def __init__(self, log: RequestLog) -> None:
        done = (log.status == Status.COMPLETED) & ~np.isnan(log.first_token_s) & ~np.isnan(log.finish_s)
        first, finish = log.first_token_s[done], log.finish_s[done]
        gen = log.generated_tokens[done].astype(np.float64)
        rest = np.maximum(gen - 1.0, 0.0)
        dur = finish - first
        spread = dur > 0
        rate = np.where(spread, rest / np.where(spread, dur, 1.0), 0.0)
        # point masses: the first token, and the rest when first token and finish coincide
        points = np.concatenate([first[gen >= 1], finish[~spread]])
        mass = np.concatenate([np.ones(int((gen >= 1).sum())), rest[~spread]])
        order = np.argsort(points, kind="stable")
        self._points = points[order]
        self._cum = np.concatenate(([0.0], np.cumsum(mass[order])))
        # ramps: sum_i rate_i * clip(t - first_i, 0, dur_i) = R(t; first) - R(t; finish)
        self._ramps = (_ramp(first[spread], rate[spread]), _ramp(finish[spread], rate[spread]))

    def by(self, t: np.ndarray, *, before: bool = False) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        out = self._cum[np.searchsorted(self._points, t, side="left" if before else "right")]
        out += _ramp_at(self._ramps[0], t) - _ramp_at(self._ramps[1], t)
        return out


def _ramp(at: np.ndarray, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted starts and the prefix sums that give sum_i rate_i * max(t - at_i, 0) at any t."""
    order = np.argsort(at, kind="stable")
    a, r = at[order], rate[order]
    return a, np.concatenate(([0.0], np.cumsum(r))), np.concatenate(([0.0], np.cumsum(r * a)))


def _ramp_at(ramp: tuple[np.ndarray, np.ndarray, np.ndarray], t: np.ndarray) -> np.ndarray:
    a, cr, cra = ramp
    k = np.searchsorted(a, t, side="right")
    return cr[k] * t - cra[k]


def grid(horizon_s: float, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Back-to-back windows [t0, t1) of window_s over [0, horizon); the last may be shorter."""
    n = max(int(math.ceil(horizon_s / window_s - 1e-9)), 1)
    t0 = np.arange(n) * window_s
    t1 = np.minimum(t0 + window_s, horizon_s)
    return t0, t1


def throughput_curve(log: RequestLog | Generated, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Generation-time output tokens/s in each back-to-back window [t0, t1) (see the module
    docstring); the last window also takes tokens at exactly its end. `log` may be the log's
    `Generated` already built (one sort for several grids)."""
    if len(t0) == 0:
        return np.empty(0)
    generated = log if isinstance(log, Generated) else Generated(log)
    edges = np.append(t0, t1[-1])
    cum = generated.by(edges, before=True)
    cum[-1] = generated.by(edges[-1:])[0]
    tokens = np.diff(cum)
    # the ramp sums cancel large cumulative terms: snap the float residue of an empty window
    # (|x| ~ 1e-10 tokens, even negative) to 0, or it reads as a 100%/200% "cliff" from nothing
    tokens[np.abs(tokens) <= 1e-9 * max(1.0, float(np.max(np.abs(cum))))] = 0.0
    return tokens / (t1 - t0)


# cliffs -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Cliff:
    """A sudden fall in throughput (`change` = fraction lost) or rise in TTFT p99 (`change` =
    factor), at t_s, from from_value to to_value; baseline_value is the twin's at that time.
    caused_by: the faults that started at most 2 x cliff_within before the cliff's window (else
    every fault active then); cause says it in words."""
    kind: str
    t_s: float
    from_value: float
    to_value: float
    change: float
    baseline_value: float
    faults_active: list[str]
    caused_by: list[str]
    cause: str

    def to_dict(self) -> dict:
        return nan_to_none(asdict(self))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges of consecutive True values."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _lookback(values: np.ndarray, m: int, reduce) -> np.ndarray:
    """reduce (np.fmax/np.fmin) of the m values before each index (NaN for the first)."""
    out = np.full(len(values), np.nan)
    for j in range(1, m + 1):  # m is small (4 or a few windows)
        shifted = np.full(len(values), np.nan)
        if j < len(values):
            shifted[j:] = values[:-j]
        out = reduce(out, shifted)
    return out


def throughput_cliffs(t0: np.ndarray, thr: np.ndarray, base: np.ndarray, *, drop: float, lookback: int) -> list[tuple[int, float, float]]:
    """(index, from, to) per throughput cliff on one grid (see the module docstring): thr[k] below
    (1 - drop) x max(thr[k-lookback:k]) and below (1 - drop) x base[k]."""
    ref = _lookback(thr, lookback, np.fmax)
    with np.errstate(invalid="ignore"):
        fire = (ref > 0) & (thr < (1 - drop) * ref) & (thr < (1 - drop) * base)
    out = []
    for a, b in _runs(fire):
        k = a + int(np.argmin(thr[a:b]))
        out.append((a, float(ref[a]), float(thr[k])))
    return out


def ttft_cliffs(ttft: np.ndarray, base: np.ndarray, *, factor: float, lookback: int) -> list[tuple[int, float, float]]:
    """(index, from, to) per TTFT p99 cliff: ttft[k] above factor x min(ttft[k-lookback:k]) and
    above factor x base[k]."""
    ref = _lookback(ttft, lookback, np.fmin)
    with np.errstate(invalid="ignore"):
        fire = (ref > 0) & (ttft > factor * ref) & (ttft > factor * base)
    out = []
    for a, b in _runs(fire):
        k = a + int(np.nanargmax(ttft[a:b]))
        out.append((a, float(ref[a]), float(ttft[k])))
    return out


# results ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FaultImpact:
    """What one fault cost, against the baseline (see the module docstring for each field)."""
    name: str
    start_s: float
    end_s: float
    time_to_detect_s: Optional[float]
    detected_by: str
    impacted: bool
    time_to_recover_s: Optional[float]
    recovered_at_s: Optional[float]
    impact_end_s: float
    max_throughput_drop: float
    lost_output_tokens: float
    requests: dict[str, int]
    baseline_requests: dict[str, int]
    slo_attainment: dict[str, Optional[float]]
    cliffs: list[int] = field(default_factory=list)
    recovery_by_signal: dict[str, Optional[float]] = field(default_factory=dict)
    windows_out: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return nan_to_none(asdict(self))


@dataclass(frozen=True, slots=True)
class ResilienceReport:
    """Per-fault impacts, cliffs, run totals, the score and the curves it was computed from
    (window starts/ends, throughput and TTFT p99 of both runs, within-tolerance flags)."""
    faults: list[FaultImpact]
    cliffs: list[Cliff]
    run: dict
    score: ResilienceScore
    curves: dict[str, np.ndarray]
    config: ResilienceConfig

    def to_dict(self, *, curves: bool = True) -> dict:
        out = {"score": self.score.to_dict(), "run": nan_to_none(self.run),
               "faults": [f.to_dict() for f in self.faults], "cliffs": [c.to_dict() for c in self.cliffs],
               "config": self.config.model_dump()}
        if curves:
            out["curves"] = {k: nan_to_none(v.tolist()) for k, v in self.curves.items()}
        return out


# analysis ---------------------------------------------------------------------------------------
def _leave_s(log: RequestLog) -> np.ndarray:
    return np.where(np.isnan(log.finish_s), log.arrival_s, log.finish_s)


def _request_counts(log: RequestLog, a: float, b: float, horizon: float) -> dict[str, int]:
    """failed/rejected leaving in [a, b) (b = horizon closes it) and retried requests in the system then."""
    leave = _leave_s(log)
    with np.errstate(invalid="ignore"):
        inside = (leave >= a) & ((leave < b) | ((leave == b) & (b >= horizon)))
        present = (log.arrival_s < b) & ((leave >= a) | (log.status == Status.IN_FLIGHT))
    return {"failed": int((inside & (log.status == Status.FAILED)).sum()),
            "rejected": int((inside & (log.status == Status.REJECTED)).sum()),
            "retried": int((present & (log.retries > 0)).sum())}


def _good_in(run: RunData, slo: Slo | None, a: float, b: float) -> float:
    if slo is None or b <= a:
        return 0.0
    return float(probe_values("goodput_rps", run, np.array([a]), np.array([b]), slo=slo)[0] * (b - a))


def _attainment(run: RunData, slo: Slo | None, a: float, b: float) -> Optional[float]:
    if slo is None or b <= a:
        return None
    v = float(probe_values("slo_attainment", run, np.array([a]), np.array([b]), slo=slo)[0])
    return None if math.isnan(v) else v


def _split(penalty: float, own: dict[str, float], inside: float, total: float) -> tuple[dict[str, float], float]:
    """Share `penalty` over faults by their own amounts, scaled by inside/total; rest unattributed."""
    if penalty <= 0:
        return {k: 0.0 for k in own}, 0.0
    share = min(inside / total, 1.0) if total > 0 else 0.0
    s = sum(own.values())
    if s <= 0:
        share = 0.0
    per = {k: penalty * share * v / s if s > 0 else 0.0 for k, v in own.items()}
    return per, penalty - sum(per.values())


def analyze_resilience(run: RunData, baseline: RunData, *, faults: Sequence[FaultWindow] = (),
                       detections: Sequence[Detection] = (), slo: Slo | None = None,
                       config: ResilienceConfig | None = None, settle_s: float = 60.0) -> ResilienceReport:
    """Resilience of `run` against its fault-free twin `baseline` (see the module docstring).

    faults: FaultWindow.from_dict on the journal's `faults` records; detections: Detection.from_dict
    on its `detections`; slo: the scenario's per-request targets (goodput parts are 0/None without);
    settle_s: the hypothesis' settle time (an instant fault's span, the `after` SLO window)."""
    cfg = config or ResilienceConfig()
    faults = unique_names(faults)
    horizon = float(run.horizon_s)
    w = cfg.window
    t0, t1 = grid(horizon, w)
    n = len(t0)
    generated = Generated(run.log), Generated(baseline.log)     # sorted once for both grids
    thr = throughput_curve(generated[0], t0, t1)
    base_thr = throughput_curve(generated[1], t0, t1)
    ttft = probe_values("ttft_p99", run, t0, t1)
    base_ttft = probe_values("ttft_p99", baseline, t0, t1)
    with np.errstate(invalid="ignore"):
        ok_thr = thr >= (1.0 - cfg.throughput_tolerance) * base_thr
        floor = float(np.nanmedian(base_ttft)) if (~np.isnan(base_ttft)).any() else 0.0
        ok_ttft = np.where(np.isnan(base_ttft), True, ttft <= cfg.ttft_factor * np.maximum(base_ttft, floor))
    fails = probe_values("requests_lost", run, t0, t1)
    base_fails = probe_values("requests_lost", baseline, t0, t1)
    ok_fail = fails <= base_fails
    cap = probe_values("replicas_up_min", run, t0, t1)
    base_cap = probe_values("replicas_up_min", baseline, t0, t1)
    with np.errstate(invalid="ignore"):
        ok_cap = np.where(np.isnan(cap) | np.isnan(base_cap), True, cap >= base_cap)
    ok = ok_thr & ok_ttft & ok_fail
    signals = {"throughput": ok_thr, "ttft": ok_ttft, "failures": ok_fail, "capacity": ok_cap}
    hard = ok_fail                         # a window with excess failures is never noise
    deficit = np.maximum(base_thr - thr, 0.0) * (t1 - t0)
    with np.errstate(invalid="ignore", divide="ignore"):
        drop = np.where(base_thr > 0, np.clip((base_thr - thr) / base_thr, 0.0, 1.0), 0.0)

    faults = [f for f in faults if f.start_s < horizon]   # a fault after the horizon did nothing
    spans = {f.name: f.span(horizon, settle_s) for f in faults}
    cliffs = _cliffs(generated, cfg, horizon, t0, thr, base_thr, ttft, base_ttft, spans)

    impacts: list[FaultImpact] = []
    in_any = np.zeros(n, dtype=bool)
    union: list[tuple[float, float]] = []
    for f in faults:
        s, e = spans[f.name]
        overlap = np.flatnonzero((t0 < max(e, s + 1e-9)) & (t1 > s))
        recovered_at: Optional[float]
        later = [g.start_s for g in faults if g.start_s >= e and g is not f]
        watch_end = min(later) if later else horizon
        watched = np.flatnonzero((t0 < max(watch_end, e)) & (t1 > s))
        by_signal = {name: _recovery(mask, mask if name == "capacity" else hard, overlap, watched,
                                     cfg.recovery_windows, t0, s) for name, mask in signals.items()}
        recovered_at: Optional[float]
        if ok[overlap].all():
            impacted, recovered_at, ttr = False, s, 0.0
            impact_end = e
        else:
            impacted = True
            ttr = _recovery(ok, hard, overlap, watched, cfg.recovery_windows, t0, s)
            if ttr is None:
                recovered_at, impact_end = None, horizon
            else:
                recovered_at = s + ttr if ttr > 0 else float(t0[overlap[0]])
                recovered_at = max(recovered_at, s)
                impact_end = min(max(e, recovered_at + cfg.recovery_windows * w), horizon)
        span_w = (t0 < max(impact_end, s + 1e-9)) & (t1 > s)
        in_any |= span_w
        union.append((s, impact_end))
        detect, by = _detect(f, detections)
        impacts.append(FaultImpact(
            name=f.name, start_s=s, end_s=e, time_to_detect_s=detect, detected_by=by, impacted=impacted,
            time_to_recover_s=ttr, recovered_at_s=recovered_at, impact_end_s=impact_end,
            max_throughput_drop=float(drop[span_w].max()) if span_w.any() else 0.0,
            lost_output_tokens=float(deficit[span_w].sum()),
            requests=_request_counts(run.log, s, impact_end, horizon),
            baseline_requests=_request_counts(baseline.log, s, impact_end, horizon),
            slo_attainment={"during": _attainment(run, slo, s, e),
                            "after": _attainment(run, slo, e, min(e + settle_s, horizon)),
                            "baseline_during": _attainment(baseline, slo, s, e),
                            "baseline_after": _attainment(baseline, slo, e, min(e + settle_s, horizon))},
            cliffs=[i for i, c in enumerate(cliffs) if f.name in c.faults_active],
            recovery_by_signal=by_signal,
            windows_out={name: int((~mask[span_w]).sum()) for name, mask in signals.items()}))

    run_totals = _run_totals(run, baseline, slo, horizon, thr, base_thr, drop, deficit, in_any, t0, t1)
    score = _score(run, baseline, slo, horizon, impacts, cliffs, run_totals, union)
    curves = {"t0_s": t0, "t1_s": t1, "throughput_tok_s": thr, "baseline_throughput_tok_s": base_thr,
              "ttft_p99_s": ttft, "baseline_ttft_p99_s": base_ttft, "within_tolerance": ok}
    return ResilienceReport(impacts, cliffs, run_totals, score, curves, cfg)


def _noise(ok: np.ndarray, hard: np.ndarray, watched: np.ndarray, need: int) -> np.ndarray:
    """Among the watched windows, the out-of-tolerance ones that are noise (module docstring): off only
    in throughput/TTFT (`hard` holds), in a run of fewer than `need` bad windows, with `need` good
    windows right before it (inside the watched range) and right after it (or the watched range's end)."""
    noise = np.zeros(len(ok), dtype=bool)
    if len(watched) == 0:
        return noise
    a, b = int(watched[0]), int(watched[-1]) + 1
    seg = ok[a:b]
    for i, j in _runs(~seg):
        if j - i >= need or not hard[a + i:a + j].all():
            continue
        before = seg[max(0, i - need):i]
        after = seg[j:j + need]
        if len(before) == need and before.all() and after.all() and (len(after) == need or j + need > len(seg)):
            noise[a + i:a + j] = True
    return noise


def _recovery(ok: np.ndarray, hard: np.ndarray, overlap: np.ndarray, watched: np.ndarray, need: int,
              t0: np.ndarray, start_s: float) -> Optional[float]:
    """Seconds from start_s to a sustained return of `ok` after the last significant bad window it
    watches; 0 when no window of the span (`overlap`) is bad; None when it never returns."""
    if ok[overlap].all():
        return 0.0
    bad = ~ok & ~_noise(ok, hard, watched, need)
    significant = watched[bad[watched]]
    if not len(significant):
        return 0.0                         # only noise: never a sustained departure
    k = _first_ok_run(ok, int(significant[-1]) + 1, need)
    return None if k is None else max(0.0, float(t0[k]) - start_s)


def _first_ok_run(ok: np.ndarray, start: int, need: int) -> Optional[int]:
    """First index k >= start with ok[k:k+need] all True (all inside the grid)."""
    n = len(ok)
    if start + need > n:
        return None
    c = np.concatenate(([0], np.cumsum(ok.astype(np.int64))))
    k = np.arange(start, n - need + 1)
    hit = np.flatnonzero(c[k + need] - c[k] == need)
    return int(k[hit[0]]) if len(hit) else None


def _detect(f: FaultWindow, detections: Sequence[Detection]) -> tuple[Optional[float], str]:
    reps = set(f.replicas)
    hits = [d for d in detections if not d.healthy and d.replica in reps and d.t_s >= f.start_s]
    if not hits:
        return None, ""
    first = min(hits, key=lambda d: d.t_s)
    return first.t_s - f.start_s, f"{first.replica}: {first.reason}" if first.reason else first.replica


def _cliffs(generated: tuple[Generated, Generated], cfg: ResilienceConfig, horizon, t0, thr, base_thr, ttft,
            base_ttft, spans) -> list[Cliff]:
    out: list[tuple[float, Cliff]] = []
    wc = cfg.cliff_within / CLIFF_SUBWINDOWS
    c0, c1 = grid(horizon, wc)
    fine = throughput_curve(generated[0], c0, c1)
    fine_base = throughput_curve(generated[1], c0, c1)

    def blame(kind: str, t: float, width: float, frm: float, to: float, change: float, base: float) -> Cliff:
        names = [name for name, (a, b) in spans.items() if a < t + width and max(b, a + 1e-9) > t - cfg.cliff_within]
        recent = [name for name in names if spans[name][0] >= t - 2 * cfg.cliff_within]
        if recent:
            by, cause = recent, ", ".join(f"{n} (started {t + width - spans[n][0]:.3g}s before the window's end)"
                                          for n in recent)
        elif names:
            by, cause = names, "while " + ", ".join(names)
        else:
            by, cause = [], "no fault active (the workload or a control action)"
        return Cliff(kind, t, frm, to, change, base, names, by, cause)

    for k, frm, to in throughput_cliffs(c0, fine, fine_base, drop=cfg.cliff_drop, lookback=CLIFF_SUBWINDOWS):
        out.append((float(c0[k]), blame("throughput", float(c0[k]), wc, frm, to, 1.0 - to / frm, float(fine_base[k]))))
    m = max(1, int(math.ceil(cfg.cliff_within / cfg.window - 1e-9)))
    for k, frm, to in ttft_cliffs(ttft, base_ttft, factor=cfg.cliff_ttft_factor, lookback=m):
        out.append((float(t0[k]), blame("ttft_p99", float(t0[k]), cfg.window, frm, to, to / frm, float(base_ttft[k]))))
    out.sort(key=lambda x: (x[0], x[1].kind))
    return [c for _, c in out]


def _run_totals(run, baseline, slo, horizon, thr, base_thr, drop, deficit, in_any, t0, t1) -> dict:
    counts, base_counts = run.log.counts(), baseline.log.counts()
    done = run.log.status == Status.COMPLETED
    base_done = baseline.log.status == Status.COMPLETED
    tokens = float(run.log.generated_tokens[done].sum())
    base_tokens = float(baseline.log.generated_tokens[base_done].sum())
    lost = counts["failed"] + counts["rejected"]
    base_lost = base_counts["failed"] + base_counts["rejected"]
    out = {
        "requests": {**counts, "retried": int((run.log.retries > 0).sum())},
        "baseline_requests": {**base_counts, "retried": int((baseline.log.retries > 0).sum())},
        "excess_requests_lost": max(0, lost - base_lost),
        "output_tokens": tokens, "baseline_output_tokens": base_tokens,
        "output_tokens_deficit": base_tokens - tokens,
        "lost_output_tokens": float(deficit[in_any].sum()),
        "max_throughput_drop": float(drop.max()) if len(drop) else 0.0,
        "slo_attainment": _attainment(run, slo, 0.0, horizon),
        "baseline_slo_attainment": _attainment(baseline, slo, 0.0, horizon),
        "good_requests": _good_in(run, slo, 0.0, horizon) if slo is not None else None,
        "baseline_good_requests": _good_in(baseline, slo, 0.0, horizon) if slo is not None else None,
    }
    return out


def _score(run, baseline, slo, horizon, impacts: list[FaultImpact], cliffs: list[Cliff], totals: dict,
           union: list[tuple[float, float]]) -> ResilienceScore:
    comps: list[ScoreComponent] = []
    names = [f.name for f in impacts]

    def lost_in(log: RequestLog, spans: list[tuple[float, float]], status: Status) -> int:
        leave = _leave_s(log)
        m = np.zeros(len(log), dtype=bool)
        for a, b in spans:
            with np.errstate(invalid="ignore"):
                m |= (leave >= a) & ((leave < b) | ((leave == b) & (b >= horizon)))
        return int(((log.status == status) & m).sum())

    def add(name: str, x: float, own: dict[str, float], inside: float, total: float, note: str = "") -> None:
        spec = SPEC[name]
        p = spec.penalty(x)
        per, rest = _split(p, own, inside, total)
        comps.append(ScoreComponent(name, spec.weight, spec.scale, x, p, per, rest, note))

    arrived = totals["requests"]["arrived"]
    for name, key, status in (("failed_requests", "failed", Status.FAILED),
                              ("rejected_requests", "rejected", Status.REJECTED)):
        excess = max(0, totals["requests"][key] - totals["baseline_requests"][key])
        own = {f.name: max(0.0, f.requests[key] - f.baseline_requests[key]) for f in impacts}
        inside = max(0, lost_in(run.log, union, status) - lost_in(baseline.log, union, status))
        add(name, excess / max(arrived, 1), own, inside, excess,
            f"{totals['requests'][key]:,} {key} against the baseline's {totals['baseline_requests'][key]:,}, "
            f"of {arrived:,} arrived")

    base_tokens = totals["baseline_output_tokens"]
    lost_tok = totals["lost_output_tokens"]
    add("lost_throughput", lost_tok / base_tokens if base_tokens > 0 else 0.0,
        {f.name: f.lost_output_tokens for f in impacts}, lost_tok, lost_tok,
        f"{lost_tok:,.0f} of {base_tokens:,.0f} tokens")

    if slo is not None:
        good, base_good = totals["good_requests"], totals["baseline_good_requests"]
        gap = max(0.0, base_good - good)
        own = {f.name: max(0.0, _good_in(baseline, slo, f.start_s, f.impact_end_s)
                           - _good_in(run, slo, f.start_s, f.impact_end_s)) for f in impacts}
        inside = max(0.0, sum(_good_in(baseline, slo, a, b) - _good_in(run, slo, a, b) for a, b in _merge(union)))
        add("lost_goodput", gap / base_good if base_good > 0 else 0.0, own, inside, gap,
            f"{good:,.0f} requests within the SLO against the baseline's {base_good:,.0f}")
    else:
        add("lost_goodput", 0.0, {k: 0.0 for k in names}, 0.0, 0.0, "no SLO in the scenario: not scored")

    rec = {f.name: (f.time_to_recover_s if f.time_to_recover_s is not None else horizon - f.start_s)
           for f in impacts}
    total_rec = sum(rec.values())
    add("recovery", total_rec, rec, total_rec, total_rec,
        _recovery_note(impacts))

    own_c = {k: 0.0 for k in names}
    for c in cliffs:
        for name in c.caused_by:
            own_c[name] = own_c.get(name, 0.0) + 1.0 / len(c.caused_by)
    attributed = float(sum(1 for c in cliffs if c.caused_by))
    add("cliffs", float(len(cliffs)), own_c, attributed, float(len(cliffs)),
        "")

    score = 100.0 - sum(c.penalty for c in comps)
    return ResilienceScore(max(0.0, score), comps)


def _recovery_note(impacts: list[FaultImpact]) -> str:
    """"over 2 faults; faults[1] traffic_spike never recovered (counted to the horizon)"."""
    never = [f.name for f in impacts if f.time_to_recover_s is None]
    text = f"over {len(impacts)} fault{'s' if len(impacts) != 1 else ''}"
    if never:
        text += f"; {', '.join(never)} never recovered (counted to the horizon)"
    return text


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]
