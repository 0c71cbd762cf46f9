"""`rerole`: rebalance a disaggregated deployment between its prefill and decode pools.

On every detected loss or return (on_down / on_up), from the load observed over autoscale.window and
the perf model's capacity, each pool's need is computed with the planner formula (planner.py, at
autoscale.target_utilization, clamped to autoscale.<pool> bounds). Healthy replicas are counted
(replicas marked down do not serve). When one pool is starved (healthy < need) and the other has
slack (healthy > need), min(deficit, slack) replicas move from the slack pool to the starved one,
least loaded first: each is drained and serves in its new role rerole_time after it is empty
(`rerole`). Both starved, or neither: nothing moves. Aggregated deployments: never acts.
Runs alongside the recovery policies (it does not bring the lost replica back).
"""
from __future__ import annotations

from chaos.control.policies.base import CONTROLLERS, Policy
from chaos.control.policies.planner import pool_need

_OTHER = {"prefill": "decode", "decode": "prefill"}


@CONTROLLERS.register("rerole")
class Rerole(Policy):
    name = "rerole"
    kind = "rebalance"

    _tp: dict[str, int] | None = None

    def start(self) -> None:
        """Remember each pool's TP (for capacity if a pool is ever empty) and whether it is disaggregated."""
        self._tp = {p: self.plane.tp_of(ids[0]) for p in ("prefill", "decode")
                    if (ids := self.plane.replicas(p))}

    def on_down(self, replica_id: str, reason: str, t: float) -> bool:
        return self.rebalance(f"{replica_id} down ({reason})")

    def on_up(self, replica_id: str, t: float) -> None:
        self.rebalance(f"{replica_id} up")

    def rebalance(self, cause: str) -> bool:
        """Move replicas toward the starved pool; True when any moved."""
        plane, state, auto = self.plane, self.state, self.config.autoscale
        if self._tp is None:
            self.start()
        if len(self._tp) < 2:
            return False
        load = plane.load(auto.window_s)
        healthy = {p: state.healthy_members(plane, p) for p in _OTHER}
        need, why = {}, {}
        for p in _OTHER:
            ids = state.members(plane, p)
            tp = plane.tp_of(ids[0]) if ids else self._tp[p]
            need[p], why[p] = pool_need(plane, load, p, tp, auto.target_utilization, auto.bounds(p))
        for starved, donor in _OTHER.items():
            deficit = need[starved] - len(healthy[starved])
            slack = len(healthy[donor]) - need[donor]
            if deficit > 0 and slack > 0:
                n = min(deficit, slack)
                movable = [r for r in healthy[donor] if r not in state.pending_role]
                movable.sort(key=lambda r: (load.outstanding.get(r, 0), r))
                for rid in movable[:n]:
                    plane.rerole(rid, starved, self.config.rerole_time)
                    state.pending_role[rid] = starved
                    plane.record("rerole", [rid],
                                 f"{cause}: {donor} -> {starved}; {starved} has {len(healthy[starved])} "
                                 f"healthy, needs {need[starved]} ({why[starved]}); {donor} has "
                                 f"{len(healthy[donor])}, needs {need[donor]}; serving "
                                 f"{self.config.rerole_time:g}s after draining")
                return bool(movable[:n])
        return False
