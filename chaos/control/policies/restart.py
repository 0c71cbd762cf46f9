"""`restart`: on detection, restart the replica on its own GPUs.

A stall or software fault (hardware ok) -> a fresh, empty engine serves restart_time after the
detection (`restart`). Lost hardware -> the decision is journaled (`await_repair`) and the replica is
restarted as soon as the hardware is repaired, serving restart_time after the repair (`restart`).
Always acts.
"""
from __future__ import annotations

from chaos.control.policies.base import CONTROLLERS, Policy


@CONTROLLERS.register("restart")
class Restart(Policy):
    name = "restart"

    def on_down(self, replica_id: str, reason: str, t: float) -> bool:
        plane, delay = self.plane, self.config.restart_time
        if plane.hardware_ok(replica_id):
            plane.restart(replica_id, delay)
            self.state.recovering[replica_id] = self.now + delay
            plane.record("restart", [replica_id], f"{reason}; serving at {self.now + delay:.3f}s")
        else:
            plane.record("await_repair", [replica_id], f"{reason}; hardware lost, restart once repaired")
            self.restart_when_repaired(replica_id, "restart", reason)
        return True
