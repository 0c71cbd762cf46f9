"""The report's tables as rows of plain, formatted strings, shared by the HTML and Markdown templates.

Every cell is text (units attached here, at the report boundary); the templates only lay them out
and escape them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from chaos.report.view import RunView
from chaos.units import DURATION_KEYS, DURATION_KEYS_IN, format_duration

NOT_EVALUATED = "not evaluated"
DASH = "—"

# Scenario fields that hold seconds (formatted as durations; names in chaos.units) and bytes/s.
_SECONDS = DURATION_KEYS
_SECONDS_IN = DURATION_KEYS_IN
_BANDWIDTH = {"nic_bandwidth", "nvlink_bandwidth", "leaf_uplink_bandwidth", "bandwidth"}


def dur(seconds: Any) -> str:
    if seconds is None or isinstance(seconds, bool):
        return DASH
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    if s != s:
        return DASH
    if s == 0:
        return "0s"
    return format_duration(s)


def num(value: Any, digits: int = 1) -> str:
    if value is None or isinstance(value, bool):
        return DASH
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != v:
        return DASH
    if v == int(v) and abs(v) < 1e15 and digits <= 1:
        return f"{int(v):,}"
    return f"{v:,.{digits}f}"


def pct(frac: Any, digits: int = 1) -> str:
    if frac is None or isinstance(frac, bool):
        return DASH
    try:
        return f"{100 * float(frac):.{digits}f}%"
    except (TypeError, ValueError):
        return str(frac)


def _bandwidth(bps: float) -> str:
    return f"{bps * 8 / 1e9:g} Gbps"


def value_text(key: str, value: Any, parent: str = "") -> str:
    """One scenario value as text, with its unit by the field's name (and the section it is in)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and (key in _SECONDS or key in _SECONDS_IN.get(parent, ())):
        return dur(value)
    if isinstance(value, (int, float)) and key in _BANDWIDTH:
        return _bandwidth(float(value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + inline(value, parent=key) + "}"
    if isinstance(value, list):
        return ", ".join(value_text(key, v, parent) for v in value) if value else DASH
    return str(value)


def inline(d: dict, skip: Iterable[str] = (), parent: str = "") -> str:
    """A dict's set fields as "k v, k v" (None and empty skipped); nested sections in braces."""
    skip = set(skip)
    parts = []
    for k, v in d.items():
        if k in skip or v is None or v == {} or v == []:
            continue
        parts.append(f"{k} {value_text(k, v, parent)}")
    return ", ".join(parts) if parts else DASH


@dataclass
class Section:
    """A titled list of (label, value) rows."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Table:
    """A table: header and rows of text cells; `bad[i]` marks row i for highlighting."""

    header: list[str]
    rows: list[list[str]]
    bad: list[bool] = field(default_factory=list)
    note: str = ""
    worst: list[tuple[int, ...]] = field(default_factory=list)
    """Per row, the column indexes of cells to highlight (the worst run of a comparison)."""

    def __post_init__(self) -> None:
        if len(self.bad) < len(self.rows):
            self.bad = self.bad + [False] * (len(self.rows) - len(self.bad))
        if len(self.worst) < len(self.rows):
            self.worst = self.worst + [()] * (len(self.rows) - len(self.worst))


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


PHASE_ORDER = ("before", "during", "after")
HYPOTHESIS_HEADER = ["probe", "tolerance", "windows", "failed", "result", "values", "first failure",
                     "value there", "limit there", "faults active there"]


def hypothesis_tables(run: RunView) -> list[tuple[str, str, Table]]:
    """[(phase, status text, table)] per phase: one row per steady_state probe (its windows summarised,
    the first failing window spelled out with the limit there), failing probes highlighted; the
    status counts probes, not windows. Phases the journal lists as skipped get an empty table and
    the reason."""
    h = run.hypothesis
    if h is None:
        return []
    phases: dict[str, list] = {}
    for c in h.checks:
        phases.setdefault(c.phase or DASH, []).append(c)
    per_phase = h.per_phase if isinstance(h.per_phase, dict) else {}
    names = [p for p in PHASE_ORDER if p in phases or p in per_phase]
    names += [p for p in list(phases) + list(per_phase) if p not in names]
    out = []
    for phase in dict.fromkeys(names):
        checks = phases.get(phase, [])
        info = per_phase.get(phase)
        info = info if isinstance(info, dict) else ({"verdict": info} if isinstance(info, str) else {})
        groups: dict[tuple, list] = {}
        for c in checks:   # one steady_state entry = one row, whatever its per-window limits
            groups.setdefault((c.index,) if c.index is not None else (c.probe, c.rule or c.tolerance), []).append(c)
        rows, bad = [], []
        for group in groups.values():
            first = group[0]
            failed = [c for c in group if c.ok is False]
            no_data = sum(c.ok is None for c in group)
            values = [c.value for c in group if c.value is not None]
            result = "FAILED" if failed else ("ok" if no_data < len(group) else "no data")
            span = DASH
            if values:
                lo, hi = min(values), max(values)
                span = _probe_value(first.probe, lo) if lo == hi else \
                    f"{_probe_value(first.probe, lo)} – {_probe_value(first.probe, hi)}"
            f0 = failed[0] if failed else None
            rows.append([first.probe, _group_tolerance(group),
                         str(len(group)) + (f" ({no_data} no data)" if no_data else ""), str(len(failed)), result,
                         span,
                         _window(f0) if f0 else DASH,
                         _probe_value(first.probe, f0.value) if f0 else DASH,
                         (f0.tolerance or DASH) if f0 else DASH,
                         ", ".join(f0.faults_active) or DASH if f0 else DASH])
            bad.append(bool(failed))
        n_failed = sum(bad)
        if not rows:
            status = info.get("status") or "no check"
            if info.get("reason"):
                status = f"{status}: {info['reason']}"
        else:
            status = (f"{n_failed} of {len(rows)} probe{'s' if len(rows) > 1 else ''} failed" if n_failed
                      else f"all {len(rows)} probes held" if len(rows) > 1 else "the probe held")
            if info.get("verdict"):
                status = f"{info['verdict']}: {status}"
        notes = [str(n) for n in _as_list(info.get("notes"))]
        table = Table(HYPOTHESIS_HEADER, rows, bad, note="; ".join(notes[:3]) + (" …" if len(notes) > 3 else ""))
        out.append((phase, status, table))
    return out


_RATIO = re.compile(r"^(>=|<=) ([0-9.]+) x baseline$")


def _group_tolerance(group: list) -> str:
    """The tolerance of one probe over its windows: its text when every window has the same limit;
    for a ratio to the baseline, the limit's range over the windows and the rule
    (">= 688 – 702 tok/s (0.7 x baseline per window)")."""
    texts = {c.tolerance for c in group}
    if len(texts) == 1:
        return next(iter(texts)) or DASH
    first = group[0]
    m = _RATIO.match(first.rule or "")
    limits = [float(m.group(2)) * c.baseline_value for c in group if m and c.baseline_value is not None]
    if not limits:
        return first.rule or first.tolerance or DASH
    lo, hi = min(limits), max(limits)
    span = _probe_value(first.probe, lo) if lo == hi else \
        f"{_probe_value(first.probe, lo).split(' ')[0]} – {_probe_value(first.probe, hi)}"
    return f"{m.group(1)} {span} ({m.group(2)} x baseline per window)"


def _as_list(value) -> list:
    return value if isinstance(value, list) else []


def _window(c) -> str:
    if c.t0 is None and c.t1 is None:
        return DASH
    return f"{dur(c.t0)}–{dur(c.t1)}"


def _probe_value(probe: str, value: float | None) -> str:
    if value is None:
        return DASH
    try:  # the metrics room knows each probe's unit
        from chaos.metrics.steady import format_value
        return format_value(probe, value)
    except Exception:  # noqa: BLE001 - a probe this version does not know: guess from its name
        pass
    rate = probe.endswith(("tok_s", "rps", "per_s", "_ratio"))
    if not rate and (probe.startswith(("ttft", "tpot", "itl", "e2e")) or "latency" in probe
                     or probe.endswith("_s")):
        return dur(value)
    if "frac" in probe or "attainment" in probe or "ratio" in probe:
        return pct(value)
    return num(value, 2 if abs(value) < 100 else 1)


_KNOWN_EXTRA = ("detected_by", "requests", "baseline_requests", "slo_attainment", "score_penalty")


def resilience_table(run: RunView) -> Table | None:
    """One row per fault: detection, recovery, throughput drop, lost tokens, requests (with the
    twin's in brackets), SLO attainment during and after the fault (the twin's in brackets) and the
    score points the fault cost; other per-fault numbers the journal carries follow."""
    res = run.resilience
    if res is None:
        return None
    extra_keys: list[str] = []
    for f in res.per_fault:
        for k, v in f.extra.items():
            if k in ("start_s", "end_s", "impact_end_s", "recovered_at_s", "cliffs", "impacted") or k in _KNOWN_EXTRA:
                continue
            if k not in extra_keys and (isinstance(v, (int, float, str, dict)) and not isinstance(v, bool)):
                extra_keys.append(k)
    extra_keys = extra_keys[:3]
    rows, bad = [], []
    for f in res.per_fault:
        drop = f.max_throughput_drop
        e = f.extra
        rows.append([f.fault, dur(f.time_to_detect_s), str(e.get("detected_by") or DASH),
                     dur(f.time_to_recover_s) if f.time_to_recover_s is not None else "not recovered",
                     pct(drop), num(f.lost_output_tokens, 0), _request_counts(e), _attainment(e),
                     num(e.get("score_penalty"), 1)]
                    + [value_text(k, e.get(k)) if not isinstance(e.get(k), float) else num(e.get(k), 2)
                       for k in extra_keys])
        bad.append(f.time_to_recover_s is None or (drop is not None and drop > 0.3))
    return Table(["fault", "time to detect", "detected by", "time to recover", "max throughput drop",
                  "lost output tokens", "requests (baseline)", "SLO attainment (baseline)", "score points lost",
                  *[k.replace("_", " ") for k in extra_keys]], rows, bad,
                 note="" if rows else "no fault to score")


def _request_counts(extra: dict) -> str:
    """"2 failed, 51 rejected, 6 retried (baseline 0, 0, 0)"."""
    r, b = extra.get("requests"), extra.get("baseline_requests")
    if not isinstance(r, dict):
        return DASH
    keys = [k for k in ("failed", "rejected", "retried") if k in r]
    text = ", ".join(f"{num(r[k])} {k}" for k in keys)
    if isinstance(b, dict):
        text += f" (baseline {', '.join(num(b.get(k)) for k in keys)})"
    return text


def _attainment(extra: dict) -> str:
    """"during 85.2%, after 52.7% (baseline 99.9%, 99.9%)"."""
    a = extra.get("slo_attainment")
    if not isinstance(a, dict) or all(a.get(k) is None for k in ("during", "after")):
        return DASH
    text = f"during {pct(a.get('during'))}, after {pct(a.get('after'))}"
    if "baseline_during" in a or "baseline_after" in a:
        text += f" (baseline {pct(a.get('baseline_during'))}, {pct(a.get('baseline_after'))})"
    return text


SCORE_NOTE = ("score = 100 minus the points each component costs; a component costs weight x (1 - e^(-amount / "
              "scale)), so an amount equal to its scale costs 63% of the weight and twice it 86%; "
              "each cliff costs half of what is left of its 5 points")


def score_table(run: RunView) -> Table | None:
    """The score's components in words: what each measures, this run's amount with its unit, the
    points it cost of its weight and the amount that costs 63% of them."""
    res = run.resilience
    if res is None or not res.parts:
        return None
    from chaos.metrics.score import points_lost
    rows = [[p.label, p.what, p.amount, points_lost(p.penalty, p.weight), p.curve] for p in res.parts]
    bad = [p.weight > 0 and p.penalty >= 0.25 * p.weight for p in res.parts]
    return Table(["component", "what it measures", "this run", "points lost", "curve"], rows, bad, note=SCORE_NOTE)


def breakdown_rows(run: RunView) -> list[tuple[str, str]]:
    """Older journals' breakdown ({name: text}) when the score has no worded components."""
    res = run.resilience
    if res is None or res.parts:
        return []
    out = []
    for k, v in res.breakdown.items():
        if isinstance(v, float):
            out.append((k.replace("_", " "), f"{v:.3g}"))
        elif isinstance(v, dict):
            out.append((k.replace("_", " "), inline(v)))
        else:
            out.append((k.replace("_", " "), value_text(k, v)))
    return out


def cliff_rows(run: RunView) -> list[list[str]]:
    res = run.resilience
    if res is None:
        return []
    return [[dur(c.t_s), c.kind,
             (f"x{c.drop:.1f} TTFT p99" if c.drop is not None else DASH) if c.kind == "ttft" else pct(c.drop),
             c.cause or DASH] for c in res.cliffs]


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


_SECONDS_IN_TEXT = re.compile(r"\b(\d+\.\d+|\d+)s\b")


def times_in_text(text: str) -> str:
    """Seconds the simulation wrote into a detail ("serving at 815.000s") as durations ("13m35s")."""
    return _SECONDS_IN_TEXT.sub(lambda m: dur(float(m.group(1))), text)


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
