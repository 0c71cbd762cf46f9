"""random_failures: a fleet-wide failure process for soak runs, calibrated on a large real fleet.

Defaults from the Llama 3 report (Dubey et al. 2024, "The Llama 3 Herd of Models", section 3.3.4 and
Table 5): 419 unexpected interruptions in 54 days of pre-training on 16,384 H100 GPUs, i.e.

    419 / (54 d x 24 h x 16,384 GPUs) = 1.97e-5 failures per GPU-hour  (MTBF ~50,700 h ~ 5.8 years per GPU)

which on that fleet is one interruption every ~3.1 hours, and on a 32-GPU fleet one every ~66 days —
hence `acceleration`, a multiplier of the rate (1000 on 32 GPUs gives ~0.63 failures per hour).
Root causes (Table 5 shares, rounded): faulty GPU 30% (148), GPU HBM3 17% (72), software bugs 13%
(54), network switch/cable 8% (35); the other 32% (unplanned host maintenance, GPU SRAM and system
processor, NIC, PSU, CPU, memory, SSD...) are modelled as a host loss. What each cause does here:

    gpu       the GPU fails (fail_element(gpu)), repaired after repair.gpu
    hbm       an uncorrectable HBM error: the GPU needs a reset, so it fails likewise (repair.hbm)
    network   the GPU's NIC cable (nic--leaf) fails (repair.network)
    software  the replica on that GPU crashes (crash_replica); hardware is fine, the controller
              restarts it — no repair step (on a GPU holding no replica it hits nothing)
    host      the GPU's host fails (repair.host)

Failures are a Poisson process over the whole fleet (the superposition of every GPU's exponential
failures): rate = per_gpu_rate x GPUs x acceleration, times from "fault-timing:<i>", the GPU and
cause of each from "faults:<i>". The report gives no repair times: the defaults below are
assumptions (set your own).
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, Optional

from pydantic import field_validator, model_validator

from chaos.errors import expected_one_of
from chaos.faults.base import FAULTS, FaultBase, PlanContext, PlannedFault, element_effect
from chaos.faults.dist import RepairTime
from chaos.faults.errors import FaultError
from chaos.faults.target import FleetControl
from chaos.units import format_duration, parse_duration, parse_rate

LLAMA3_INTERRUPTIONS = 419
LLAMA3_DAYS = 54
LLAMA3_GPUS = 16_384
LLAMA3_RATE_PER_GPU_S = LLAMA3_INTERRUPTIONS / (LLAMA3_DAYS * 86_400 * LLAMA3_GPUS)
"""5.48e-9 failures per GPU-second = 1.97e-5 per GPU-hour."""
LLAMA3_MIX = {"gpu": 0.30, "hbm": 0.17, "network": 0.08, "software": 0.13, "host": 0.32}
DEFAULT_REPAIR_S = {"gpu": 4 * 3600.0, "hbm": 4 * 3600.0, "network": 3600.0, "host": 2 * 3600.0}
"""Assumed repair times: drain + reset/replace + burn-in for a GPU, a cable swap, a host reboot/repair."""
CAUSES = tuple(LLAMA3_MIX)
_WHAT = {"gpu": "faulty GPU", "hbm": "uncorrectable HBM error", "network": "NIC cable (switch/cable fault)",
         "software": "software crash", "host": "host failure (maintenance, PSU, CPU, memory...)"}


@FAULTS.register("random_failures")
class RandomFailures(FaultBase):
    """`{type: random_failures, acceleration: 1000, repair: {gpu: 30m, host: 1h}}` — every field optional."""

    type: Literal["random_failures"] = "random_failures"
    duration: Optional[float] = None
    """Seconds the process runs from `at`; None = until the end of the run."""
    acceleration: float = 1.0
    """Multiplier of the failure rate, so a short run sees failures (1 = the Llama 3 fleet's rate)."""
    per_gpu_rate: float = LLAMA3_RATE_PER_GPU_S
    """Failures per GPU per second before acceleration ("2e-5/h" accepted)."""
    mix: dict[str, float] = dict(LLAMA3_MIX)
    """Weights of the causes, normalised: gpu, hbm, network, software, host (a mix you give replaces the
    default whole: causes it leaves out get weight 0)."""
    repair: dict[str, RepairTime] = {}
    """Repair time per cause (gpu, hbm, network, host); missing causes use DEFAULT_REPAIR_S."""

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("acceleration", mode="before")
    @classmethod
    def _acceleration(cls, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
            raise ValueError(f"expected a positive rate multiplier like 1000 but got {v!r}")
        return float(v)

    @field_validator("per_gpu_rate", mode="before")
    @classmethod
    def _rate(cls, v: Any) -> Any:
        rate = parse_rate(v)
        if not rate > 0:
            raise ValueError(f'expected a positive rate like "2e-5/h" but got {v!r}')
        return rate

    @field_validator("mix", mode="before")
    @classmethod
    def _mix(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError(f"expected a mapping of cause to weight like {{gpu: 0.3, host: 0.7}} but got {v!r}")
        for cause, weight in v.items():
            if cause not in CAUSES:
                raise ValueError(f"{cause}: unknown cause: {expected_one_of(cause, CAUSES)}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (weight >= 0 and math.isfinite(weight)):
                raise ValueError(f"{cause}: expected a weight >= 0 but got {weight!r}")
        if not sum(v.values()) > 0:
            raise ValueError(f"expected at least one positive weight but got {v!r}")
        return {c: float(w) for c, w in v.items()}

    @field_validator("repair", mode="before")
    @classmethod
    def _repair(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            raise ValueError(f"expected a mapping of cause to repair time like {{gpu: 2h, network: 30m}} but got {v!r}")
        for cause in v:
            if cause not in DEFAULT_REPAIR_S:
                extra = " (a software crash has no repair: the controller restarts the replica)" \
                    if cause == "software" else ""
                raise ValueError(f"{cause}: unknown cause: {expected_one_of(cause, DEFAULT_REPAIR_S)}{extra}")
        return v

    @model_validator(mode="after")
    def _positive_duration(self) -> "RandomFailures":
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration: expected a positive duration but got {self.duration!r}")
        return self

    def params(self) -> dict:
        return {"acceleration": self.acceleration, "per_gpu_rate_per_h": self.per_gpu_rate * 3600,
                "mix": self.weights(), "repair_mean_s": {c: self.repair_time(c).mean_s for c in DEFAULT_REPAIR_S}}

    def weights(self) -> dict[str, float]:
        total = sum(self.mix.values())
        return {c: self.mix.get(c, 0.0) / total for c in CAUSES}

    def repair_time(self, cause: str) -> RepairTime:
        return self.repair.get(cause) or RepairTime.model_validate(DEFAULT_REPAIR_S[cause])

    def fleet_rate(self, n_gpus: int) -> float:
        """Failures per second over `n_gpus` GPUs, acceleration included."""
        return self.per_gpu_rate * n_gpus * self.acceleration

    def plan(self, ctx: PlanContext) -> list[PlannedFault]:
        if ctx.horizon_s is None and self.duration is None:
            raise FaultError("random_failures runs until the end of the run, but the run has no duration; set "
                             "duration: here or in the scenario", field=f"{ctx.field}.duration")
        self.check_start(ctx, self.at)
        end = self.at + self.duration if self.duration is not None else ctx.end_s
        end = min(end, ctx.end_s)
        view = ctx.view
        gpus = view.fabric.gpus()
        weights = self.weights()
        p = [weights[c] for c in CAUSES]
        rate = self.fleet_rate(len(gpus))
        out: list[PlannedFault] = []
        t = self.at
        while True:
            t += float(ctx.timing_rng.exponential(1.0 / rate))
            if t >= end:
                return out
            gpu = gpus[int(ctx.rng.integers(len(gpus)))]
            cause = CAUSES[int(ctx.rng.choice(len(CAUSES), p=p))]
            out.append(self._event(ctx, len(out), t, gpu, cause))

    def _event(self, ctx: PlanContext, k: int, t: float, gpu: str, cause: str) -> PlannedFault:
        view = ctx.view
        node = view.node(gpu)
        detail = f"{cause}: {_WHAT[cause]} on {gpu}"
        if cause == "software":
            replica = view.replica_of_gpu(gpu)
            if replica is not None and view.by_id[replica].role == "spare":
                replica = None
            targets = (replica,) if replica else ()
            if not replica:
                detail += " (no replica there: nothing crashes)"
            return PlannedFault(ctx.index, self.type, k, "replica", targets, t, t, False, targets, (),
                                f"{ctx.field} {self.type}: {cause}", detail, ctx.seed, self)
        kind, element = {"gpu": ("gpu", gpu), "hbm": ("gpu", gpu), "host": ("host", node["host"]),
                         "network": ("link", f"{node['nic']}--{node['rack']}/leaf")}[cause]
        if kind == "link":
            u, _, v = element.partition("--")
            element = "--".join(sorted((u, v)))
        down = self.repair_time(cause).sample(ctx.timing_rng)
        lost, degraded = element_effect(view, (element,))
        detail += f", repaired after {format_duration(down)}"
        return PlannedFault(ctx.index, self.type, k, kind, (element,), t, t + down, False, lost, degraded,
                            f"{ctx.field} {self.type}: {cause}", detail, ctx.seed, self)

    def apply(self, fleet: FleetControl, pf: PlannedFault) -> None:
        for target in pf.targets:
            if pf.target_kind == "replica":
                fleet.crash_replica(target, pf.cause)
            else:
                fleet.fail_element(target, pf.cause)

    def revert(self, fleet: FleetControl, pf: PlannedFault) -> None:
        if pf.target_kind != "replica":
            for target in pf.targets:
                fleet.repair_element(target, pf.cause)
