"""The recommendation: from the sweep's `slo:` and `budget:`, the shortlist of configurations that fit the
GPU budget, meet every SLO on every seed (the faulted run, faults included) and whose steady-state
hypothesis held under the sweep's faults on every seed — ranked by throughput per GPU (seed mean) —
the pick, the runner-up, and why every other configuration was rejected.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from chaos.sweep.configs import Config
from chaos.sweep.metrics import METRICS

RANK_BY = "throughput_per_gpu"


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

    def lines(self) -> list[str]:
        """The recommendation as text (what `fleetchaos sweep --recommend` prints)."""
        rank = METRICS[RANK_BY]
        criteria = [f"{METRICS[k].label} {'<=' if METRICS[k].better == 'lower' else '>='} {METRICS[k].format(v)}"
                    for k, v in self.slo.items()]
        if self.budget is not None:
            criteria.append(f"at most {self.budget} GPUs")
        criteria.append("steady-state hypothesis held under the sweep's faults")
        out = [f"criteria: {'; '.join(criteria)} (every seed); ranked by {rank.label}"]
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


def recommend(configs: Sequence[Config], slo: dict[str, float], budget: int | None) -> Recommendation:
    """The recommendation over `configs` (see module docstring)."""
    ok, rejected = [], []
    for c in configs:
        reasons = reasons_against(c, slo, budget)
        (rejected.append((c, reasons)) if reasons else ok.append(c))
    ok.sort(key=lambda c: (-(c.mean.get(RANK_BY) or 0.0), c.index))
    notes = []
    if ok and all(v == "none" for c in ok for v in c.verdicts.values()):
        notes.append("the base scenario has no steady_state hypothesis, so only the SLOs and the budget judged "
                     "the configurations under faults")
    if not slo:
        notes.append("the sweep file has no slo: section; any latency passed")
    return Recommendation(ok, rejected, dict(slo), budget, notes)
