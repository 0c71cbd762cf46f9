"""The ControlPlane (chaos.control.plane) over a live Fleet and the driver's observations.

Controllers act through this adapter only: it maps their verbs onto the fleet's levers and gives them
what a real orchestrator sees — node health, the router's observed load, perf-model capacity — never
a fault's truth.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import simpy

from chaos.control.plane import LoadSnapshot


class FleetPlane:
    """ControlPlane implementation for one run."""

    def __init__(self, fleet, driver, nodes=None) -> None:
        self.fleet = fleet
        self.driver = driver
        self.nodes = nodes            # chaos.sim.nodes.NodeLifecycle: what the control plane knows of nodes
        self.env: simpy.Environment = fleet.env

    def replicas(self, role: str | None = None) -> list[str]:
        return self.fleet.replicas_of(role)

    def role_of(self, replica_id: str) -> str:
        return self.fleet.role_of(replica_id)

    def tp_of(self, replica_id: str) -> int:
        return self.fleet.state[replica_id].placement.tp

    def hardware_ok(self, replica_id: str) -> bool:
        """Node status as the control plane has it: the device plugin reports a lost GPU at once, a dead
        host only once its node is NotReady."""
        if self.nodes is not None and self.nodes.not_ready(replica_id):
            return False
        return self.fleet.hardware_ok(replica_id)

    def hardware_repaired(self, replica_id: str) -> simpy.Event:
        """Fires when the control plane has *seen* the repair (the node's next status post), not when
        it happened."""
        truth = self.fleet.hardware_repaired(replica_id)
        return truth if self.nodes is None else self.nodes.observed(replica_id, truth)

    def eviction_delay(self, replica_id: str) -> float:
        """Seconds until the replica's pods on NotReady nodes are evicted, so a replacement can start."""
        return 0.0 if self.nodes is None else self.nodes.eviction_delay(replica_id)

    def restart(self, replica_id: str, delay_s: float) -> None:
        self.fleet.restart(replica_id, delay_s)

    def free_spares(self) -> list[str]:
        return self.fleet.free_spares()

    def failover(self, replica_id: str, spare_id: str, delay_s: float) -> None:
        self.fleet.failover(replica_id, spare_id, delay_s)

    def surviving_gpus(self, replica_id: str) -> list[str]:
        return self.fleet.surviving_gpus(replica_id)

    def reshard(self, replica_id: str, tp: int, delay_s: float) -> bool:
        return self.fleet.reshard(replica_id, tp, delay_s)

    def rerole(self, replica_id: str, role: str, delay_s: float) -> None:
        self.fleet.rerole(replica_id, role, delay_s)

    def activate_spare(self, spare_id: str, role: str, delay_s: float) -> None:
        self.fleet.activate_spare(spare_id, role, delay_s)

    def deactivate(self, replica_id: str) -> None:
        self.fleet.deactivate(replica_id)

    def load(self, window_s: float) -> LoadSnapshot:
        rows = self.driver.recent_arrivals(window_s)
        outputs = self.driver.recent_output_tokens(window_s)
        n = len(rows)
        span = min(window_s, max(self.env.now, 1e-9))
        pools = self.fleet.pools
        return LoadSnapshot(
            window_s=window_s,
            arrival_rate_per_s=n / span,
            mean_input_tokens=float(rows[:, 1].mean()) if n else 0.0,
            mean_output_tokens=float(outputs.mean()) if len(outputs) else 0.0,
            queued={role: sum(r.num_waiting for r in rs) for role, rs in pools.items()},
            outstanding={r.replica_id: r.outstanding for rs in pools.values() for r in rs},
        )

    def capacity(self, role: str, tp: int) -> float:
        rows = self.driver.recent_arrivals(300.0)
        outputs = self.driver.recent_output_tokens(300.0)
        # before any observation, a 1024-in / 256-out request (the planner's prior)
        mean_in = float(np.mean(rows[:, 1])) if len(rows) else 1024.0
        mean_out = float(np.mean(outputs)) if len(outputs) else 256.0
        return self.fleet.capacity_of(role, tp, mean_in, mean_out)

    def record(self, action: str, replica_ids: Sequence[str], detail: str = "") -> None:
        self.fleet.record(action, replica_ids, detail)
