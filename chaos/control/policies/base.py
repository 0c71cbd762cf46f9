"""The controller policy interface, its registry and the state the policies share.

A policy is a small class built as `CONTROLLERS.get(name)(config, plane, state)`. It reacts to
detection (`on_down`, `on_up`) and, when `tick_interval` is set, to a periodic `tick`. It acts only
through the ControlPlane and journals every action with `plane.record` at the instant it decides.

Two kinds:
* recovery policies (`kind = "recovery"`: none, restart, failover_spare, reshard) bring a replica
  marked down back; the Controller tries them in list order until one returns True from `on_down`;
* rebalancing policies (`kind = "rebalance"`: rerole, autoscale) reshape pools from observed load and
  run alongside whatever recovers the replica (their `on_down` result is ignored).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from chaos.registry import Registry

if TYPE_CHECKING:
    from chaos.control.config import ControllerConfig
    from chaos.control.plane import ControlPlane

CONTROLLERS: Registry[type["Policy"]] = Registry("controller policy")
POOLS = ("aggregated", "prefill", "decode")


class ControlState:
    """What the controller believes, shared by its policies (one per run; nothing global).

    down: replica id -> reason, for replicas detection holds down right now.
    recovering: replica id -> time it is expected to serve again after an action (math.inf while
        waiting for a repair); further down events for it are ignored until then.
    pending_role: replica id -> pool it joins (rerole, spare activation) until the plane reports it there.
    leaving: replicas deactivated and still listed by the plane.
    """

    def __init__(self) -> None:
        self.down: dict[str, str] = {}
        self.recovering: dict[str, float] = {}
        self.pending_role: dict[str, str] = {}
        self.leaving: set[str] = set()

    def in_recovery(self, replica_id: str, now: float) -> bool:
        ready = self.recovering.get(replica_id)
        if ready is None:
            return False
        if now < ready:
            return True
        del self.recovering[replica_id]
        return False

    def forget(self, replica_id: str) -> None:
        """A replica left the active set or starts afresh (failover, activation): drop beliefs about it."""
        self.down.pop(replica_id, None)
        self.recovering.pop(replica_id, None)

    def members(self, plane: "ControlPlane", pool: str) -> list[str]:
        """Replica ids of a pool as the controller plans it: the plane's list, plus ids on their way in,
        minus ids on their way out (to another pool or to the spares). Sorted."""
        for rid, role in list(self.pending_role.items()):
            if rid in plane.replicas(role):
                del self.pending_role[rid]
        listed = set(plane.replicas(pool))
        self.leaving &= set(plane.replicas())
        ids = {r for r in listed if self.pending_role.get(r, pool) == pool and r not in self.leaving}
        ids |= {r for r, role in self.pending_role.items() if role == pool}
        return sorted(ids)

    def healthy_members(self, plane: "ControlPlane", pool: str) -> list[str]:
        return [r for r in self.members(plane, pool) if r not in self.down]


class Policy:
    """Base of controller policies; subclasses override what they react to."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = "recovery"
    tick_interval: float | None = None

    def __init__(self, config: "ControllerConfig", plane: "ControlPlane", state: ControlState) -> None:
        self.config = config
        self.plane = plane
        self.state = state

    @property
    def now(self) -> float:
        return float(self.plane.env.now)

    def start(self) -> None:
        """Called once when the run starts (before any event)."""

    def on_down(self, replica_id: str, reason: str, t: float) -> bool:
        """A replica was detected down at t; True when this policy acted (recovery policies)."""
        return False

    def on_up(self, replica_id: str, t: float) -> None:
        """A replica was detected up again at t."""

    def tick(self, t: float) -> None:
        """Periodic decision every tick_interval seconds (when set)."""

    def restart_when_repaired(self, replica_id: str, action: str, detail: str) -> None:
        """Wait until the replica's hardware is repaired, then restart it (back restart_time later)."""
        self.state.recovering[replica_id] = math.inf
        self.plane.env.process(self._restart_after_repair(replica_id, action, detail))

    def _restart_after_repair(self, replica_id: str, action: str, detail: str):
        yield self.plane.hardware_repaired(replica_id)
        if replica_id not in self.plane.replicas():
            self.state.recovering.pop(replica_id, None)      # failed over or deactivated meanwhile
            return
        delay = self.config.restart_time
        self.plane.restart(replica_id, delay)
        self.state.recovering[replica_id] = self.now + delay
        self.plane.record(action, [replica_id], f"{detail}; hardware repaired, serving at "
                                                f"{self.now + delay:.3f}s")
