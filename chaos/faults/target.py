"""What a fault aims at: explicit fabric/replica ids or a Chaos Mesh style selector, and the fleet it acts on.

`target:` forms (each explicit key takes one id or a list):
  explicit  {gpu: rack0/host1/gpu3} {host: rack0/host1} {rack: rack0} {nic: rack0/host1/nic3}
            {switch: rack0/leaf | spine0 | rack0/host1/nvswitch} {link: "rack0/leaf--spine0"} {replica: decode-0}
  selector  {role: prefill|decode|aggregated|spare, rack: rack0, pool: <same values as role>,
             mode: one|all|fixed|fixed-percent|random-max-percent, value: n}
  both      on_empty: error|skip  (what an empty selection does; default error)
`{rack: X}` alone is an explicit rack for faults that take racks (rack_failure, network_partition,
scheduler_stall...) and otherwise a selector filter ("the replicas in rack X").

Selector modes follow Chaos Mesh (pkg/selector/pod): one = one at random; all; fixed = `value` at
random (all when fewer); fixed-percent = floor(len * value / 100) at random; random-max-percent =
floor(len * p / 100) with p drawn uniformly from 0..value. `mode` defaults to one. The selector
picks *units* (replicas, hosts, racks or leaf switches, depending on the fault type) among those
matching role/pool/rack, in fabric order, with the fault's "faults" stream; spares are only picked
with role: spare.

`FleetControl` is the only thing a fault touches at run time: a Protocol implemented by chaos.sim.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Protocol, Sequence

import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from chaos.errors import TopologyError, did_you_mean, expected_one_of
from chaos.faults.errors import FaultError
from chaos.topology import BlastRadius, Fabric, Placement, link_id
from chaos.topology.faulted import FaultedFabric

MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")
ROLES = ("prefill", "decode", "aggregated", "spare")
EXPLICIT_KEYS = ("gpu", "host", "rack", "nic", "switch", "link", "replica")
ELEMENT_KINDS = {"gpu": ("gpu",), "host": ("host",), "rack": ("rack",), "nic": ("nic",),
                 "switch": ("leaf", "spine", "nvswitch"), "link": ("link",)}


class FleetControl(Protocol):
    """The levers a fault may pull; implemented by the simulation (chaos.sim), faked in tests.

    Every call carries `cause` ("faults[2] gpu_crash") for the journal and for request failure reasons.
    Calls may overlap on one element or replica (two faults, or a host failing under a failed GPU):
    the implementation counts them, so each fail/degrade/stall/... is undone by its own repair/restore.
    """

    env: simpy.Environment
    fabric: Fabric
    placements: Mapping[str, Placement]          # replica id -> placement (incl. spares)

    def fail_element(self, element: str, cause: str) -> BlastRadius: ...   # gpu/host/rack/nic/switch/link
    def repair_element(self, element: str, cause: str) -> None: ...
    def degrade_link(self, link: str, factor: float, cause: str) -> None: ...  # bandwidth x factor (0<f<=1)
    def restore_link(self, link: str, cause: str) -> None: ...
    def stall_replica(self, replica_id: str, silent: bool, cause: str) -> None: ...
    def resume_replica(self, replica_id: str, cause: str) -> None: ...
    def slow_gpu(self, gpu: str, factor: float, cause: str) -> None: ...       # straggler: factor >= 1
    def restore_gpu_speed(self, gpu: str, cause: str) -> None: ...
    def reduce_kv(self, replica_id: str, fraction_lost: float, cause: str) -> None: ...
    def restore_kv(self, replica_id: str, cause: str) -> None: ...
    def partition(self, replica_ids: Sequence[str], cause: str) -> None: ...
    def heal_partition(self, replica_ids: Sequence[str], cause: str) -> None: ...
    def add_arrivals(self, arrival_s: np.ndarray, input_tokens: np.ndarray, output_tokens: np.ndarray,
                     hash_ids: Optional[list], cause: str, tenant: Optional[np.ndarray] = None) -> None: ...  # spike
    def workload_lengths(self, tenant: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]: ...  # spike lengths
    def workload_rate(self, t0: float, t1: float, tenant: Optional[int] = None) -> float: ...  # arrivals/s in [t0, t1)
    # added with tenants (chaos.faults.tenant_faults):
    def tenant_id(self, name: str) -> int: ...                                # a tenants: name -> its id
    def workload_tenants(self) -> Optional[np.ndarray]: ...                   # tenant id per workload request
    def shift_cost(self, tenant: int, prompt_factor: float, output_factor: float, cause: str) -> None: ...
    def unshift_cost(self, tenant: int, cause: str) -> None: ...
    # added by the faults room (the software share of random_failures):
    def crash_replica(self, replica_id: str, cause: str) -> None:
        """The engine process dies (a software fault: hardware stays healthy); its requests meet their
        fate; it comes back only through the controller (restart) — the fault has no repair step."""


def _ids(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected an id or a non-empty list of ids but got {value!r}")
    return tuple(value)


class TargetSpec(BaseModel):
    """`target:` of a fault: exactly one explicit id key, or a selector (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: Optional[tuple[str, ...]] = None
    host: Optional[tuple[str, ...]] = None
    rack: Optional[tuple[str, ...]] = None
    nic: Optional[tuple[str, ...]] = None
    switch: Optional[tuple[str, ...]] = None
    link: Optional[tuple[str, ...]] = None
    replica: Optional[tuple[str, ...]] = None
    role: Optional[str] = None
    pool: Optional[str] = None
    mode: Optional[str] = None
    value: Optional[float] = None
    on_empty: Literal["error", "skip"] = "error"

    _ids = field_validator(*EXPLICIT_KEYS, mode="before")(_ids)

    @field_validator("role", "pool", mode="before")
    @classmethod
    def _role(cls, v: Any) -> Any:
        if v is not None and v not in ROLES:
            raise ValueError(expected_one_of(v, ROLES))
        return v

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        if v is not None and v not in MODES:
            raise ValueError(expected_one_of(v, MODES))
        return v

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"expected a number but got {v!r}")
        return v

    @field_validator("on_empty", mode="before")
    @classmethod
    def _on_empty(cls, v: Any) -> Any:
        if v not in ("error", "skip"):
            raise ValueError(expected_one_of(v, ("error", "skip")))
        return v

    @model_validator(mode="after")
    def _shape(self) -> "TargetSpec":
        explicit = [k for k in EXPLICIT_KEYS if k != "rack" and getattr(self, k) is not None]
        selector = [k for k in ("role", "pool", "mode", "value") if getattr(self, k) is not None]
        if len(explicit) > 1:
            raise ValueError(f"expected one kind of explicit id but got {' and '.join(explicit)}: "
                             f"use one target per fault")
        if explicit and (selector or self.rack is not None):
            other = selector + (["rack"] if self.rack is not None else [])
            raise ValueError(f"{explicit[0]}: explicit ids do not combine with selector keys "
                             f"({', '.join(other)}); give either ids or a selector")
        if not explicit and not selector and self.rack is None:
            raise ValueError("expected explicit ids (gpu, host, rack, nic, switch, link, replica) or a "
                             "selector (role, rack, pool with mode and value)")
        if self.role and self.pool and self.role != self.pool:
            raise ValueError(f"pool: pool is another name for role, but role is {self.role!r} and "
                             f"pool is {self.pool!r}")
        mode, v = self.mode_or_default, self.value
        if mode in ("one", "all") and v is not None:
            raise ValueError(f"value: mode {mode} takes no value but got value={_num(v)}")
        if mode == "fixed" and (v is None or v < 1 or v != int(v)):
            raise ValueError(f"value: mode fixed needs value: a whole number of targets >= 1 but got "
                             f"{'nothing' if v is None else _num(v)}")
        if mode in ("fixed-percent", "random-max-percent") and (v is None or not 0 < v <= 100):
            raise ValueError(f"value: mode {mode} needs value: a percentage in (0, 100] but got "
                             f"{'nothing' if v is None else _num(v)}")
        return self

    @property
    def mode_or_default(self) -> str:
        return self.mode or "one"

    @property
    def role_filter(self) -> Optional[str]:
        return self.role or self.pool

    def explicit(self, takes_rack: bool) -> Optional[tuple[str, tuple[str, ...]]]:
        """(key, ids) when the target names ids; None for a selector."""
        for key in EXPLICIT_KEYS:
            if key == "rack":
                continue
            ids = getattr(self, key)
            if ids is not None:
                return key, ids
        if takes_rack and self.rack is not None and self.role_filter is None and self.mode is None:
            return "rack", self.rack
        return None


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


@dataclass
class FleetView:
    """The healthy fleet a plan resolves against: the fabric and every placement (spares included)."""

    fabric: Fabric
    placements: tuple[Placement, ...]
    by_id: dict[str, Placement] = field(init=False)
    effects: dict = field(init=False, repr=False)   # (fault key, targets) -> (lost, degraded): blast radius is not cheap
    _faulted: Optional[FaultedFabric] = field(init=False, repr=False, default=None)
    _gpu_owner: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_id = {p.replica_id: p for p in self.placements}
        self.effects = {}
        self._gpu_owner = {}
        for p in self.placements:
            for gpu in p.gpus:
                self._gpu_owner.setdefault(gpu, p.replica_id)

    @property
    def faulted(self) -> FaultedFabric:
        """A working copy of the healthy fabric that blast radii are computed on (faults applied, then
        repaired: it is healthy between two questions)."""
        if self._faulted is None:
            self._faulted = FaultedFabric(self.fabric)
        return self._faulted

    def node(self, element: str) -> dict:
        return self.fabric.graph.nodes[element]

    def active(self) -> list[Placement]:
        return [p for p in self.placements if p.role != "spare"]

    def replicas_on(self, element: str) -> list[str]:
        """Active replicas with a GPU inside `element` (gpu, host or rack), in deployment order."""
        gpus = set(self.fabric.gpus_of(element))
        return [p.replica_id for p in self.active() if gpus.intersection(p.gpus)]

    def replica_of_gpu(self, gpu: str) -> Optional[str]:
        """The replica (spares included) whose TP group holds `gpu`, or None."""
        return self._gpu_owner.get(gpu)

    def uplinks(self, replica_id: str) -> list[str]:
        """The scale-out cables (nic--leaf) of a replica's GPUs: its all-reduce and KV-transfer path off the host."""
        out = []
        for gpu in self.by_id[replica_id].gpus:
            nic = self.node(gpu)["nic"]
            out.append(link_id(nic, f"{self.node(gpu)['rack']}/leaf"))
        return out


def check_elements(view: FleetView, key: str, ids: Sequence[str], field: str) -> list[str]:
    """Canonical ids of explicit fabric elements; TopologyError (with did-you-mean) naming `field`."""
    kinds = ELEMENT_KINDS[key]
    out = []
    for k, element in enumerate(ids):
        where = f"{field}.{key}" + (f"[{k}]" if len(ids) > 1 else "")
        try:
            kind = view.fabric.kind_of(element)
        except TopologyError as exc:
            raise TopologyError(exc.message, field=where) from None
        if kind not in kinds:
            raise TopologyError(f"{element!r} is a {kind}, but {key}: takes a {' or '.join(kinds)} id",
                                field=where)
        if kind == "link":
            u, _, v = element.partition("--")
            element = link_id(u, v)
        out.append(element)
    return out


def check_replicas(view: FleetView, ids: Sequence[str], field: str) -> list[str]:
    """Replica ids that exist in the deployment; TopologyError with did-you-mean otherwise."""
    for k, rid in enumerate(ids):
        if rid not in view.by_id:
            where = f"{field}.replica" + (f"[{k}]" if len(ids) > 1 else "")
            known = list(view.by_id)
            raise TopologyError(f"no replica {rid!r} in this deployment{did_you_mean(rid, known)}; "
                                f"replicas are {_listing(known)}", field=where)
    return list(ids)


def _listing(ids: Sequence[str], limit: int = 8) -> str:
    ids = list(ids)
    return ", ".join(ids) if len(ids) <= limit else ", ".join(ids[:limit]) + f", ... ({len(ids)} in all)"


def matching_replicas(view: FleetView, spec: TargetSpec, field: str) -> list[Placement]:
    """Placements a selector's role/pool/rack filters match, in deployment order."""
    racks = None
    if spec.rack is not None:
        racks = set(check_elements(view, "rack", spec.rack, field))
    role = spec.role_filter
    out = []
    for p in view.placements:
        if (p.role != role) if role else p.role == "spare":
            continue
        if racks is not None and not racks.intersection(view.node(g)["rack"] for g in p.gpus):
            continue
        out.append(p)
    return out


def population(view: FleetView, spec: TargetSpec, unit: str, field: str) -> list[str]:
    """The units a selector chooses among: replicas, hosts, racks or leaf switches of matching replicas."""
    reps = matching_replicas(view, spec, field)
    if unit == "replica":
        return [p.replica_id for p in reps]
    gpus = [g for p in reps for g in p.gpus]
    if unit == "host":
        return list(dict.fromkeys(view.node(g)["host"] for g in gpus))
    if unit == "rack":
        return list(dict.fromkeys(view.node(g)["rack"] for g in gpus))
    if unit == "switch":
        return list(dict.fromkeys(f"{view.node(g)['rack']}/leaf" for g in gpus))
    raise ValueError(f"unknown selector unit {unit!r}")


def choose(units: Sequence[str], spec: TargetSpec, rng: np.random.Generator) -> list[str]:
    """Apply the selector's mode to `units` (kept in their order); may return an empty list."""
    n = len(units)
    mode, v = spec.mode_or_default, spec.value
    if n == 0:
        return []
    if mode == "all":
        return list(units)
    if mode == "one":
        k = 1
    elif mode == "fixed":
        k = min(int(v), n)
    elif mode == "fixed-percent":
        k = int(np.floor(n * v / 100.0 + 1e-9))
    else:  # random-max-percent: percentage drawn from 0..value, as Chaos Mesh does
        k = int(np.floor(n * int(rng.integers(0, int(v) + 1)) / 100.0 + 1e-9))
    if k <= 0:
        return []
    picked = sorted(int(i) for i in rng.choice(n, size=k, replace=False))
    return [units[i] for i in picked]


def describe_selector(spec: TargetSpec, unit: str) -> str:
    """"decode replicas in rack0" / "hosts holding decode replicas" for empty-selection messages."""
    units = {"replica": "replicas", "host": "hosts", "rack": "racks", "switch": "leaf switches"}[unit]
    role = spec.role_filter
    if role:
        units = f"{role} {units}" if unit == "replica" else f"{units} holding {role} replicas"
    where = f" in {', '.join(spec.rack)}" if spec.rack else ""
    return f"{units}{where}"


def empty_selection(view: FleetView, spec: TargetSpec, unit: str, found: int, field: str) -> FaultError:
    """The error for a selection that came out empty (`field` is the target's path); says what exists."""
    what = describe_selector(spec, unit)
    if found:
        mode = spec.mode_or_default + (f" {_num(spec.value)}" if spec.value is not None else "")
        why = f"mode {mode} of the {found} {what} selects none"
    else:
        roles = sorted({p.role for p in view.placements})
        why = f"there are no {what}; the deployment has roles {', '.join(roles)}"
    return FaultError(f"the selector picks nothing: {why}; widen it or set on_empty: skip", field=field)
