"""`reshard`: rebuild a smaller tensor-parallel replica on the GPUs that survived.

Only when hardware was lost (hardware_ok is False; a stall or partition is not a reshard case). The
candidate TPs are the powers of two smaller than the replica's TP and no larger than its surviving
GPU count, largest first; the first one the plane accepts (the model's weights and some KV fit in
that many GPUs' HBM: the perf capacity check) is built and serves model_load_time after the
detection (`reshard`). None fits -> does not act; the next policy of the list (or `none`) handles it.
The resharded replica keeps its smaller TP after the hardware is repaired.
"""
from __future__ import annotations

from chaos.control.policies.base import CONTROLLERS, Policy


def reshard_candidates(current_tp: int, surviving: int) -> list[int]:
    """Powers of two below current_tp and at most `surviving`, largest first: (8, 5) -> [4, 2, 1]."""
    out, p = [], 1
    while p < current_tp and p <= surviving:
        out.append(p)
        p *= 2
    return out[::-1]


@CONTROLLERS.register("reshard")
class Reshard(Policy):
    name = "reshard"

    def on_down(self, replica_id: str, reason: str, t: float) -> bool:
        plane, delay = self.plane, self.config.model_load_time
        if plane.hardware_ok(replica_id):
            return False
        survivors = plane.surviving_gpus(replica_id)
        old_tp = plane.tp_of(replica_id)
        for tp in reshard_candidates(old_tp, len(survivors)):
            if plane.reshard(replica_id, tp, delay):
                self.state.recovering[replica_id] = self.now + delay
                plane.record("reshard", [replica_id],
                             f"{reason}; TP {old_tp} -> {tp} on {len(survivors)} surviving GPUs, "
                             f"serving at {self.now + delay:.3f}s")
                return True
        return False
