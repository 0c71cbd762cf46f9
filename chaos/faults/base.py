"""The FAULTS registry, the common fields of every fault, and the plan records they produce.

A fault type is one pydantic model registered under its YAML `type`. It knows its target (what a
selector picks and what that becomes on the graph), its effect on the healthy fleet (for dry runs
and the journal) and the two FleetControl calls it makes: `apply` at the start of an occurrence and
`revert` at its end. Plans are made before the run, so every random choice (selection, failure
times, repair times) is drawn here from the fault's own streams: "faults:<i>" for targets and
"fault-timing:<i>" for times, where i is the fault's index in the `faults:` list — adding a fault
never shifts another's draws, and nothing here touches the arrival streams.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from chaos.errors import did_you_mean
from chaos.faults.dist import Lifetime, RepairTime
from chaos.faults.errors import FaultError
from chaos.faults.target import (FleetControl, FleetView, TargetSpec, check_elements, check_replicas, choose,
                                 empty_selection, population)
from chaos.registry import Registry
from chaos.rng import stream
from chaos.units import format_duration, parse_duration

FAULTS: Registry[type["FaultBase"]] = Registry("fault type")


@dataclass
class PlanContext:
    """What planning one fault needs: the healthy fleet, the run's seed and horizon, the fault's index."""

    view: FleetView
    seed: int
    horizon_s: Optional[float]
    index: int
    rng: np.random.Generator = field(init=False)          # targets: stream "faults:<i>"
    timing_rng: np.random.Generator = field(init=False)   # failure/repair times: stream "fault-timing:<i>"

    def __post_init__(self) -> None:
        self.rng = stream(self.seed, f"faults:{self.index}")
        self.timing_rng = stream(self.seed, f"fault-timing:{self.index}")

    @property
    def field(self) -> str:
        return f"faults[{self.index}]"

    @property
    def end_s(self) -> float:
        return math.inf if self.horizon_s is None else float(self.horizon_s)


@dataclass(frozen=True, slots=True)
class PlannedFault:
    """One occurrence of a fault with resolved targets and times (seconds from the start of the run).

    `end_s` is the horizon (or inf without one) for a permanent fault; `end_s == start_s` for an
    instant one (a software crash). Replicas lost/degraded are read off the healthy fabric with this
    occurrence's targets removed (chaos.topology.blast_radius); the run's live effect can be smaller
    when something is already down.
    """

    index: int                        # position in the scenario's faults: list
    type: str
    occurrence: int                   # 0, 1, ... per fault (repeats, failure-process events)
    target_kind: str                  # gpu | host | rack | nic | switch | link | replica | fleet
    targets: tuple[str, ...]
    start_s: float
    end_s: float
    permanent: bool
    replicas_lost: tuple[str, ...]
    replicas_degraded: tuple[str, ...]
    cause: str                        # "faults[2] gpu_crash" (+ ": hbm" for random_failures)
    detail: str = ""
    seed: int = 0
    config: Optional["FaultBase"] = field(default=None, compare=False, repr=False)

    @property
    def replicas_affected(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.replicas_lost) | set(self.replicas_degraded)))

    def apply(self, fleet: FleetControl) -> None:
        self.config.apply(fleet, self)

    def revert(self, fleet: FleetControl) -> None:
        self.config.revert(fleet, self)

    def to_dict(self) -> dict:
        """JSON-ready record for the journal's `faults` list (inf end -> None)."""
        return {"index": self.index, "type": self.type, "occurrence": self.occurrence,
                "cause": self.cause, "target_kind": self.target_kind, "targets": list(self.targets),
                "start_s": self.start_s, "end_s": None if math.isinf(self.end_s) else self.end_s,
                "permanent": self.permanent, "replicas_lost": list(self.replicas_lost),
                "replicas_degraded": list(self.replicas_degraded),
                "replicas_affected": list(self.replicas_affected), "detail": self.detail,
                "params": self.config.params() if self.config is not None else {}}


def _duration_or_none(v: Any) -> Any:
    return None if v is None else parse_duration(v)


def _whole(v: Any, name: str) -> Any:
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise ValueError(f"expected a whole number of {name} but got {v!r}")
    return v


class FaultBase(BaseModel):
    """Fields every fault has: `type` (its registry name), `at` (seconds from the start) and a note."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    at: float = 0.0
    """Seconds from the start of the run ("10m"); for failure processes, when the process starts."""
    description: str = ""

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, v: Any) -> Any:
        return parse_duration(v)

    def plan(self, ctx: PlanContext) -> list[PlannedFault]:
        raise NotImplementedError

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        raise NotImplementedError

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        """Undo `apply` at the end of the occurrence (nothing by default)."""

    def params(self) -> dict:
        """The type's own parameters for the journal (factor, silent, fraction...)."""
        return {}

    def check_start(self, ctx: PlanContext, start_s: float, where: str = "at") -> None:
        if ctx.horizon_s is not None and start_s >= ctx.horizon_s:
            raise FaultError(f"starts at {format_duration(start_s)}, not before the end of the run at "
                             f"{format_duration(ctx.horizon_s)}: move it earlier or lengthen the scenario's duration",
                             field=f"{ctx.field}.{where}")


class TimedFault(FaultBase):
    """A fault with a target and a timing: `at` + `duration` (+ `repeat`/`every`), or a failure process
    `mtbf` (per component) + `repair`. `duration` omitted = permanent until the end of the run."""

    target: Optional[TargetSpec] = None
    duration: Optional[float] = None
    """Seconds each occurrence lasts; None = until the end of the run."""
    repeat: Optional[int] = None
    """Occurrences in all (default 1; with `every` and no repeat: until the end of the run)."""
    every: Optional[float] = None
    """Seconds from one occurrence's start to the next."""
    mtbf: Optional[Lifetime] = None
    """Mean time between failures of each targeted component (exponential, or weibull with shape)."""
    repair: Optional[RepairTime] = None
    """How long each failure of an mtbf process lasts; None = failures are permanent."""

    explicit_keys: ClassVar[tuple[str, ...]] = ()      # which explicit target keys the type takes
    selector_unit: ClassVar[Optional[str]] = "replica"  # what a selector picks (None: no selectors)
    takes_target: ClassVar[bool] = True
    allows_mtbf: ClassVar[bool] = True
    target_kind: ClassVar[str] = "replica"              # what `targets` hold once resolved

    _durations = field_validator("duration", "every", mode="before")(_duration_or_none)

    @field_validator("repeat", mode="before")
    @classmethod
    def _repeat(cls, v: Any) -> Any:
        return _whole(v, "occurrences")

    @model_validator(mode="after")
    def _timing(self) -> "TimedFault":
        name = self.type
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration: expected a positive duration like \"2m\" (or omit it: permanent) "
                             f"but got {self.duration!r}")
        if self.repeat is not None and self.repeat < 1:
            raise ValueError(f"repeat: expected a whole number >= 1 but got {self.repeat!r}")
        if self.every is not None and not self.every > 0:
            raise ValueError(f"every: expected a positive duration like \"10m\" but got {self.every!r}")
        if self.mtbf is not None:
            if not self.allows_mtbf:
                raise ValueError(f"mtbf: {name} is not a failure process; use at, duration, repeat and every")
            for key in ("duration", "repeat", "every"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: mtbf starts a failure process per component; set how long "
                                     f"each failure lasts with repair:, not {key}:")
        elif self.repair is not None:
            raise ValueError("repair: applies to an mtbf failure process; for a scheduled fault use duration:")
        else:
            if (self.repeat or 1) > 1 and self.every is None:
                raise ValueError(f"every: repeat: {self.repeat} needs every: (time between starts, like \"10m\")")
            if self.duration is None and (self.every is not None or (self.repeat or 1) > 1):
                raise ValueError("duration: a fault without duration lasts until the end of the run, so it "
                                 "cannot repeat; set duration:")
            if self.every is not None and self.duration is not None and self.every < self.duration:
                raise ValueError(f"every: occurrences would overlap: every ({format_duration(self.every)}) "
                                 f"is shorter than duration ({format_duration(self.duration)})")
        self._check_target()
        return self

    def _check_target(self) -> None:
        t = self.target
        if t is None:
            if self.takes_target:
                raise ValueError(f"target: {self.type} needs a target: {self.target_help()}")
            return
        if not self.takes_target:
            raise ValueError(f"target: {self.type} acts on the whole fleet and takes no target")
        explicit = t.explicit(takes_rack="rack" in self.explicit_keys)
        if explicit is not None and explicit[0] not in self.explicit_keys:
            raise ValueError(f"target.{explicit[0]}: {self.type} does not take {explicit[0]} ids; "
                             f"it takes {self.target_help()}")
        if explicit is None and self.selector_unit is None:
            raise ValueError(f"target: {self.type} takes {self.target_help()}, not a selector")

    @classmethod
    def target_help(cls) -> str:
        keys = [f"{k}:" for k in cls.explicit_keys]
        if cls.selector_unit:
            keys.append("a selector (role, rack, pool, mode, value)")
        return ", ".join(keys[:-1]) + (" or " if len(keys) > 1 else "") + keys[-1]

    # -- targets --------------------------------------------------------------------------------
    def resolve(self, ctx: PlanContext) -> tuple[str, ...]:
        """The ids this occurrence acts on (kind `target_kind`); () for an empty selection with on_empty: skip."""
        spec = self.target
        if spec is None:
            return ()
        field = f"{ctx.field}.target"
        explicit = spec.explicit(takes_rack="rack" in self.explicit_keys)
        if explicit is not None:
            key, ids = explicit
            ids = check_replicas(ctx.view, ids, field) if key == "replica" else check_elements(ctx.view, key, ids, field)
            return tuple(dict.fromkeys(self.expand(ctx, key, ids)))
        units = population(ctx.view, spec, self.selector_unit, field)
        chosen = choose(units, spec, ctx.rng)
        if not chosen:
            if spec.on_empty == "skip":
                return ()
            raise empty_selection(ctx.view, spec, self.selector_unit, len(units), field)
        return tuple(dict.fromkeys(self.expand(ctx, self.selector_unit, chosen)))

    def expand(self, ctx: PlanContext, key: str, ids: list[str]) -> list[str]:
        """Turn checked ids of kind `key` into `target_kind` ids (identity by default)."""
        return list(ids)

    def kind_for(self, view: FleetView, targets: tuple[str, ...]) -> str:
        """The kind of the resolved ids, for the journal (the class's `target_kind` by default)."""
        return self.target_kind

    def effect(self, view: FleetView, targets: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(replicas lost, replicas degraded) on the healthy fleet; default: the targets are replicas, lost."""
        return tuple(sorted(targets)), ()

    # -- timing ---------------------------------------------------------------------------------
    def starts(self, ctx: PlanContext) -> list[float]:
        """Start times of a scheduled (non-mtbf) fault; checks they fall inside the run."""
        self.check_start(ctx, self.at)
        if self.every is None:
            return [self.at]
        if self.repeat is None:
            if ctx.horizon_s is None:
                raise FaultError("every: without repeat: repeats until the end of the run, but the run has "
                                 "no duration; set repeat: or the scenario's duration:", field=f"{ctx.field}.every")
            n = int(math.floor((ctx.horizon_s - self.at) / self.every - 1e-9)) + 1
            return [self.at + k * self.every for k in range(n)]
        out = [self.at + k * self.every for k in range(self.repeat)]
        if ctx.horizon_s is not None and out[-1] >= ctx.horizon_s:
            fits = sum(1 for s in out if s < ctx.horizon_s)
            raise FaultError(f"occurrence {self.repeat} would start at {format_duration(out[-1])}, after the "
                             f"end of the run at {format_duration(ctx.horizon_s)}: only {fits} fit; lower "
                             f"repeat: or every:", field=f"{ctx.field}.repeat")
        return out

    def failure_windows(self, ctx: PlanContext) -> list[tuple[float, float]]:
        """(fail, repaired) times of one component's renewal process from `at` to the horizon."""
        out, t, rng = [], self.at, ctx.timing_rng
        while True:
            t += self.mtbf.sample(rng)
            if t >= ctx.horizon_s:
                return out
            if self.repair is None:
                out.append((t, math.inf))
                return out
            down = self.repair.sample(rng)
            out.append((t, t + down))
            t += down

    def plan(self, ctx: PlanContext) -> list[PlannedFault]:
        if self.mtbf is not None:
            if ctx.horizon_s is None:
                raise FaultError("mtbf: a failure process runs until the end of the run, but the run has no "
                                 "duration; set the scenario's duration:", field=f"{ctx.field}.mtbf")
            self.check_start(ctx, self.at)
            windows = [(comp, s, e) for comp in self.resolve(ctx) for s, e in self.failure_windows(ctx)]
            return [self.planned(ctx, k, (comp,), s, ctx.end_s if math.isinf(e) else e, math.isinf(e))
                    for k, (comp, s, e) in enumerate(windows)]
        out = []
        for k, start in enumerate(self.starts(ctx)):
            targets = self.resolve(ctx)
            if not targets:
                continue
            if self.duration is None:
                out.append(self.planned(ctx, k, targets, start, ctx.end_s, True))
            else:
                out.append(self.planned(ctx, k, targets, start, start + self.duration, False))
        return out

    def planned(self, ctx: PlanContext, k: int, targets: tuple[str, ...], start: float, end: float,
                permanent: bool, detail: str = "") -> PlannedFault:
        key = (ctx.index, targets)
        if key not in ctx.view.effects:
            ctx.view.effects[key] = self.effect(ctx.view, targets)
        lost, degraded = ctx.view.effects[key]
        return PlannedFault(ctx.index, self.type, k, self.kind_for(ctx.view, targets), targets, float(start), float(end),
                            permanent, lost, degraded, f"{ctx.field} {self.type}", detail, ctx.seed, self)


def element_effect(view: FleetView, elements: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Blast radius of failing `elements` together: each removed in turn, lost and degraded replicas unioned."""
    key = ("elements", elements)
    if key in view.effects:
        return view.effects[key]
    work = view.faulted
    lost: set[str] = set()
    degraded: set[str] = set()
    failed: list[str] = []
    try:
        for element in elements:
            br, _ = work.fail_with_radius(element, view.placements)
            failed.append(element)
            lost.update(br.replicas_lost)
            degraded.update(br.replicas_degraded)
    finally:
        for element in reversed(failed):
            work.repair(element)          # back to healthy for the next question
    view.effects[key] = tuple(sorted(lost)), tuple(sorted(degraded - lost))
    return view.effects[key]


def suggest_type(value: Any) -> str:
    """" (did you mean gpu_crash?)" for a misspelled fault type."""
    return did_you_mean(value, FAULTS.names())
