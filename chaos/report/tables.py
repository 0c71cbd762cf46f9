"""The report's tables as rows of plain, formatted strings, shared by the HTML and Markdown templates.

Every cell is text (units attached at the report boundary, chaos.report.cells); the templates only
lay them out and escape them. The hypothesis, resilience and score tables live in
chaos.report.outcome and are re-exported here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaos.report.cells import (DASH, NOT_EVALUATED, Section, Table, dur, inline, num, pct,  # noqa: F401
                                times_in_text, value_text)
from chaos.report.outcome import (HYPOTHESIS_HEADER, PHASE_ORDER, SCORE_NOTE, breakdown_rows,  # noqa: F401
                                  cliff_rows, hypothesis_tables, resilience_table, score_table)
from chaos.report.view import RunView

# -- headline -------------------------------------------------------------------------------------
@dataclass
class Headline:
    verdict: str           # "held", "deviated", or NOT_EVALUATED
    verdict_class: str     # css class: ok | bad | none
    verdict_reason: str
    score: str             # "87.3/100" (one decimal, as the CLI prints it) or NOT_EVALUATED
    facts: list[tuple[str, str]]


def headline(run: RunView) -> Headline:
    v = run.verdict
    if v is None:
        verdict, cls = NOT_EVALUATED, "none"
    else:
        verdict = v
        cls = {"held": "ok", "pass": "ok", "passed": "ok", "ok": "ok",
               "deviated": "bad", "fail": "bad", "failed": "bad"}.get(v.lower(), "none")
    score = NOT_EVALUATED
    if run.resilience is not None and run.resilience.score is not None:
        from chaos.metrics.score import format_score
        s = run.resilience.score
        score = format_score(s if s > 1.0 else 100 * s)
    req = run.summary.get("requests") or {}
    ttft = run.summary.get("ttft_s") or {}
    facts = [
        ("requests", f"{num(req.get('arrived'))} arrived, {num(req.get('completed'))} completed, "
                     f"{num(req.get('failed'))} failed, {num(req.get('rejected'))} rejected, "
                     f"{num(req.get('in_flight'))} in flight"),
        ("TTFT p99", dur(ttft.get("p99"))),
        ("throughput", f"{num(run.summary.get('throughput_tok_s'))} output tok/s"),
        ("SLO attainment", pct(run.summary.get("slo_attainment"))),
        ("faults", f"{len(run.faults)} played" if run.faults else "none"),
        ("simulated", dur(run.horizon_s)),
    ]
    return Headline(verdict, cls, run.verdict_reason, score, facts)


# -- scenario -------------------------------------------------------------------------------------
def scenario_sections(run: RunView) -> list[Section]:
    r = run.resolved
    out = []
    topo = r.get("topology") or {}
    if topo:
        so = topo.get("scale_out") or {}
        gpus = (topo.get("racks") or 0) * (topo.get("hosts_per_rack") or 0) * (topo.get("gpus_per_host") or 0)
        out.append(Section("Fleet", [
            ("fabric", f"{topo.get('name', '?')}: {topo.get('racks')} rack(s) x {topo.get('hosts_per_rack')} "
                       f"host(s) x {topo.get('gpus_per_host')} {topo.get('gpu', run.gpu)} = {gpus} GPUs"),
            ("NVLink domain", value_text("nvlink_domain", topo.get("nvlink_domain"))),
            ("scale-out", inline(so, skip=("nvlink_latency",))),
        ]))
    dep = r.get("deployment") or {}
    if dep:
        rows = [("model", str(dep.get("model", run.model))), ("mode", str(dep.get("mode", "")))]
        if dep.get("mode") == "disaggregated":
            for pool in ("prefill", "decode"):
                p = dep.get(pool) or {}
                rows.append((pool, f"{p.get('replicas')} x TP{p.get('tp')}"))
        else:
            rows.append(("replicas", f"{dep.get('replicas')} x TP{dep.get('tp')}"))
        rows.append(("spares", str(dep.get("spares", 0))))
        if r.get("engine"):
            rows.append(("engine", inline(r["engine"])))
        out.append(Section("Deployment", rows))
    pol = []
    if r.get("router"):
        pol.append(("router", inline(r["router"])))
    if r.get("recovery"):
        pol.append(("recovery", inline(r["recovery"])))
    if r.get("controller"):
        ctl = dict(r["controller"])
        pols = ctl.get("policy")
        if not (pols == "autoscale" or (isinstance(pols, list) and "autoscale" in pols)):
            ctl.pop("autoscale", None)
        pol.append(("controller", inline(ctl)))
    if pol:
        out.append(Section("Policies", pol))
    wl = r.get("workload") or {}
    if wl:
        rows = []
        if wl.get("trace"):
            rows.append(("trace", inline(wl["trace"])))
        if wl.get("synthetic"):
            syn = dict(wl["synthetic"])
            for k in ("input", "output"):
                if isinstance(syn.get(k), dict):
                    rows.append((f"{k} tokens", inline(syn.pop(k))))
            rows.insert(0, ("synthetic", inline(syn)))
        rows.append(("duration", dur(r.get("duration")) if r.get("duration") else "until the last request"))
        if r.get("slo"):
            rows.append(("SLO", ", ".join(f"{k} p99 {dur(v)}" for k, v in r["slo"].items() if v is not None)))
        out.append(Section("Workload", rows))
    return out


def fault_plan(run: RunView) -> Table:
    plan = run.resolved.get("faults") or []
    rows = []
    for i, f in enumerate(plan):
        if not isinstance(f, dict):
            continue
        target = f.get("target")
        target = inline(target, skip=("on_empty",)) if isinstance(target, dict) else value_text("target", target)
        timing = inline({k: f.get(k) for k in ("at", "duration", "repeat", "every", "mtbf", "repair")})
        rest = inline({k: v for k, v in f.items()
                       if k not in ("type", "target", "at", "duration", "repeat", "every", "mtbf", "repair",
                                    "description")})
        rows.append([f"faults[{i}]", str(f.get("type", "?")), timing, target, rest if rest != DASH else ""])
    return Table(["#", "type", "timing", "target", "other"], rows,
                 note="" if rows else "no fault planned: a steady-state (or baseline) run")


def faults_played(run: RunView) -> Table:
    rows, bad = [], []
    for f in run.faults:
        end = "never (permanent)" if f.permanent else dur(f.end_s)
        rows.append([f.cause, dur(f.start_s), end, f"{f.target_kind}: {', '.join(f.targets) or DASH}",
                     ", ".join(f.replicas_lost) or DASH, ", ".join(f.replicas_degraded) or DASH])
    return Table(["fault", "start", "end", "target", "replicas lost", "replicas degraded"], _cap(rows), bad,
                 note=_cap_note(rows))


def controller_actions(run: RunView) -> Table:
    rows = [[dur(a.t_s), a.action, ", ".join(a.replicas) or DASH, times_in_text(a.detail)] for a in run.actions]
    return Table(["time", "action", "replicas", "detail"], _cap(rows),
                 note=_cap_note(rows) or ("" if rows else "the controller took no action"))


MAX_ROWS = 40


def _cap(rows: list) -> list:
    return rows[:MAX_ROWS]


def _cap_note(rows: list) -> str:
    return f"first {MAX_ROWS} of {len(rows)} shown; the journal has them all" if len(rows) > MAX_ROWS else ""


# -- results --------------------------------------------------------------------------------------
_METRICS = (
    ("requests completed", ("requests", "completed"), "n"),
    ("requests failed", ("requests", "failed"), "n"),
    ("requests rejected", ("requests", "rejected"), "n"),
    ("requests in flight at the end", ("requests", "in_flight"), "n"),
    ("TTFT p50", ("ttft_s", "p50"), "s"),
    ("TTFT p99", ("ttft_s", "p99"), "s"),
    ("TPOT p50", ("tpot_s", "p50"), "s"),
    ("TPOT p99", ("tpot_s", "p99"), "s"),
    ("E2E p50", ("e2e_s", "p50"), "s"),
    ("E2E p99", ("e2e_s", "p99"), "s"),
    ("throughput (output tok/s)", ("throughput_tok_s",), "f"),
    ("throughput (req/s)", ("throughput_rps",), "f3"),
    ("goodput (req/s)", ("goodput_rps",), "f3"),
    ("SLO attainment", ("slo_attainment",), "%"),
)
# For these a rise is worse; for the others (completions, throughput, goodput, attainment) a fall is.
_HIGHER_IS_WORSE = {"requests failed", "requests rejected", "requests in flight at the end", "TTFT p50", "TTFT p99",
                    "TPOT p50", "TPOT p99", "E2E p50", "E2E p99"}


def _dig(d: dict, path: tuple[str, ...]):
    for k in path:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def metric_text(value: Any, kind: str) -> str:
    if kind == "n":
        return num(value)
    if kind == "s":
        return dur(value)
    if kind == "%":
        return pct(value)
    if kind == "f3":
        return num(value, 3)
    return num(value, 1)


def _change(label: str, value: Any, base: Any) -> tuple[str, bool]:
    """Relative change text and whether it is a notable (>10%) change for the worse."""
    try:
        v, b = float(value), float(base)
    except (TypeError, ValueError):
        return DASH, False
    if b == 0:
        worse = label in _HIGHER_IS_WORSE and v > 0
        return ("+" + num(v) if v else "0") if label.startswith("requests") else DASH, worse
    rel = (v - b) / abs(b)
    worse = rel > 0.10 if label in _HIGHER_IS_WORSE else rel < -0.10
    return f"{rel:+.1%}", worse


def key_metrics(run: RunView) -> Table:
    base = run.baseline.summary if run.baseline is not None else None
    rows, bad = [], []
    for label, path, kind in _METRICS:
        value = _dig(run.summary, path)
        if base is None:
            rows.append([label, metric_text(value, kind)])
            bad.append(False)
        else:
            b = _dig(base, path)
            change, worse = _change(label, value, b)
            rows.append([label, metric_text(value, kind), metric_text(b, kind), change])
            bad.append(worse)
    header = ["metric", run_label(run)] + (["baseline", "change"] if base is not None else [])
    return Table(header, rows, bad, note="" if base is not None else no_baseline_note(run))


def run_label(run: RunView) -> str:
    """"faulted run" when faults were played, else "this run" (a fault-free run is not faulted)."""
    return "faulted run" if run.faults else "this run"


def no_baseline_note(run: RunView) -> str:
    if not run.faults:
        return f"baseline twin: {NOT_EVALUATED}: no fault was played, so this run is its own baseline"
    return f"baseline twin: {NOT_EVALUATED}: the fault-free twin did not run (fleetchaos run --baseline runs it)"


def missing_reason(run: RunView, section: str) -> str:
    """Why the hypothesis or the resilience section is absent, in words."""
    if section == "hypothesis":
        if not (run.resolved.get("steady_state") or []):
            return "the scenario has no steady_state probes"
        return "the run was not judged against its steady_state (an older or plain run)"
    if not run.faults:
        return "no fault was played, so there is nothing to recover from"
    return "the fault-free twin did not run, so there is nothing to compare with (fleetchaos run --baseline)"


_PATH_SHOWN_BY_ROUTER = ("hedges", "retries", "rejected: ")


def router_rows(run: RunView) -> list[tuple[str, str]]:
    """The router's counters (zeros left out), then what the request path did that the router's
    counters do not already say (hedges, retries and rejections by reason are counted once)."""
    rows = [(k.replace("_", " "), value_text(k, v)) for k, v in run.router.items()
            if not isinstance(v, dict) and v not in (0, None)]
    for k, v in run.router.items():
        if isinstance(v, dict) and v:
            rows.append((k.replace("_", " "), inline(v)))
    for k, v in run.request_path.items():
        if k.startswith(_PATH_SHOWN_BY_ROUTER) and run.router:
            continue
        rows.append((f"requests {k}", value_text(k, v)))
    return rows


# -- comparison -----------------------------------------------------------------------------------
def comparison(runs: list[RunView]) -> Table:
    """One row per key metric, one column per journal; in a row whose values differ by more than 10%,
    the worst run's cell is highlighted (higher latency, failures; lower throughput, attainment)."""
    header = ["metric"] + [r.label for r in runs]
    rows = [["verdict"] + [r.verdict or NOT_EVALUATED for r in runs],
            ["resilience score"] + [headline(r).score for r in runs],
            ["faults played"] + [str(len(r.faults)) for r in runs],
            ["controller actions"] + [str(len(r.actions)) for r in runs]]
    worst = [tuple(i + 1 for i, r in enumerate(runs) if (r.verdict or "").lower() == "deviated"), (), (), ()]
    from chaos.metrics.score import points_lost
    labels = list(dict.fromkeys(p.label for r in runs if r.resilience is not None for p in r.resilience.parts))
    for label in labels:      # what each run's score lost, component by component
        cells, lost = [], []
        for r in runs:
            part = next((p for p in (r.resilience.parts if r.resilience is not None else []) if p.label == label), None)
            cells.append(points_lost(part.penalty, part.weight) if part is not None else NOT_EVALUATED)
            lost.append(part.penalty if part is not None else None)
        rows.insert(2 + labels.index(label), [f"score: {label}"] + cells)
        known = [x for x in lost if x is not None]
        hi = max(known) if known else 0.0
        worst.insert(2 + labels.index(label),
                     tuple(i + 1 for i, x in enumerate(lost) if x is not None and hi >= 0.5 and x == hi))
    scores = [r.resilience.score if r.resilience is not None else None for r in runs]
    if sum(s is not None for s in scores) >= 2:
        lo = min(s for s in scores if s is not None)
        worst[1] = tuple(i + 1 for i, s in enumerate(scores) if s == lo)
    for label, path, kind in _METRICS:
        values = [_dig(r.summary, path) for r in runs]
        rows.append([label] + [metric_text(v, kind) for v in values])
        nums = {i: float(v) for i, v in enumerate(values) if isinstance(v, (int, float)) and not isinstance(v, bool)}
        mark: tuple[int, ...] = ()
        if len(nums) >= 2:
            lo, hi = min(nums.values()), max(nums.values())
            if hi > 0 and (hi - lo) / hi > 0.10:
                target = hi if label in _HIGHER_IS_WORSE else lo
                mark = tuple(i + 1 for i, v in nums.items() if v == target)
        worst.append(mark)
    return Table(header, rows, [False] * len(rows), worst=worst,
                 note="highlighted: the worst run of a row whose values differ by more than 10%")
