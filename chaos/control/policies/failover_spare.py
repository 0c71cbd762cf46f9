"""`failover_spare`: on detection, a free spare takes over the replica's role.

The first group in plane.free_spares() loads the model and serves model_load_time after the
detection (`failover`) — on a NotReady node, after its pods are evicted (plane.eviction_delay); the broken replica leaves the active set at once and its group rejoins the
spare pool once its hardware is healthy (the plane does that). No free spare -> does not act, and
the next policy of the list (or `none`) handles the replica.
"""
from __future__ import annotations

from chaos.control.policies.base import CONTROLLERS, Policy


@CONTROLLERS.register("failover_spare")
class FailoverSpare(Policy):
    name = "failover_spare"

    def on_down(self, replica_id: str, reason: str, t: float) -> bool:
        plane = self.plane
        # the replacement pod is scheduled only once the old one is evicted from a NotReady node
        delay = self.config.model_load_time + plane.eviction_delay(replica_id)
        spares = [s for s in plane.free_spares() if s not in self.state.pending_role]
        if not spares:
            return False
        spare = spares[0]
        role = plane.role_of(replica_id)
        plane.failover(replica_id, spare, delay)
        self.state.forget(replica_id)
        self.state.forget(spare)
        self.state.recovering[spare] = self.now + delay
        plane.record("failover", [replica_id, spare],
                     f"{reason}; {spare} takes the {role} role, serving at {self.now + delay:.3f}s")
        return True
