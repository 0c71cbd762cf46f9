"""The live fleet: replicas on the fabric, the truth of every fault, and the levers faults and control pull.

`Fleet` implements two protocols: `FleetControl` (chaos.faults: what a fault may do — fail or repair a
graph element, degrade a link, stall, slow, shrink KV, partition, add arrivals) and `ControlPlane`
(chaos.control: what a controller may do — restart, fail over to a spare, reshard, re-role, scale).
Faults change the truth here; the router and controller learn of it only through `probe` (health
checks), errors and the watchdog, never by reading these fields (DESIGN principle 5).

Replica lifecycle: serving -> (hardware lost | engine killed) -> down -> (restart / failover / reshard
after their delays) -> serving. A replica whose hardware is lost crashes at once: its requests go to
`on_lost` (the driver applies the request fate). Spares are placements with no engine until a
controller activates one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import simpy

from chaos.catalog import GPUSpec, ModelSpec
from chaos.engine.config import EngineConfig
from chaos.engine.events import UrgentTimeout
from chaos.engine.replica import Replica
from chaos.errors import InputError
from chaos.perf import build_perf_model, kv_capacity_tokens
from chaos.sim.live import UNREACHABLE, LiveFabric
from chaos.topology import Fabric, Placement
from chaos.topology.blast import BlastRadius, blast_radius


DRAIN_POLL_S = 0.5      # how often a draining replica is checked for emptiness


@dataclass
class ReplicaState:
    """The truth about one replica that faults set and only the simulation reads."""

    placement: Placement
    role: str
    lost_reason: str = ""            # hardware: GPUs or ring gone ("" = hardware fine)
    stalled: int = 0                 # active scheduler stalls
    silent: bool = True              # the stall still answers health checks
    partitioned: int = 0             # active partitions cutting it off the router
    cut_off: bool = False            # the fabric has no path from the router to it (a switch is down)
    kv_lost: list[float] = field(default_factory=list)
    incarnation: int = 0             # bumped at every crash: stale transfers and timers check it
    repaired: simpy.Event | None = None


@dataclass
class ActionRecord:
    """One controller action for the journal."""

    t_s: float
    action: str
    replicas: tuple[str, ...]
    detail: str = ""


class Fleet:
    """The serving fleet of one run (see module docstring)."""

    def __init__(self, env: simpy.Environment, *, model: ModelSpec, gpu: GPUSpec, fabric: Fabric,
                 placements: Sequence[Placement], engine: EngineConfig, on_event: Callable,
                 kv_replication: bool = False) -> None:
        self.env = env
        self.model = model
        self.gpu = gpu
        self.fabric = fabric
        self.live = LiveFabric(fabric)
        self.engine_config = engine
        self.on_event = on_event
        self.kv_replication = kv_replication
        self.placements: dict[str, Placement] = {p.replica_id: p for p in placements}
        self.replicas: dict[str, Replica] = {}
        self.state: dict[str, ReplicaState] = {}
        self.pools: dict[str, list[Replica]] = {}
        self.spares: list[str] = [p.replica_id for p in placements if p.role == "spare"]
        self.gpu_slowdown: dict[str, list[float]] = {}
        self.actions: list[ActionRecord] = []
        self.on_lost: Callable[[list, str, str], None] = lambda requests, replica_id, reason: None
        self.on_reachability: Callable[[str, bool], None] = lambda replica_id, reachable: None
        self.on_arrivals: Callable[..., None] | None = None
        self.on_membership: Callable[[str, bool], None] = lambda replica_id, member: None
        self.workload = None          # set by the driver: what a traffic spike scales
        self._capacity: dict[int, int] = {}
        for p in placements:
            if p.role == "spare":
                self.state[p.replica_id] = ReplicaState(placement=p, role="spare")
            else:
                self._start_engine(p, p.role)

    # ---- construction ----------------------------------------------------------------------------
    def kv_capacity(self, tp: int) -> int:
        if tp not in self._capacity:
            self._capacity[tp] = kv_capacity_tokens(self.model, self.gpu, tp,
                                                    memory_fraction=self.engine_config.gpu_memory_utilization)
        return self._capacity[tp]

    def _cost(self, replica_id: str):
        """The perf model of a replica now: its ring's live bandwidth, its slowest GPU, KV replication."""
        st = self.state[replica_id]
        p = st.placement
        status = self.live.status(p)
        link_Bps, latency_s = (status.link_Bps, status.link_latency_s) if status.ok else (p.link_Bps, p.link_latency_s)
        slowdown = max((max(self.gpu_slowdown[g]) for g in p.gpus if self.gpu_slowdown.get(g)), default=1.0)
        replication = None
        if self.kv_replication and st.role in ("aggregated", "decode"):
            peer = self.kv_peer(replica_id)
            if peer is not None:
                bandwidth, _ = self.live.kv_path(p, self.state[peer].placement)
                replication = bandwidth / min(p.tp, self.state[peer].placement.tp) if bandwidth > 0 else None
        return build_perf_model(self.model, self.gpu, p.tp, link_Bps, latency_s, slowdown=slowdown,
                                kv_replication_Bps=replication)

    def _start_engine(self, p: Placement, role: str) -> Replica:
        """A fresh engine on placement `p` serving `role`, added to that pool."""
        rid = p.replica_id
        st = self.state.get(rid)
        if st is None:
            st = self.state[rid] = ReplicaState(placement=p, role=role)
        st.placement, st.role = p, role
        replica = self.replicas.get(rid)
        if replica is None:
            replica = Replica(self.env, rid, role, self._cost(rid), self.kv_capacity(p.tp), self.engine_config,
                              self.on_event)
            self.replicas[rid] = replica
        else:
            lost = replica.restart(cost=self._cost(rid), kv_capacity_tokens=self._kv_now(rid))
            if lost:
                self.on_lost(lost, rid, "engine restarted")
            if replica.role != role:
                replica.set_role(role)
        self._join(rid)
        return replica

    def _join(self, replica_id: str) -> None:
        replica = self.replicas[replica_id]
        members = self.pools.setdefault(self.state[replica_id].role, [])
        if replica not in members:
            members.append(replica)
            self.on_membership(replica_id, True)

    def _leave(self, replica_id: str) -> None:
        replica = self.replicas.get(replica_id)
        for members in self.pools.values():
            if replica in members:
                members.remove(replica)
                self.on_membership(replica_id, False)

    # ---- what the request path may ask (truth the network would reveal) --------------------------
    @property
    def disaggregated(self) -> bool:
        return "prefill" in self.pools

    def pool(self, role: str) -> list[Replica]:
        return self.pools.get(role, [])

    def reachable(self, replica_id: str) -> bool:
        """The router's packets get through (not partitioned, not cut off by the fabric). A dead engine
        is reachable but refuses."""
        st = self.state[replica_id]
        return not st.partitioned and not st.cut_off

    def accepting(self, replica_id: str) -> bool:
        """An engine process is listening (alive); a stalled engine still accepts connections."""
        replica = self.replicas.get(replica_id)
        return replica is not None and replica.alive

    def probe(self, replica_id: str) -> bool:
        """Would a health check pass: alive, reachable, and not a stall that blocks the health endpoint."""
        st = self.state[replica_id]
        replica = self.replicas.get(replica_id)
        if replica is None or not replica.alive or st.partitioned or st.cut_off:
            return False
        return not (st.stalled and not st.silent)

    def liveness_probe(self, replica_id: str) -> bool:
        """Would the orchestrator's node-local liveness probe pass: alive and not a loud stall."""
        st = self.state[replica_id]
        replica = self.replicas.get(replica_id)
        if replica is None or not replica.alive:
            return False
        return not (st.stalled and not st.silent)

    def incarnation(self, replica_id: str) -> int:
        return self.state[replica_id].incarnation

    def kv_peer(self, replica_id: str) -> str | None:
        """The replica that holds a replicated copy of this one's KV: the next one in its pool."""
        role = self.state[replica_id].role
        ids = [r.replica_id for r in self.pools.get(role, [])]
        if len(ids) < 2 or replica_id not in ids:
            return None
        return ids[(ids.index(replica_id) + 1) % len(ids)]

    def transfer_path(self, src: str, dst: str) -> tuple[float, float]:
        return self.live.kv_path(self.state[src].placement, self.state[dst].placement)

    # ---- FleetControl (faults) -------------------------------------------------------------------
    def fail_element(self, element: str, cause: str) -> BlastRadius:
        radius = blast_radius(self.fabric, [s.placement for s in self.state.values()], element, self.live.graph)
        self.live.fail(element)
        self._reassess(cause)
        return radius

    def repair_element(self, element: str, cause: str) -> None:
        self.live.repair(element)
        self._reassess(cause)

    def degrade_link(self, link: str, factor: float, cause: str) -> None:
        self.live.degrade(link, factor)
        self._reassess(cause)

    def restore_link(self, link: str, cause: str) -> None:
        self.live.restore(link)
        self._reassess(cause)

    def _reassess(self, cause: str) -> None:
        """After a fabric change: crash replicas that lost hardware, refresh the speed of the others."""
        for rid, st in self.state.items():
            status = self.live.status(st.placement)
            replica = self.replicas.get(rid)
            cut_off = status.lost_reason == UNREACHABLE
            if cut_off != st.cut_off:
                # healthy GPUs the router cannot reach: the engine runs on, like under a partition
                was_reachable = self.reachable(rid)
                st.cut_off = cut_off
                if self.reachable(rid) != was_reachable:
                    self.on_reachability(rid, not was_reachable)
            if cut_off:
                continue
            if not status.ok:
                if not st.lost_reason:
                    st.lost_reason = f"{status.lost_reason} ({cause})"
                    if replica is not None and replica.alive:
                        self.kill(rid, st.lost_reason)
                continue
            if st.lost_reason:
                st.lost_reason = ""
                if st.repaired is not None and not st.repaired.triggered:
                    st.repaired.succeed()
                st.repaired = None
            if replica is not None and replica.alive:
                replica.set_cost(self._cost(rid))

    def kill(self, replica_id: str, reason: str) -> None:
        """The engine dies now; its requests go to the driver's request fate."""
        replica = self.replicas[replica_id]
        st = self.state[replica_id]
        st.incarnation += 1
        st.stalled = 0
        lost = replica.crash()
        self.on_lost(lost, replica_id, reason)

    def stall_replica(self, replica_id: str, silent: bool, cause: str) -> None:
        st = self.state[replica_id]
        st.stalled += 1
        st.silent = silent
        replica = self.replicas[replica_id]
        if replica.alive and st.stalled == 1:
            replica.stall()

    def resume_replica(self, replica_id: str, cause: str) -> None:
        st = self.state[replica_id]
        if st.stalled == 0:
            return
        st.stalled -= 1
        replica = self.replicas[replica_id]
        if st.stalled == 0 and replica.alive and replica.stalled:
            replica.resume()

    def slow_gpu(self, gpu: str, factor: float, cause: str) -> None:
        self.gpu_slowdown.setdefault(gpu, []).append(factor)
        self._refresh_gpu(gpu)

    def restore_gpu_speed(self, gpu: str, cause: str) -> None:
        factors = self.gpu_slowdown.get(gpu)
        if factors:
            factors.pop(0)
            self._refresh_gpu(gpu)

    def _refresh_gpu(self, gpu: str) -> None:
        for rid, st in self.state.items():
            replica = self.replicas.get(rid)
            if gpu in st.placement.gpus and replica is not None and replica.alive:
                replica.set_cost(self._cost(rid))

    def reduce_kv(self, replica_id: str, fraction_lost: float, cause: str) -> None:
        self.state[replica_id].kv_lost.append(fraction_lost)
        self._apply_kv(replica_id)

    def restore_kv(self, replica_id: str, cause: str) -> None:
        lost = self.state[replica_id].kv_lost
        if lost:
            lost.pop(0)
            self._apply_kv(replica_id)

    def _kv_now(self, replica_id: str) -> int:
        st = self.state[replica_id]
        keep = math.prod(1.0 - f for f in st.kv_lost)
        return int(self.kv_capacity(st.placement.tp) * keep)

    def _apply_kv(self, replica_id: str) -> None:
        replica = self.replicas.get(replica_id)
        if replica is not None and replica.alive:
            replica.set_kv_capacity(self._kv_now(replica_id))

    def partition(self, replica_ids: Sequence[str], cause: str) -> None:
        for rid in replica_ids:
            st = self.state[rid]
            st.partitioned += 1
            if st.partitioned == 1 and not st.cut_off:
                self.on_reachability(rid, False)

    def heal_partition(self, replica_ids: Sequence[str], cause: str) -> None:
        for rid in replica_ids:
            st = self.state[rid]
            if st.partitioned:
                st.partitioned -= 1
                if st.partitioned == 0 and not st.cut_off:
                    self.on_reachability(rid, True)

    def add_arrivals(self, arrival_s, input_tokens, output_tokens, hash_ids, cause: str) -> None:
        if self.on_arrivals is None:
            raise RuntimeError("add_arrivals before the driver is attached")
        self.on_arrivals(arrival_s, input_tokens, output_tokens, hash_ids, cause)

    # ---- ControlPlane (controller) ----------------------------------------------------------------
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
    def prefill_rate(self, replica_id: str) -> float:
        """Prompt tokens/s the replica computes with full prefill batches (its current speed)."""
        cost = self.replicas[replica_id].cost
        budget = self.engine_config.max_num_batched_tokens
        return budget / cost.iteration_time(0, 0.0, budget, budget * (budget + 1) / 2.0)

    def predict_ttft(self, replica_id: str, prompt_tokens: float) -> float:
        """Seconds until `prompt_tokens` of queued prefill work are done on the replica."""
        return prompt_tokens / self.prefill_rate(replica_id)

    def capacity_of(self, role: str, tp: int, mean_input: float, mean_output: float) -> float:
        """Tokens/s one replica at TP `tp` sustains in `role`: prompt tokens for prefill, output tokens
        for decode (a full batch at the mean context, limited by KV), both for aggregated."""
        p = next((st.placement for st in self.state.values() if st.placement.tp == tp), None)
        link_Bps, latency_s = (p.link_Bps, p.link_latency_s) if p is not None else (self.gpu.nvlink_Bps, 1e-6)
        cost = build_perf_model(self.model, self.gpu, tp, link_Bps, latency_s)
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

    # ---- FleetControl: software crash and the workload a spike scales --------------------------------
    def crash_replica(self, replica_id: str, cause: str) -> None:
        """The engine process dies (software fault); hardware stays healthy; only a controller restarts it."""
        replica = self.replicas.get(replica_id)
        if replica is not None and replica.alive:
            self.kill(replica_id, f"engine crashed ({cause})")

    def workload_lengths(self) -> tuple[np.ndarray, np.ndarray]:
        return self.workload.input_tokens, self.workload.output_tokens

    def workload_rate(self, t0: float, t1: float) -> float:
        arrivals = self.workload.arrival_s
        if t1 <= t0 or len(arrivals) == 0:
            return 0.0
        n = np.searchsorted(arrivals, t1, side="left") - np.searchsorted(arrivals, t0, side="left")
        return float(n) / (t1 - t0)
