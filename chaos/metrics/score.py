"""The resilience score: 0-100 from six losses measured against the fault-free twin (same seed, same
arrivals), each turned into a penalty by a saturating curve.

    score = 100 - sum over components c of penalty_c
    penalty_c = weight_c x (1 - exp(-amount_c / scale_c))        (cliffs: weight x (1 - 2^-n))

  component          weight  amount (unit)                                                     scale
  failed_requests      30    requests that failed (accepted, then lost to a fault, a timeout     1%
                             or exhausted retries) beyond the baseline's, % of requests arrived
  rejected_requests    10    requests refused at the door with a reason (admission, rate limit,  5%
                             shedding, no replica) beyond the baseline's, % of requests arrived
  lost_throughput      20    output tokens the baseline produced in the faults' impact spans     5%
                             and this run did not, % of the baseline's output tokens
  lost_goodput         20    requests within the SLO fewer than the baseline's, % of the         5%
                             baseline's (0 without an SLO)
  recovery             15    seconds to recover, summed over faults (never: to the horizon)     300 s
  cliffs                5    performance cliffs (sudden falls in throughput, jumps in TTFT)      halves
                             the rest per cliff

An amount equal to its scale costs 63% of the weight, twice the scale 86%: 0.1% failed requests cost
2.9 points, 1% cost 19; 1.8% rejected cost 3.0; 5% of output tokens 12.6; 5 minutes of recovery 9.5.
A rejection weighs less than a failure: the client learns at once, with a reason, and can retry or
go elsewhere, while a failed request cost its wait and the tokens generated for it; shedding
excess load is what a resilient fleet is expected to do. Every penalty grows with its amount, so a
run at least as good on every amount never scores lower (tests/metrics/test_score.py).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping

from chaos.metrics.probes import nan_to_none
from chaos.units import format_duration

FORMULA = "100 - sum(weight * (1 - exp(-amount / scale))); cliffs: weight * (1 - 2^-n)"


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """One score component: its weight (points it can cost), the amount that costs 63% of them,
    what it measures and the unit of its amount ("fraction": shown as %, "s", "count")."""
    name: str
    label: str
    weight: float
    scale: float
    unit: str
    what: str
    of: str = ""

    def penalty(self, amount: float) -> float:
        x = max(float(amount), 0.0)
        if self.name == "cliffs":
            return self.weight * (1.0 - 2.0 ** (-x))
        return self.weight * (1.0 - math.exp(-x / self.scale))

    def amount_text(self, amount: float) -> str:
        """The amount in its unit: "1.84%", "15m00s", "3 cliffs"."""
        if self.unit == "fraction":
            return f"{_percent(amount)} {self.of}".strip()
        if self.unit == "s":
            return "0s" if amount == 0 else format_duration(amount)
        return f"{amount:.0f} {self.of}".strip()

    def curve_text(self) -> str:
        if self.name == "cliffs":
            return f"each cliff costs half of what is left of {self.weight:g} points"
        return f"{self.amount_text(self.scale).split(' ')[0]} costs 63% of {self.weight:g} points, twice that 86%"


SPECS: tuple[ComponentSpec, ...] = (
    ComponentSpec("failed_requests", "failed requests", 30.0, 0.01, "fraction",
                  "requests that failed (accepted, then lost to a fault, a timeout or exhausted retries) beyond "
                  "the baseline's, as a share of requests arrived", "of requests arrived"),
    ComponentSpec("rejected_requests", "rejected requests", 10.0, 0.05, "fraction",
                  "requests refused at the door with a reason (admission, rate limit, shedding, no replica) "
                  "beyond the baseline's, as a share of requests arrived", "of requests arrived"),
    ComponentSpec("lost_throughput", "lost throughput", 20.0, 0.05, "fraction",
                  "output tokens the baseline produced in the faults' impact spans and this run did not, as a "
                  "share of the baseline's output tokens", "of the baseline's output tokens"),
    ComponentSpec("lost_goodput", "lost goodput", 20.0, 0.05, "fraction",
                  "requests within the SLO fewer than the baseline's, as a share of the baseline's "
                  "(not scored without an SLO)", "of the baseline's requests within the SLO"),
    ComponentSpec("recovery", "recovery time", 15.0, 300.0, "s",
                  "time to recover summed over faults (a fault never recovered from counts to the horizon)"),
    ComponentSpec("cliffs", "performance cliffs", 5.0, 1.0, "count",
                  "performance cliffs: sudden falls in throughput or jumps in TTFT p99 the baseline did not have", "cliffs"),
)
SPEC = {s.name: s for s in SPECS}
SCORE_WEIGHTS: dict[str, tuple[float, float]] = {s.name: (s.weight, s.scale) for s in SPECS}


def _percent(frac: float) -> str:
    """0.000469 -> "0.047%", 0.0119 -> "1.2%", 0.184 -> "18%"."""
    v = 100 * frac
    if v == 0:
        return "0%"
    return f"{v:.0f}%" if v >= 10 else f"{v:.1f}%" if v >= 1 else f"{v:.2g}%"


def score_of(amounts: Mapping[str, float]) -> float:
    """The score of a set of amounts (missing components count 0): 100 - sum of penalties, >= 0."""
    return max(0.0, 100.0 - sum(s.penalty(amounts.get(s.name, 0.0)) for s in SPECS))


def points_lost(penalty: float, weight: float) -> str:
    """"-8.6 of 20", or "0 of 20" when it rounds to nothing."""
    return f"-{penalty:.1f} of {weight:g}" if round(penalty, 1) > 0 else f"0 of {weight:g}"


def format_score(score: float | None) -> str:
    """The score as every front door prints it: one decimal, "54.6/100"."""
    return "not evaluated" if score is None else f"{score:.1f}/100"


@dataclass(frozen=True, slots=True)
class ScoreComponent:
    """One penalty of the score: `measure` is the amount in the spec's unit (a fraction, seconds or
    a count), penalty = the spec's curve of it, split over the faults (+ unattributed); `note`
    says the amount in words with its counts ("2 more than the baseline, of 4,268 arrived")."""
    name: str
    weight: float
    scale: float
    measure: float
    penalty: float
    per_fault: dict[str, float]
    unattributed: float
    note: str = ""

    @property
    def spec(self) -> ComponentSpec:
        return SPEC[self.name]

    def describe(self) -> str:
        """"failed requests: 0.0469% of requests arrived (2 more than the baseline, of 4,268) -> -1.4 of 30"."""
        return f"{self.spec.label}: {self.amount()} -> {points_lost(self.penalty, self.weight)}"

    def amount(self) -> str:
        text = self.spec.amount_text(self.measure)
        return f"{text} ({self.note})" if self.note else text

    def to_dict(self) -> dict:
        d = nan_to_none(asdict(self))
        d.update(label=self.spec.label, unit=self.spec.unit, what=self.spec.what, amount=self.amount(),
                 curve=self.spec.curve_text())
        return d


@dataclass(frozen=True, slots=True)
class ResilienceScore:
    """score = 100 - sum of component penalties; per_fault sums each fault's shares."""
    score: float
    components: list[ScoreComponent]

    @property
    def per_fault(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.components:
            for name, p in c.per_fault.items():
                out[name] = out.get(name, 0.0) + p
        return out

    @property
    def text(self) -> str:
        return format_score(self.score)

    def describe(self) -> list[str]:
        """One line per component that cost points, in words with units (all of them when none did)."""
        costly = [c for c in self.components if c.penalty >= 0.05]
        return [c.describe() for c in costly]

    def to_dict(self) -> dict:
        return {"score": round(self.score, 3), "formula": FORMULA,
                "components": [c.to_dict() for c in self.components],
                "per_fault": {k: round(v, 6) for k, v in self.per_fault.items()}}
