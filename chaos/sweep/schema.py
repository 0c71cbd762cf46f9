"""The sweep file schema (pydantic): a base scenario, axes over its fields, constraints, seeds, and what
to conclude (`slo:`, `budget:`, `analysis:`). Loading with file:line errors lives in chaos.sweep.load.

```yaml
name: tp-shapes
base: ../fleet.yaml                 # or the scenario inline: base: {name: ..., deployment: ..., ...}
set: {duration: 3m}                 # fixed overrides on the base, applied to every point
axes:                               # the grid is the product of the axes (in file order)
  deployment.tp: [2, 4, 8]
  faults[0].target.value: {from: 1, to: 3}       # a range: from, to (inclusive), step (default 1)
zip:                                # each group is one axis whose fields move together
  - {deployment.tp: [2, 4, 8], deployment.replicas: [8, 4, 2]}
constraints: ["total_gpus <= 32"]   # chaos.sweep.expr: a safe expression language over field paths
sample: 50                          # a seeded random sample of the grid (after constraints)
sample_seed: 0
seeds: 3                            # 3 seeds from the base's seed up, or a list: [1, 2, 3]
slo: {ttft_p99: 2s, tpot_p99: 100ms}   # for the recommendation (chaos.sweep.metrics names)
budget: {gpus: 32}
analysis: {fronts: [[ttft_p99, throughput_per_gpu]], curves: [{axis: faults[0].target.value}],
           cliff: {factor: 2, steepness: 4}}
```
"""
from __future__ import annotations

from typing import Annotated, Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import expected_one_of
from chaos.sweep.metrics import METRICS

DEFAULT_FRONTS = (("ttft_p99", "throughput_per_gpu"), ("tpot_p99", "throughput_per_gpu"))
DEFAULT_CURVE_METRICS = ("ttft_p99", "tpot_p99", "throughput_per_gpu")
MAX_POINTS = 100_000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RangeSpec(_Section):
    """`{from: 1, to: 8, step: 1}`: from, from+step, ... up to and including `to`."""
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: float = Field(alias="from")
    to: float
    step: float = 1

    @model_validator(mode="after")
    def _direction(self) -> "RangeSpec":
        if self.step == 0:
            raise ValueError("step: expected a non-zero number but got 0")
        if (self.to - self.from_) * self.step < 0:
            raise ValueError(f"step: {self.step:g} never gets from {self.from_:g} to {self.to:g}")
        if (self.to - self.from_) / self.step + 1 > MAX_POINTS:
            raise ValueError(f"the range has more than {MAX_POINTS} values; use a larger step")
        return self

    def values(self) -> list:
        """The values, ints when from and step are whole numbers."""
        n = int((self.to - self.from_) / self.step + 1e-9) + 1
        whole = float(self.from_).is_integer() and float(self.step).is_integer()
        out = [self.from_ + i * self.step for i in range(n)]
        return [int(v) for v in out] if whole else [round(v, 12) for v in out]


AxisValues = Annotated[Union[list, RangeSpec], Field(union_mode="left_to_right")]


def _check_values(values: Any) -> Any:
    if isinstance(values, list) and not values:
        raise ValueError("expected a non-empty list of values or a range {from, to, step}")
    return values


class CliffSettings(_Section):
    """The cliff rule (chaos.sweep.curves): a step of an intensity axis is a cliff when the metric gets
    worse by at least `factor` in that one step AND that step's log-degradation is at least `steepness`
    times the largest step before it on the same curve."""
    factor: float = Field(2.0, gt=1.0)
    steepness: float = Field(4.0, ge=1.0)


class CurveSpec(_Section):
    """One resilience curve family: `metrics` along intensity `axis`, one curve per other-axes configuration."""
    axis: str
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_CURVE_METRICS), min_length=1)

    @field_validator("metrics")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for i, name in enumerate(v):
            if name not in METRICS:
                raise ValueError(f"[{i}]: {expected_one_of(name, METRICS)}")
        return v


class AnalysisConfig(_Section):
    """`analysis:` — which fronts and curves to draw and the cliff rule's thresholds."""
    fronts: list[tuple[str, str]] = Field(default_factory=lambda: [tuple(f) for f in DEFAULT_FRONTS])
    """Pairs [x, y] of metric names; each gets a Pareto front."""
    curves: Optional[list[CurveSpec]] = None
    """Resilience curves; omitted = one per axis under `faults` (the fault intensities)."""
    cliff: CliffSettings = Field(default_factory=CliffSettings)
    conditions: Optional[list[str]] = None
    """Axes that are conditions to survive (load, faults) rather than choices; the recommendation judges a
    configuration across all of them. Omitted = every axis under `faults` or `workload`."""

    @field_validator("fronts")
    @classmethod
    def _known(cls, v: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for i, pair in enumerate(v):
            for name in pair:
                if name not in METRICS:
                    raise ValueError(f"[{i}]: {expected_one_of(name, METRICS)}")
            if pair[0] == pair[1]:
                raise ValueError(f"[{i}]: a front needs two different metrics but got {list(pair)}")
        return v


class BudgetConfig(_Section):
    """`budget:` — the most GPUs a recommended configuration may hold (spares included)."""
    gpus: int = Field(ge=1)


def _budget_input(value: Any) -> Any:
    return {"gpus": value} if isinstance(value, int) and not isinstance(value, bool) else value


class SweepFile(_Section):
    """A validated sweep file (see the module docstring for its shape)."""
    name: str = Field(min_length=1)
    description: str = ""
    base: Union[str, dict]
    """The base scenario: a path relative to the sweep file, or the scenario mapping inline."""
    set: dict[str, Any] = Field(default_factory=dict)
    """Fixed overrides (field path -> value) applied to every point before the axes."""
    axes: dict[str, AxisValues] = Field(default_factory=dict)
    """Field path -> a list of values or a range; the grid is their product (with the zip groups)."""
    zip: list[dict[str, list]] = Field(default_factory=list)
    """Groups of field paths whose value lists move together (same length): one axis each."""
    constraints: list[str] = Field(default_factory=list)
    """Expressions over field paths and `total_gpus`; a point is kept when every one is true."""
    sample: Optional[int] = Field(None, ge=1)
    """Keep a seeded random sample of this many points (after constraints); omitted = every point."""
    sample_seed: int = Field(0, ge=0)
    seeds: Union[int, list[int]] = 1
    """A count (seeds base.seed, base.seed+1, ...) or an explicit list; each point runs once per seed."""
    slo: dict[str, Union[float, str]] = Field(default_factory=dict)
    """Bounds for the recommendation: metric name -> its limit (a max for latencies, a min for throughput)."""
    budget: Annotated[Optional[BudgetConfig], Field(None)] = None
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        if isinstance(data, dict) and "budget" in data:
            data = {**data, "budget": _budget_input(data["budget"])}
        return data

    @field_validator("axes")
    @classmethod
    def _axes(cls, v: dict) -> dict:
        for path, values in v.items():
            try:
                _check_values(values)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
        return v

    @field_validator("zip")
    @classmethod
    def _zip(cls, v: list[dict[str, list]]) -> list[dict[str, list]]:
        for i, group in enumerate(v):
            if len(group) < 2:
                raise ValueError(f"[{i}]: a zip group moves two or more fields together but has {len(group)}")
            lengths = {path: len(values) for path, values in group.items()}
            if len(set(lengths.values())) != 1 or 0 in lengths.values():
                raise ValueError(f"[{i}]: every list of a zip group needs the same non-zero length but got "
                                 + ", ".join(f"{p}: {n}" for p, n in lengths.items()))
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: Union[int, list[int]]) -> Union[int, list[int]]:
        if isinstance(v, int) and v < 1:
            raise ValueError(f"expected a count >= 1 or a list of seeds but got {v}")
        if isinstance(v, list):
            if not v or any(s < 0 for s in v) or len(set(v)) != len(v):
                raise ValueError(f"expected a non-empty list of distinct seeds >= 0 but got {v}")
        return v

    @field_validator("slo")
    @classmethod
    def _slo(cls, v: dict) -> dict:
        from chaos.units import parse_duration
        out = {}
        for name, bound in v.items():
            if name not in METRICS:
                raise ValueError(f"{name}: {expected_one_of(name, METRICS)}")
            m = METRICS[name]
            try:
                out[name] = parse_duration(bound) if m.kind == "duration" else float(bound)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{name}: expected a {'duration like 2s' if m.kind == 'duration' else 'number'} "
                                 f"but got {bound!r} ({exc})") from None
        return out

    def axis_names(self) -> list[str]:
        """Every swept field path, in grid order (plain axes, then zip groups' fields)."""
        return [*self.axes, *(p for g in self.zip for p in g)]
