"""`autoscale`: size each pool from observed load and the perf model, every autoscale.interval.

Each tick (the first one interval after the start) reads plane.load(autoscale.window) and computes
each pool's need with the planner formula (planner.py), clamped to autoscale.<pool> min/max. Pools
are prefill and decode for a disaggregated deployment, else aggregated. Healthy replicas (not marked
down) count, including spares already activated and still loading.

* need > healthy: activate free spares (first ones in plane.free_spares() order) until the need is
  met or spares run out; each pays a cold start of model_load_time (`scale_up`).
* need < healthy: shrink only to the largest need recommended over the last scale_down_delay
  seconds (Kubernetes HPA stabilisation), deactivating the least loaded serving replicas first
  (`scale_down`); they drain, then return to the spares. Replicas still loading are not removed.

Spares go to pools in order (prefill before decode). Runs alongside the recovery policies: a replica
marked down is not counted, so autoscale may replace it with a spare if one is free.
"""
from __future__ import annotations

from collections import deque

from chaos.control.policies.base import CONTROLLERS, Policy
from chaos.control.policies.planner import pool_need


@CONTROLLERS.register("autoscale")
class Autoscale(Policy):
    name = "autoscale"
    kind = "rebalance"

    def start(self) -> None:
        plane = self.plane
        self.tick_interval = self.config.autoscale.interval
        disagg = [p for p in ("prefill", "decode") if plane.replicas(p)]
        self.pools = disagg if disagg else ["aggregated"]
        spares = plane.free_spares()
        self._tp = {}
        for p in self.pools:
            ids = plane.replicas(p) or spares
            self._tp[p] = plane.tp_of(ids[0]) if ids else 1
        self._history: dict[str, deque[tuple[float, int]]] = {p: deque() for p in self.pools}
        self._starting: dict[str, float] = {}          # activated spare -> time it serves

    def tick(self, t: float) -> None:
        plane, state, auto = self.plane, self.state, self.config.autoscale
        now = self.now
        self._starting = {r: ready for r, ready in self._starting.items() if ready > now}
        load = plane.load(auto.window_s)
        for pool in self.pools:
            members = state.members(plane, pool)
            tp = plane.tp_of(members[0]) if members else self._tp[pool]
            need, why = pool_need(plane, load, pool, tp, auto.target_utilization, auto.bounds(pool))
            hist = self._history[pool]
            hist.append((now, need))
            while hist and hist[0][0] < now - auto.scale_down_delay:
                hist.popleft()
            healthy = [r for r in members if r not in state.down]
            have = len(healthy)
            if need > have:
                self._scale_up(pool, need - have, have, need, why)
            else:
                keep = max(n for _, n in hist)
                if keep < have:
                    self._scale_down(pool, healthy, have - keep, have, keep, why, load.outstanding)

    def _scale_up(self, pool: str, n: int, have: int, need: int, why: str) -> None:
        plane, state, delay = self.plane, self.state, self.config.model_load_time
        spares = [s for s in plane.free_spares() if s not in state.pending_role][:n]
        for s in spares:
            plane.activate_spare(s, pool, delay)
            state.forget(s)
            state.pending_role[s] = pool
            state.recovering[s] = self.now + delay
            self._starting[s] = self.now + delay
        if spares:
            plane.record("scale_up", spares, f"{pool}: {have} -> {have + len(spares)} healthy (needs {need}: "
                                             f"{why}); serving at {self.now + delay:.3f}s")

    def _scale_down(self, pool: str, healthy: list[str], n: int, have: int, keep: int, why: str,
                    outstanding) -> None:
        plane, state = self.plane, self.state
        serving = [r for r in healthy if r not in self._starting]
        serving.sort(key=lambda r: (outstanding.get(r, 0), r))
        gone = serving[:n]
        for r in gone:
            plane.deactivate(r)
            state.leaving.add(r)
            state.pending_role.pop(r, None)
        if gone:
            plane.record("scale_down", gone, f"{pool}: {have} -> {have - len(gone)} healthy (needs {keep} over "
                                             f"the last {self.config.autoscale.scale_down_delay:g}s; now {why})")
