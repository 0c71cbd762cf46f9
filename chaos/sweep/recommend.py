"""The recommendation: from the sweep's `slo:` and `budget:`, the shortlist of configurations that fit the
GPU budget, meet every SLO on every seed (the faulted run, faults included) and whose steady-state
hypothesis held under the sweep's faults on every seed — ranked by throughput per GPU (seed mean; within
1% of each other they tie and the lower TTFT p99 wins) — the pick, the runner-up, and why every other
configuration was rejected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from chaos.sweep.configs import Config, short
from chaos.sweep.metrics import METRICS

RANK_BY = "throughput_per_gpu"
TIE = 0.01   # throughputs per GPU within 1% of each other rank as equal; TTFT p99 then decides


@dataclass
class Recommendation:
    """`shortlist` ranked best first; `rejected` maps a config index to its reasons; `notes` are caveats."""

    shortlist: list[Config]
    rejected: list[tuple[Config, list[str]]]
    slo: dict[str, float]
    budget: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def pick(self) -> Config | None:
        return self.shortlist[0] if self.shortlist else None

    @property
    def runner_up(self) -> Config | None:
        return self.shortlist[1] if len(self.shortlist) > 1 else None

    def summary(self) -> list[str]:
        """The criteria, the pick and the runner-up (the first lines of `lines()`)."""
        return self.lines()[:3 if self.runner_up is not None else 2]

    def lines(self) -> list[str]:
        """The recommendation as text (what `fleetchaos sweep --recommend` prints)."""
        rank = METRICS[RANK_BY]
        criteria = [f"{METRICS[k].label} {'<=' if METRICS[k].better == 'lower' else '>='} {METRICS[k].format(v)}"
                    for k, v in self.slo.items()]
        if self.budget is not None:
            criteria.append(f"at most {self.budget} GPUs")
        criteria.append("steady-state hypothesis held under the sweep's faults")
        out = [f"criteria: {'; '.join(criteria)} (every seed); ranked by {rank.label} "
               f"(within {100 * TIE:g}%: lower TTFT p99 first)"]
        if self.pick is None:
            out.append("recommendation: none: no configuration meets every criterion")
        else:
            out.append(f"recommendation: {self.pick.label}: {_brief(self.pick)}")
            if self.runner_up is not None:
                out.append(f"runner-up: {self.runner_up.label}: {_brief(self.runner_up)}")
            for i, c in enumerate(self.shortlist[2:], start=3):
                out.append(f"#{i}: {c.label}: {_brief(c)}")
        if self.rejected:
            out.append(f"rejected ({len(self.rejected)}):")
            out += [f"  {c.label}: {'; '.join(reasons)}" for c, reasons in self.rejected]
        out += [f"note: {n}" for n in self.notes]
        return out


def _brief(c: Config) -> str:
    parts = [f"{METRICS[RANK_BY].format(c.mean.get(RANK_BY))}"]
    for k in ("ttft_p99", "tpot_p99"):
        if c.mean.get(k) is not None:
            parts.append(f"{METRICS[k].label} {METRICS[k].format(c.mean[k])}")
    if c.gpus is not None:
        parts.append(f"{c.gpus} GPUs")
    return ", ".join(parts)


def reasons_against(c: Config, slo: dict[str, float], budget: int | None) -> list[str]:
    """Why `c` is not recommendable (empty when it is)."""
    if not c.valid:
        return [f"invalid: {c.errors[0] if c.errors else 'no seed ran'}"]
    out = []
    if budget is not None and c.gpus is not None and c.gpus > budget:
        out.append(f"over budget: {c.gpus} GPUs > {budget}")
    for name, bound in slo.items():
        m = METRICS[name]
        worst = c.worst.get(name)
        if name not in c.worst:
            out.append(f"{m.label} not measured (needs the fault-free twin)")
        elif worst is None:
            out.append(f"{m.label} has no value on some seed (nothing completed)")
        elif (worst > bound) if m.better == "lower" else (worst < bound):
            op = ">" if m.better == "lower" else "<"
            out.append(f"{m.label} {m.format(worst)} {op} {m.format(bound)} (worst seed)")
    deviated = [s for s, v in sorted(c.verdicts.items()) if v == "deviated"]
    if deviated:
        first = (c.deviations.get(deviated[0]) or ["a probe failed"])[0]
        out.append(f"steady-state hypothesis deviated (seed {', '.join(map(str, deviated))}): {first}")
    return out


def rank(configs: Sequence[Config]) -> list[Config]:
    """Best first: by throughput per GPU in steps of TIE of the best one (so configurations that all serve
    the offered load tie), then by TTFT p99, then TPOT p99 (worst condition point), then sweep order."""
    best = max((c.mean.get(RANK_BY) or 0.0 for c in configs), default=0.0)

    def key(c: Config) -> tuple:
        tput = c.mean.get(RANK_BY) or 0.0
        bucket = math.floor((best - tput) / (TIE * best) + 1e-9) if best > 0 else 0
        return (bucket, c.mean.get("ttft_p99") or math.inf, c.mean.get("tpot_p99") or math.inf, c.index)

    return sorted(configs, key=key)


def candidates(configs: Sequence[Config], conditions: Sequence[str]) -> list[list[Config]]:
    """Configurations grouped by everything but the condition axes (load, faults): one candidate each."""
    groups: dict[str, list[Config]] = {}
    for c in configs:
        key = repr([(k, v) for k, v in c.values.items() if k not in conditions])
        groups.setdefault(key, []).append(c)
    return list(groups.values())


def _candidate(members: list[Config], conditions: Sequence[str]) -> Config:
    """One Config standing for a candidate: its own axes, the mean over its condition points."""
    first = members[0]
    values = {k: v for k, v in first.values.items() if k not in conditions}
    c = Config(index=first.index, values=values, gpus=first.gpus, seeds=first.seeds,
               ok_seeds=first.ok_seeds if all(m.valid for m in members) else [],
               errors=[e for m in members for e in m.errors],
               verdicts={}, deviations={})
    c.mean[RANK_BY] = (sum(m.mean.get(RANK_BY) or 0.0 for m in members) / len(members)
                       if all(m.mean.get(RANK_BY) is not None for m in members) else None)
    for k in ("ttft_p99", "tpot_p99"):
        vals = [m.worst.get(k) for m in members]
        c.mean[k] = max(vals) if vals and all(v is not None for v in vals) else None
    return c


def recommend(configs: Sequence[Config], slo: dict[str, float], budget: int | None,
              conditions: Sequence[str] = ()) -> Recommendation:
    """The recommendation over `configs` (see module docstring). Points that differ only in a condition
    axis (the load, the faults) form one candidate: it must pass at every one of its condition points,
    and ranks by its mean throughput per GPU over them (its TTFT/TPOT shown are the worst points)."""
    ok, rejected = [], []
    for members in candidates(configs, conditions):
        cand = _candidate(members, conditions)
        reasons = []
        errors = {m.errors[0] if m.errors else "" for m in members if not m.valid}
        if len(errors) == 1 and not any(m.valid for m in members):
            reasons = reasons_against(members[0], slo, budget)   # the same invalid combination everywhere
        for m in members if not reasons else ():
            where = ", ".join(f"{k}={short(v)}" for k, v in m.values.items() if k in conditions)
            reasons += [f"at {where}: {r}" if where else r for r in reasons_against(m, slo, budget)]
        (rejected.append((cand, reasons)) if reasons else ok.append(cand))
    ok = rank(ok)
    notes = []
    if ok and all(v == "none" for c in configs for v in c.verdicts.values()):
        notes.append("the base scenario has no steady_state hypothesis, so only the SLOs and the budget judged "
                     "the configurations under faults")
    if not slo:
        notes.append("the sweep file has no slo: section; any latency passed")
    if conditions:
        notes.append(f"a candidate must pass at every value of {', '.join(conditions)} (condition axes); it ranks "
                     f"by its mean {METRICS[RANK_BY].label} over them")
    return Recommendation(ok, rejected, dict(slo), budget, notes)
