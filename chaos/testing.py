"""Running scenarios from tests, and assertion helpers whose failures show the numbers and the window.

    run(scenario, set={...}, seed=None, baseline=None, quick=False) -> Experiment
    assert_slo(run, ttft_p99="2s", tpot_p99="100ms")           any probe: latencies/counts are maxima,
                                                                rates/fractions minima
    assert_no_requests_lost(run)                                failed + rejected == 0 (or <= allow)
    assert_recovers_within(run, "60s")                          every fault, against the fault-free twin
    assert_no_cliff(run, drop=0.5, within="10s")                no throughput cliff (ttft_factor= for TTFT)
    assert_better(a, b, metric="ttft_p99")                      a strictly better than b on the metric

`run` in the helpers is an Experiment (chaos.sim.experiment) or a plain Result. Helpers that compare
with the fault-free twin (recovery, cliffs, resilience_score) run the twin on demand when the
experiment has none and keep it on the experiment (`experiment.baseline`, `.resilience`).

The helpers fail through `assert` statements; the pytest plugin registers this module for assertion
rewriting, so a failure shows the message and the compared values. (Under `python -O`, outside
pytest, asserts are stripped: use them in tests.)
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from chaos.units import format_duration, parse_duration

__all__ = ["run", "load", "experiment_of", "differences", "faults_between", "overrides", "quick_duration", "ensure_baseline", "explain", "write_report",
           "assert_slo", "assert_no_requests_lost", "assert_recovers_within", "assert_no_cliff", "assert_better",
           "METRICS_HIGHER_IS_BETTER"]

# A scenario quick mode (--chaos-quick) keeps this long after the last fault's end + settle, at least.
QUICK_MARGIN_S = 60.0


# -- running ----------------------------------------------------------------------------------------

def overrides(values: Mapping[str, Any] | None) -> list[str]:
    """`{"controller.policy": "restart", "router.retries": 0}` -> ["controller.policy=\"restart\"", ...]:
    each value as JSON (a YAML subset), so a string stays a string and a list stays a list."""
    out = []
    for key, value in (values or {}).items():
        text = json.dumps(value if isinstance(value, (str, int, float, bool, list, dict, type(None))) else str(value))
        out.append(f"{key}={text}")
    return out


def load(scenario, *, set: Mapping[str, Any] | None = None, seed: int | None = None, quick: bool = False):
    """A Scenario from a path (str/Path), YAML text is not accepted here (use chaos.scenario.load_scenario_text),
    or a Scenario (overrides then go through its `--set`-style copy). `seed` replaces the scenario's;
    `quick` shortens the horizon as `quick_duration` says."""
    from chaos.scenario import Scenario, load_scenario

    ov = overrides(set)
    if seed is not None:
        ov.append(f"seed={int(seed)}")
    if isinstance(scenario, Scenario):
        sc = _apply(scenario, ov) if ov else scenario
    else:
        sc = load_scenario(Path(scenario), overrides=ov)
    if quick:
        q = quick_duration(sc)
        if q is not None and sc.duration is not None and q < sc.duration:
            sc = _apply(sc, [f"duration={_dur(q)}"])
    return sc


def _apply(scenario, ov: Sequence[str]):
    """`--set` overrides on an already loaded scenario: through its exact YAML form (exclude_unset
    round-trips to the same scenario), resolved in the same folder."""
    import yaml

    from chaos.scenario import load_scenario_text

    text = yaml.safe_dump(scenario.model_dump(mode="json", exclude_unset=True), sort_keys=False)
    return load_scenario_text(text, scenario.source_file or f"<{scenario.name}>", scenario.base_dir, list(ov))


def quick_duration(scenario) -> float | None:
    """The horizon of --chaos-quick: the end of the last fault + the hypothesis' settle time + max(2 x the
    longest probe window, 60 s); without faults, warmup + max(2 x the longest window, 2 minutes).
    None (keep the scenario's duration) when the run has no duration or a fault's times depend on the
    horizon (random_failures, an mtbf failure process, a repeat without a count)."""
    if scenario.duration is None:
        return None
    windows = [p.window for p in scenario.steady_state if p.window is not None]
    longest = max(windows, default=0.0)
    settle = scenario.hypothesis.settle
    if not scenario.faults:
        return scenario.hypothesis.warmup + max(2 * longest, 120.0)
    end = 0.0
    for f in scenario.faults:
        if getattr(f, "mtbf", None) is not None or f.type == "random_failures":
            return None          # failure processes draw their times over the whole horizon
        every, repeat = getattr(f, "every", None), getattr(f, "repeat", None)
        if every is not None and repeat is None:
            return None
        start_last = f.at + (every or 0.0) * ((repeat or 1) - 1)
        duration = getattr(f, "duration", None)
        end = max(end, start_last + (duration or 0.0))
    return end + settle + max(2 * longest, QUICK_MARGIN_S)


def run(scenario, *, set: Mapping[str, Any] | None = None, seed: int | None = None,
        baseline: bool | None = None, quick: bool = False, catalog=None):
    """Load (see `load`) and run `scenario` as an experiment: the faulted run, its fault-free twin when
    `baseline` is True (None: when there are faults or a probe compares with the twin), the verdict of
    its steady-state hypothesis and, with the twin, the resilience analysis."""
    sc = load(scenario, set=set, seed=seed, quick=quick)
    return experiment_of(sc, baseline=baseline, catalog=catalog)


def experiment_of(scenario, *, baseline: bool | None = None, catalog=None):
    """run_experiment on a loaded Scenario; an input error found while building the fleet (unknown model,
    a fault aimed at a missing element) gets the scenario's file:line, as on the command line."""
    from chaos.errors import InputError
    from chaos.scenario import locate_error
    from chaos.sim.experiment import run_experiment

    try:
        return run_experiment(scenario, baseline=baseline, catalog=catalog)
    except InputError as err:
        raise locate_error(scenario, err) from None


def ensure_baseline(run):
    """The Experiment of `run` with its fault-free twin and resilience analysis, running the twin now
    if needed (stored on the experiment). A plain Result is wrapped in a new Experiment."""
    from chaos.metrics import ResilienceConfig, RunData, analyze_resilience
    from chaos.sim.experiment import Experiment, baseline_twin, detections, fault_windows
    from chaos.sim.run import Result
    from chaos.sim.run import run as simulate

    exp = Experiment(run, None, None, None) if isinstance(run, Result) else run
    if exp.resilience is not None:
        return exp
    sc = exp.result.scenario
    if exp.baseline is None:
        exp.baseline = simulate(baseline_twin(sc))
    slo = sc.slo.to_slo() if sc.slo is not None else None
    config = sc.resilience or ResilienceConfig(window=sc.metrics.window)
    exp.resilience = analyze_resilience(RunData.of(exp.result), RunData.of(exp.baseline),
                                        faults=fault_windows(exp.result), detections=detections(exp.result),
                                        slo=slo, config=config, settle_s=sc.hypothesis.settle)
    return exp


# -- describing a run ----------------------------------------------------------------------------------

def _result(run):
    return getattr(run, "result", run)


def _dur(seconds: float) -> str:
    """A duration the scenario loader reads back: "90s", "2.5s"."""
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds:.6g}s"


def _t(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "n/a"
    return "0s" if seconds == 0 else format_duration(seconds)


def _label(run) -> str:
    res = _result(run)
    sc = res.scenario
    where = f" from {sc.source_file}" if getattr(sc, "source_file", None) else ""
    return f"run {sc.name!r} (seed {sc.seed}{where}, horizon {_t(res.horizon_s)})"


def _planned(run) -> list:
    res = _result(run)
    return list(res.supervision.planned) if res.supervision is not None else []


def _fault_line(pf) -> str:
    end = "end" if pf.permanent else _t(pf.end_s)
    targets = ", ".join(pf.targets) or "fleet"
    lost = f" -> lost {', '.join(pf.replicas_lost)}" if pf.replicas_lost else ""
    degraded = f" -> degraded {', '.join(pf.replicas_degraded)}" if pf.replicas_degraded else ""
    return f"{pf.cause} {targets} [{_t(pf.start_s)}, {end}){lost}{degraded}"


def faults_between(run, t0: float, t1: float) -> list[str]:
    """Fault occurrences active at some point of [t0, t1), one line each."""
    out = []
    for pf in _planned(run):
        end = pf.end_s if pf.end_s > pf.start_s else pf.start_s + 1e-9
        if pf.start_s < t1 and end > t0:
            out.append(_fault_line(pf))
    return out


def _faults_block(run) -> list[str]:
    lines = [f"  {_fault_line(pf)}" for pf in _planned(run)]
    return ["faults:", *lines] if lines else ["faults: none"]


def explain(experiment, report: str | Path | None = None) -> str:
    """The readable account of a deviated (or held) experiment: verdict, each failing probe with its
    window, value and tolerance and the faults active then, how many windows failed per probe, the fault
    plan, the resilience score and recovery per fault, and where the report is."""
    res = experiment.result
    hyp = experiment.hypothesis
    twin = "with" if experiment.baseline is not None else "without"
    lines = [f"steady-state hypothesis {experiment.verdict}: {_label(res)}, {twin} the fault-free twin"]
    if hyp is not None:
        failed = {row["index"]: row for row in hyp.per_probe() if row["failed"]}
        shown: dict[int, int] = {}
        for check in hyp.failing:
            lines.append(f"  {check.describe()}")
            shown[check.index] = shown.get(check.index, 0) + 1
        for index, row in failed.items():
            more = row["failed"] - shown.get(index, 0)
            if more > 0:
                lines.append(f"  ... steady_state[{index}] {row['probe']}: {more} more failing window(s) "
                             f"({row['failed']} of {row['checks']})")
    lines += _faults_block(res)
    counts = res.log.counts()
    lines.append(f"requests: {counts['arrived']} arrived, {counts['completed']} completed, {counts['failed']} failed, "
                 f"{counts['rejected']} rejected, {counts['in_flight']} in flight at the horizon")
    if experiment.resilience is not None:
        rep = experiment.resilience
        lines.append(f"resilience score: {rep.score.text}")
        for f in rep.faults:
            rec = "never recovered" if f.time_to_recover_s is None else f"recovered after {_t(f.time_to_recover_s)}"
            det = "not detected" if f.time_to_detect_s is None else f"detected after {_t(f.time_to_detect_s)}"
            lines.append(f"  {f.name}: {det}, {rec}, max throughput drop {100 * f.max_throughput_drop:.0f}%")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)


def write_report(experiment, out_dir: str | Path) -> Path:
    """journal.json, requests.csv (+ baseline_requests.csv) and, when chaos.report has render_report,
    report.html/report.md with figures, into `out_dir`; returns the report page (or the journal)."""
    from chaos.report.journal import write_journal

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    journal = write_journal(experiment.result, out / "journal.json", experiment)
    experiment.result.log.to_csv(out / "requests.csv")
    if experiment.baseline is not None:
        experiment.baseline.log.to_csv(out / "baseline_requests.csv")
    try:
        from chaos.report import render_report
    except ImportError:
        return journal
    return render_report([journal], out).html


# -- assertions ----------------------------------------------------------------------------------------

METRICS_HIGHER_IS_BETTER = frozenset({"throughput_tok_s", "throughput_rps", "goodput_rps", "slo_attainment",
                                      "replicas_up_min", "resilience_score"})
_RESILIENCE_METRICS = ("resilience_score", "time_to_recover_s", "lost_output_tokens")


def _span(res, between) -> tuple[float, float]:
    if between is None:
        return 0.0, float(res.horizon_s)
    t0, t1 = (parse_duration(v) for v in between)
    if not t1 > t0:
        raise ValueError(f"between: expected (start, end) with end > start but got {between!r}")
    return t0, min(t1, float(res.horizon_s))


def _probe(res, name: str, t0: float, t1: float) -> float:
    from chaos.metrics import RunData, probe_values
    sc = res.scenario
    slo = sc.slo.to_slo() if sc.slo is not None else None
    return float(probe_values(name, RunData.of(res), np.array([t0]), np.array([t1]), slo=slo)[0])


def _worst_window(res, name: str, t0: float, t1: float, width: float, higher_better: bool):
    from chaos.metrics import RunData, probe_values
    edges = np.arange(t0, t1, width)
    if len(edges) < 2:
        return None
    a, b = edges, np.minimum(edges + width, t1)
    keep = b > a
    a, b = a[keep], b[keep]
    sc = res.scenario
    slo = sc.slo.to_slo() if sc.slo is not None else None
    v = probe_values(name, RunData.of(res), a, b, slo=slo)
    if np.isnan(v).all():
        return None
    k = int(np.nanargmin(v) if higher_better else np.nanargmax(v))
    return float(a[k]), float(b[k]), float(v[k])


def assert_slo(run, *, between: tuple | None = None, per: str | float = "30s", **limits) -> None:
    """Each keyword is a steady-state probe name and its limit over the run (or `between=(t0, t1)`):
    latencies, counts and queue depth are maxima (`ttft_p99="2s"`, `requests_failed=0`), throughputs,
    goodput, SLO attainment and replicas up are minima (`throughput_tok_s="2000/s"`,
    `slo_attainment="99%"`). A failure names each probe's value against its limit, its worst `per`
    window and the faults active in that window."""
    __tracebackhide__ = True
    from chaos.metrics import PROBES, ProbeConfig
    from chaos.metrics.steady import format_value

    if not limits:
        raise TypeError("assert_slo needs at least one limit, like ttft_p99=\"2s\"")
    res = _result(run)
    t0, t1 = _span(res, between)
    width = parse_duration(per)
    violations, lines = [], []
    for name, limit in limits.items():
        if name not in PROBES:
            from chaos.errors import expected_one_of
            raise TypeError(f"assert_slo: {expected_one_of(name, sorted(PROBES))}")
        higher = name in METRICS_HIGHER_IS_BETTER
        cfg = ProbeConfig.model_validate({"probe": name, ("min" if higher else "max"): limit})
        bound = cfg.lower if higher else cfg.upper
        value = _probe(res, name, t0, t1)
        ok = math.isnan(value) or (value >= bound if higher else value <= bound)
        sign = ">=" if higher else "<="
        text = f"{name} = {format_value(name, value)}, limit {sign} {format_value(name, bound)}"
        worst = _worst_window(res, name, t0, t1, width, higher)
        if worst is not None and not ok:
            a, b, v = worst
            active = faults_between(res, a, b)
            text += (f"; worst {_t(width)} window [{_t(a)}, {_t(b)}): {format_value(name, v)}"
                     + (f" while {'; '.join(active)}" if active else " (no fault active)"))
        lines.append(("  " if ok else "  FAILED ") + text)
        if not ok:
            violations.append(f"{name} {format_value(name, value)} {'<' if higher else '>'} {format_value(name, bound)}")
    message = "\n".join([f"SLO not met by {_label(res)} over [{_t(t0)}, {_t(t1)}):", *lines, *_faults_block(res)])
    assert not violations, message


def _leave_s(log) -> np.ndarray:
    return np.where(np.isnan(log.finish_s), log.arrival_s, log.finish_s)


def assert_no_requests_lost(run, *, allow: int = 0, between: tuple | None = None) -> None:
    """No request failed or was rejected (at most `allow`), by the time it left the system, over the run
    or `between=(t0, t1)`. A failure groups the lost requests by reason with when they left, and lists
    the faults and what the fault-free twin lost (when there is one)."""
    __tracebackhide__ = True
    from chaos.metrics import Status

    res = _result(run)
    t0, t1 = _span(res, between)
    log = res.log
    leave = _leave_s(log)
    inside = (leave >= t0) & (leave <= t1)
    failed = inside & (log.status == int(Status.FAILED))
    rejected = inside & (log.status == int(Status.REJECTED))
    lost = int(failed.sum() + rejected.sum())
    arrived = int(((log.arrival_s >= t0) & (log.arrival_s <= t1)).sum())
    lines = [f"{lost} requests lost by {_label(res)} over [{_t(t0)}, {_t(t1)}) (allowed {allow}): "
             f"{int(failed.sum())} failed, {int(rejected.sum())} rejected of {arrived} arrived"]
    groups: dict[tuple[str, str], list[float]] = {}
    for mask, kind in ((failed, "failed"), (rejected, "rejected")):
        for reason, t in zip(log.reason[mask], leave[mask]):
            groups.setdefault((kind, str(reason) or "no reason"), []).append(float(t))
    for (kind, reason), times in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:8]:
        lines.append(f"  {len(times)} {kind}: {reason!r} between {_t(min(times))} and {_t(max(times))}")
    if len(groups) > 8:
        lines.append(f"  ... {len(groups) - 8} more reasons")
    lines += _faults_block(res)
    twin = getattr(run, "baseline", None)
    if twin is not None:
        c = twin.log.counts()
        lines.append(f"fault-free twin: {c['failed']} failed, {c['rejected']} rejected")
    assert lost <= allow, "\n".join(lines)


def assert_recovers_within(run, limit: str | float) -> None:
    """Every fault's time to recover (chaos.metrics.resilience: the first start of `recovery_windows`
    windows back within tolerance of the fault-free twin, after the last window out of it) is at most
    `limit`. Runs the twin when the experiment has none."""
    __tracebackhide__ = True
    exp = ensure_baseline(run)
    limit_s = parse_duration(limit)
    rep = exp.resilience
    cfg = rep.config
    violations, lines = [], []
    for f in rep.faults:
        det = "not detected" if f.time_to_detect_s is None else f"detected after {_t(f.time_to_detect_s)}" + (
            f" ({f.detected_by})" if f.detected_by else "")
        if f.time_to_recover_s is None:
            state = f"never recovered before the horizon {_t(exp.result.horizon_s)}"
            violations.append(f"{f.name}: never")
        else:
            state = f"recovered after {_t(f.time_to_recover_s)} (at {_t(f.recovered_at_s)})"
            if f.time_to_recover_s > limit_s:
                violations.append(f"{f.name}: {_t(f.time_to_recover_s)} > {_t(limit_s)}")
        mark = "  FAILED " if violations and violations[-1].startswith(f.name + ":") else "  "
        lines.append(f"{mark}{f.name} [{_t(f.start_s)}, {_t(f.end_s)}): {det}, {state}; max throughput drop "
                     f"{100 * f.max_throughput_drop:.0f}%, {f.requests.get('failed', 0)} failed in its impact span")
    head = (f"recovery slower than {_t(limit_s)} in {_label(exp)} (recovered = {cfg.recovery_windows} windows of "
            f"{_t(cfg.window)} with throughput >= {1 - cfg.throughput_tolerance:.0%} and TTFT p99 <= "
            f"{cfg.ttft_factor:g} x the fault-free twin's):")
    assert not violations, "\n".join([head, *lines])


def assert_no_cliff(run, *, drop: float = 0.5, within: str | float = "10s", ttft_factor: float | None = None) -> None:
    """No performance cliff: throughput never falls by more than `drop` (0.5 = half) within `within` while
    the fault-free twin's does not; with `ttft_factor`, TTFT p99 never rises by more than that factor
    within `within` either (chaos.metrics.resilience). Runs the twin when the experiment has none."""
    __tracebackhide__ = True
    from chaos.metrics import RunData, analyze_resilience
    from chaos.sim.experiment import detections, fault_windows

    exp = ensure_baseline(run)
    sc = exp.result.scenario
    within_s = parse_duration(within)
    update = {"cliff_drop": float(drop), "cliff_within": within_s}
    if ttft_factor is not None:
        update["cliff_ttft_factor"] = float(ttft_factor)
    cfg = exp.resilience.config.model_copy(update=update)
    slo = sc.slo.to_slo() if sc.slo is not None else None
    rep = analyze_resilience(RunData.of(exp.result), RunData.of(exp.baseline), faults=fault_windows(exp.result),
                             detections=detections(exp.result), slo=slo, config=cfg, settle_s=sc.hypothesis.settle)
    cliffs = [c for c in rep.cliffs if c.kind == "throughput" or ttft_factor is not None]
    lines = []
    for c in cliffs:
        if c.kind == "throughput":
            lines.append(f"  throughput cliff at {_t(c.t_s)}: {c.from_value:.4g} -> {c.to_value:.4g} tok/s "
                         f"({100 * c.change:.0f}% down, limit {100 * drop:.0f}%) within {_t(within_s)}; fault-free twin "
                         f"{c.baseline_value:.4g} tok/s; {c.cause}")
        else:
            lines.append(f"  TTFT p99 cliff at {_t(c.t_s)}: {_t(c.from_value)} -> {_t(c.to_value)} "
                         f"(x{c.change:.3g}, limit x{ttft_factor:g}) within {_t(within_s)}; fault-free twin "
                         f"{_t(c.baseline_value)}; {c.cause}")
    found = [f"{c.kind} at {_t(c.t_s)}" for c in cliffs]
    assert not found, "\n".join([f"{len(cliffs)} performance cliff(s) in {_label(exp)}:", *lines, *_faults_block(exp)])


def _metric(run, metric: str, between) -> float:
    if metric in _RESILIENCE_METRICS:
        rep = ensure_baseline(run).resilience
        if metric == "resilience_score":
            return float(rep.score.score)
        if metric == "lost_output_tokens":
            return float(rep.run["lost_output_tokens"])
        horizon = float(_result(run).horizon_s)
        return float(sum((horizon - f.start_s) if f.time_to_recover_s is None else f.time_to_recover_s
                         for f in rep.faults))
    res = _result(run)
    t0, t1 = _span(res, between)
    return _probe(res, metric, t0, t1)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: d}


def differences(a, b, limit: int = 6) -> list[str]:
    """Where two runs' scenarios differ: "controller.policy: 'restart' vs ['failover_spare', 'restart']"."""
    fa = _flat(_result(a).scenario.resolved_dict())
    fb = _flat(_result(b).scenario.resolved_dict())
    keys = [k for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    out = [f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}" for k in keys[:limit]]
    if len(keys) > limit:
        out.append(f"... {len(keys) - limit} more")
    return out


def _fmt_metric(metric: str, value: float) -> str:
    from chaos.metrics import PROBES
    from chaos.metrics.steady import format_value
    if metric in PROBES:
        return format_value(metric, value)
    if metric == "time_to_recover_s":
        return _t(value)
    return f"{value:.4g}"


def assert_better(a, b, *, metric: str = "ttft_p99", margin: float = 0.0, between: tuple | None = None) -> None:
    """Run `a` is better than run `b` on `metric` by more than `margin` (relative; 0 = strictly better):
    lower for latencies and lost requests, higher for throughput, goodput, SLO attainment, replicas up and
    resilience_score. `metric` is a steady-state probe name (over the run or `between`), or
    resilience_score, time_to_recover_s (sum over faults; never recovered counts to the horizon) or
    lost_output_tokens (these run the fault-free twins when needed). The failure shows both values and
    where the two scenarios differ."""
    __tracebackhide__ = True
    from chaos.metrics import PROBES
    if metric not in PROBES and metric not in _RESILIENCE_METRICS:
        from chaos.errors import expected_one_of
        raise TypeError(f"assert_better: metric: {expected_one_of(metric, sorted(PROBES) + list(_RESILIENCE_METRICS))}")
    va, vb = _metric(a, metric, between), _metric(b, metric, between)
    higher = metric in METRICS_HIGHER_IS_BETTER
    if higher:
        better = va > vb * (1 + margin) if vb >= 0 else va > vb
    else:
        better = va < vb * (1 - margin)
    direction = "higher" if higher else "lower"
    need = f" by more than {100 * margin:.0f}%" if margin else ""
    lines = [f"A is not better than B on {metric} ({direction} is better{need}): "
             f"A = {_fmt_metric(metric, va)}, B = {_fmt_metric(metric, vb)}",
             f"  A: {_label(a)}", f"  B: {_label(b)}"]
    diff = differences(a, b)
    lines.append("  they differ in: " + ("; ".join(diff) if diff else "nothing (same scenario)"))
    assert better, "\n".join(lines)
