"""The ControlPlane protocol: everything a controller policy may see and do (the sim implements it).

Policies never touch replicas, faults or the fabric directly. What they observe is either node-level
status a real orchestrator has (`hardware_ok`, like Kubernetes node health) or aggregate load the
router measures (`load`); what they learn about a replica's failure comes only from detection
(`Controller.on_replica_down`). Every action goes through a method below and is journaled with
`record` at the instant it is decided (the plane stamps env.now).

Contract details the controller relies on:
* `replicas(role)` lists active replicas (serving or starting up, healthy or not), never spares or
  replicas being deactivated; `free_spares()` lists idle groups that can take a role now.
* `restart(id, delay_s)`: the replica's engine is dead (or killed now) and serves again, empty, on its
  own GPUs at now + delay_s. Call it only when its hardware is ok.
* `failover(id, spare_id, delay_s)`: the spare leaves free_spares() at once and serves in id's role
  from now + delay_s; id leaves replicas() at once and its group rejoins the spare pool (fresh
  engine) when its hardware is healthy.
* `reshard(id, tp, delay_s)`: rebuild id with TP `tp` on its surviving GPUs, serving from now +
  delay_s; returns False, with no side effect, when the model does not fit at that TP.
* `rerole(id, role, delay_s)`: stop routing to id, let it drain, then switch role; it serves in the
  new role delay_s after it is empty. role_of(id) reports the new role once switched.
* `activate_spare(spare_id, role, delay_s)`: cold start (weights load) of a spare into a pool.
* `deactivate(id)`: id leaves replicas() at once, drains, then becomes a free spare.
* `capacity(kind, tp)`: tokens/s one replica of TP `tp` sustains for one kind of work: "prefill"
  (prompt tokens/s) or "decode" (output tokens/s at the deployment's batch); the controller asks only
  for these two kinds, also for aggregated pools (whose replicas split their time between both).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import simpy


@dataclass(frozen=True)
class LoadSnapshot:
    """Load the router observed over the last `window_s` seconds (what a Dynamo planner scrapes).

    arrival_rate_per_s: requests arriving at the router per second; mean_input_tokens: their mean
    prompt length; mean_output_tokens: the mean output length of the requests that *completed* in the
    window (a request's output length is unknown until it ends; Dynamo's planner likewise reads the
    average output length from the frontend's metrics of finished requests); queued: pool -> requests waiting in that pool's engine queues now; outstanding:
    replica id -> requests queued or running on it now (the controller drains the least loaded).
    """

    window_s: float
    arrival_rate_per_s: float
    mean_input_tokens: float
    mean_output_tokens: float
    queued: Mapping[str, int] = field(default_factory=dict)
    outstanding: Mapping[str, int] = field(default_factory=dict)


class ControlPlane(Protocol):
    """What controller policies may read and do; implemented by chaos.sim, faked in tests."""

    env: simpy.Environment

    def replicas(self, role: str | None = None) -> list[str]:
        """Active replica ids (not spares), of one role or all."""
    def role_of(self, replica_id: str) -> str:
        """aggregated | prefill | decode."""
    def tp_of(self, replica_id: str) -> int:
        """GPUs in the replica's (or spare's) TP group as currently built."""
    def hardware_ok(self, replica_id: str) -> bool:
        """Node-level status of the replica's GPUs and links (like Kubernetes node health)."""
    def hardware_repaired(self, replica_id: str) -> simpy.Event:
        """An event that fires when its GPUs and links are healthy again (at once if they are)."""
    def restart(self, replica_id: str, delay_s: float) -> None:
        """Fresh engine on its own GPUs after delay_s."""
    def eviction_delay(self, replica_id: str) -> float:
        """Seconds until the replica's pods on NotReady nodes are evicted (0 when none is): a replacement
        cannot start before (Kubernetes taint-based eviction)."""
    def free_spares(self) -> list[str]:
        """Idle TP groups that can take a role now, in preference order."""
    def failover(self, replica_id: str, spare_id: str, delay_s: float) -> None:
        """The spare takes the replica's role after delay_s; the broken group becomes a spare once repaired."""
    def surviving_gpus(self, replica_id: str) -> list[str]:
        """The replica's GPUs that are still healthy."""
    def reshard(self, replica_id: str, tp: int, delay_s: float) -> bool:
        """Rebuild with TP `tp` on the surviving GPUs; False (no side effect) when the model cannot fit."""
    def rerole(self, replica_id: str, role: str, delay_s: float) -> None:
        """Drain, then switch role; serves in the new role delay_s after it is empty."""
    def activate_spare(self, spare_id: str, role: str, delay_s: float) -> None:
        """Autoscale up: cold start of a spare in `role`."""
    def deactivate(self, replica_id: str) -> None:
        """Autoscale down: stop routing to it, drain, return it to the spares."""
    def load(self, window_s: float) -> LoadSnapshot:
        """Observed load over the last window_s seconds."""
    def capacity(self, role: str, tp: int) -> float:
        """Tokens/s one replica of TP `tp` sustains for "prefill" or "decode" work (perf model)."""
    def record(self, action: str, replica_ids: Sequence[str], detail: str = "") -> None:
        """Journal one controller action at env.now (journal `controller` list)."""
