"""The report's result tables: the steady-state hypothesis (one row per probe), resilience per fault,
how the score is made, cliffs. Rows of text cells (chaos.report.cells)."""
from __future__ import annotations

import re

from chaos.report.cells import DASH, Table, dur, inline, num, pct, value_text
from chaos.report.view import RunView

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
