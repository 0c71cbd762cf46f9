"""Reconfiguration levers of the live fleet (the ControlPlane side of `Fleet`): restart, fail over to a
spare, reshard, re-role, scale, and the perf-model estimates controllers and admission control use.

A mixin of `chaos.sim.fleet.Fleet`, kept apart so each file holds one concern: fleet.py is what
faults do to the fleet, this is what controllers do about it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import simpy

from chaos.engine.events import UrgentTimeout
from chaos.errors import InputError
from chaos.perf import build_perf_model
from chaos.topology import Placement

DRAIN_POLL_S = 0.5      # how often a draining replica is checked for emptiness


@dataclass
class ActionRecord:
    """One controller action for the journal."""

    t_s: float
    action: str
    replicas: tuple[str, ...]
    detail: str = ""


class Reconfiguration:
    """Controller-facing methods of Fleet (needs its state, replicas, pools, spares, live fabric)."""

    def role_of(self, replica_id: str) -> str:
        return self.state[replica_id].role

    def hardware_ok(self, replica_id: str) -> bool:
        return not self.state[replica_id].lost_reason

    def hardware_repaired(self, replica_id: str) -> simpy.Event:
        st = self.state[replica_id]
        if not st.lost_reason:
            ev = self.env.event()
            ev.succeed()
            return ev
        if st.repaired is None:
            st.repaired = self.env.event()
        return st.repaired

    def record(self, action: str, replica_ids: Sequence[str], detail: str = "") -> None:
        self.actions.append(ActionRecord(self.env.now, action, tuple(replica_ids), detail))

    def restart(self, replica_id: str, delay_s: float) -> None:
        """Kill the engine now if it is still up (a stuck one), bring a fresh one after `delay_s`."""
        replica = self.replicas[replica_id]
        if replica.alive:
            self.kill(replica_id, "restarted by the controller")
        self.env.process(self._bring_back(replica_id, delay_s))

    def _bring_back(self, replica_id: str, delay_s: float):
        yield UrgentTimeout(self.env, delay_s)
        if not self.hardware_ok(replica_id):
            yield self.hardware_repaired(replica_id)
        replica = self.replicas[replica_id]
        if replica.alive:
            return
        st = self.state[replica_id]
        lost = replica.restart(cost=self._cost(replica_id), kv_capacity_tokens=self._kv_now(replica_id))
        if lost:
            self.on_lost(lost, replica_id, "engine restarted")
        if st.stalled:
            st.stalled = 0          # a restart clears a software stall

    def replicas_of(self, role: str | None = None) -> list[str]:
        """Active replica ids (pool members), of one role or all."""
        roles = [role] if role is not None else list(self.pools)
        return [r.replica_id for ro in roles for r in self.pools.get(ro, [])]

    def free_spares(self) -> list[str]:
        return [s for s in self.spares if self.hardware_ok(s)]

    def _retire_to_spares_when_repaired(self, replica_id: str):
        yield self.hardware_repaired(replica_id)
        self.state[replica_id].role = "spare"
        if replica_id not in self.spares:
            self.spares.append(replica_id)

    def failover(self, replica_id: str, spare_id: str, delay_s: float) -> None:
        """`spare_id` loads the model and takes `replica_id`'s role after `delay_s`; the broken group
        leaves its pool now and becomes a spare once repaired."""
        role = self.state[replica_id].role
        self.spares.remove(spare_id)
        self._leave(replica_id)
        if self.replicas[replica_id].alive:
            self.kill(replica_id, "failed over by the controller")
        self.env.process(self._retire_to_spares_when_repaired(replica_id))
        self.env.process(self._activate(spare_id, role, delay_s))

    def activate_spare(self, spare_id: str, role: str, delay_s: float) -> None:
        """A spare joins pool `role` after a cold start of `delay_s` (autoscale up)."""
        self.spares.remove(spare_id)
        self.env.process(self._activate(spare_id, role, delay_s))

    def _activate(self, spare_id: str, role: str, delay_s: float):
        yield UrgentTimeout(self.env, delay_s)
        if not self.hardware_ok(spare_id):
            yield self.hardware_repaired(spare_id)
        self._start_engine(self.state[spare_id].placement, role)

    def deactivate(self, replica_id: str) -> None:
        """Leave the pool now; once drained, stop the engine and return the GPUs to the spares."""
        self._leave(replica_id)
        self.env.process(self._drain_then(replica_id, self._to_spare))

    def _to_spare(self, replica_id: str) -> None:
        replica = self.replicas[replica_id]
        if replica.alive:
            replica.crash()
        self.state[replica_id].role = "spare"
        self.spares.append(replica_id)

    def _drain_then(self, replica_id: str, then: Callable[[str], None], min_delay_s: float = 0.0):
        """Wait `min_delay_s`, then until the replica holds no request, then call `then`."""
        yield UrgentTimeout(self.env, min_delay_s)
        replica = self.replicas[replica_id]
        while replica.alive and (replica.outstanding or replica.num_held):
            yield self.env.timeout(DRAIN_POLL_S)
        then(replica_id)

    def rerole(self, replica_id: str, role: str, delay_s: float) -> None:
        """Stop routing to the replica, let it drain, then restart it in `role` (takes >= `delay_s`)."""
        self._leave(replica_id)

        def switch(rid: str) -> None:
            self.state[rid].role = role
            self._start_engine(self.state[rid].placement, role)
        self.env.process(self._drain_then(replica_id, switch, delay_s))

    def surviving_gpus(self, replica_id: str) -> list[str]:
        return [g for g in self.state[replica_id].placement.gpus if self.live.gpu_alive(g)]

    def reshard(self, replica_id: str, tp: int, delay_s: float) -> bool:
        """Rebuild the replica at TP `tp` on its surviving GPUs after `delay_s`; False when it cannot be done
        (too few GPUs, the model does not fit at that TP, or the smaller ring has no route)."""
        survivors = self.surviving_gpus(replica_id)
        if tp < 1 or len(survivors) < tp:
            return False
        try:
            self.kv_capacity(tp)
        except InputError:
            return False
        old = self.state[replica_id].placement
        gpus = tuple(survivors[:tp])
        candidate = Placement(replica_id=replica_id, role=old.role, gpus=gpus, tp=tp, link_Bps=old.link_Bps,
                              link_latency_s=old.link_latency_s,
                              cross_host=len({self.fabric.graph.nodes[g]["host"] for g in gpus}) > 1)
        status = self.live.status(candidate)
        if not status.ok:
            return False
        new = Placement(replica_id=replica_id, role=old.role, gpus=gpus, tp=tp, link_Bps=status.link_Bps,
                        link_latency_s=status.link_latency_s, cross_host=candidate.cross_host)
        replica = self.replicas[replica_id]
        if replica.alive:
            self.kill(replica_id, "resharded by the controller")

        def rebuild():
            yield UrgentTimeout(self.env, delay_s)
            st = self.state[replica_id]
            st.placement = new
            st.lost_reason = ""
            lost = self.replicas[replica_id].restart(cost=self._cost(replica_id),
                                                     kv_capacity_tokens=self._kv_now(replica_id))
            if lost:
                self.on_lost(lost, replica_id, "engine restarted")
        self.env.process(rebuild())
        return True

    # ---- estimates from the perf model (admission control, autoscaling) -----------------------------
    def predict_ttft(self, replica_id: str, prompt_tokens: float) -> float:
        """Seconds until `prompt_tokens` of queued prefill work are done on the replica, at its current
        speed: each iteration decodes the running sequences (their KV as context) and gives the rest of
        the token budget to prompts, so a busy decoder leaves less room for prefill. The queued prompts
        join the decode batch as they finish: on average half of them are decoding during the wait."""
        replica = self.replicas[replica_id]
        budget = self.engine_config.max_num_batched_tokens
        decoding = int(min(replica.num_running + replica.num_waiting / 2, self.engine_config.max_num_seqs,
                           budget - 1))
        chunk = budget - decoding
        context = replica.kv_blocks_used * replica.block_size
        iteration_s = replica.cost.iteration_time(decoding, float(context), chunk, chunk * (chunk + 1) / 2.0)
        return -(-prompt_tokens // chunk) * iteration_s

    def capacity_of(self, role: str, tp: int, mean_input: float, mean_output: float) -> float:
        """Tokens/s one replica at TP `tp` sustains in `role`: prompt tokens for prefill, output tokens
        for decode (a full batch at the mean context, limited by KV), both for aggregated."""
        p = next((st.placement for st in self.state.values() if st.placement.tp == tp), None)
        link_Bps, latency_s = (p.link_Bps, p.link_latency_s) if p is not None else (self.gpu.nvlink_Bps, 1e-6)
        cost = self.wrap_cost(build_perf_model(self.model, self.gpu, tp, link_Bps, latency_s,
                                               efficiency=self.efficiency))
        budget = self.engine_config.max_num_batched_tokens
        prefill = budget / cost.iteration_time(0, 0.0, budget, budget * (budget + 1) / 2.0)
        ctx = max(1.0, mean_input + mean_output / 2.0)
        batch = max(1, min(self.engine_config.max_num_seqs, int(self.kv_capacity(tp) // ctx)))
        decode = batch / cost.iteration_time(batch, batch * ctx, 0)
        if role == "prefill":
            return prefill
        if role == "decode":
            return decode
        # aggregated: the time to prefill and decode the mean request, shared over one replica
        per_request_s = mean_input / prefill + mean_output / decode
        return mean_output / per_request_s if per_request_s > 0 else decode
