"""`none`: no automation.

A replica whose hardware was lost comes back only when the hardware is repaired, restart_time after
the repair (the node's supervisor restarts the pod; journaled as `supervisor_restart`). A stalled or
unreachable replica whose hardware is fine is left alone: a stall lasts until the stall ends. It is
the implicit last resort of every policy list, so it always acts.
"""
from __future__ import annotations

from chaos.control.policies.base import CONTROLLERS, Policy


@CONTROLLERS.register("none")
class NoControl(Policy):
    name = "none"

    def on_down(self, replica_id: str, reason: str, t: float) -> bool:
        if not self.plane.hardware_ok(replica_id):
            self.restart_when_repaired(replica_id, "supervisor_restart", f"none: {reason}")
        return True
