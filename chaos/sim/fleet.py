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

How a dead engine looks from the network (`dead_manner`, what the client and router can observe):
  refuse     the process died on a live host (an XID GPU loss aborts it, a software crash, a kill by
             the controller): the kernel resets its streams and refuses new connections at once;
  blackhole  the host that serves the replica's API is gone (node, rack or power loss): nothing
             answers, no RST; open streams hang until a timeout, new connections time out;
  hang       the hosts are up but the TP ring is broken (a NIC, link or switch cut, or a peer host of a
             multi-host group gone): NCCL blocks, the API server accepts connections and sends nothing.
A loss is reported to the driver as silent (`on_lost(..., silent=True)`) unless it is a refusal seen
by a router that can reach the replica. All replicas that one fabric change takes down are crashed
before the driver hears of any of them, so no recovery decision lands on a sibling about to die.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import simpy

from chaos.catalog import GPUSpec, ModelSpec
from chaos.engine.scheduling import TenantTable
from chaos.engine.config import EngineConfig
from chaos.engine.replica import Replica
from chaos.errors import SimulationError
from chaos.perf import Efficiency, build_perf_model, kv_capacity_tokens
from chaos.sim.fabricshare import SharedFabric
from chaos.sim.live import UNREACHABLE, LiveFabric
from chaos.sim.reconfig import ActionRecord, Reconfiguration
from chaos.topology import Fabric, Placement
from chaos.topology.blast import BlastRadius


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
    hung: bool = False               # the last death left the process hung (see dead_manner)
    repaired: simpy.Event | None = None


class Fleet(Reconfiguration):
    """The serving fleet of one run (see module docstring)."""

    def __init__(self, env: simpy.Environment, *, model: ModelSpec, gpu: GPUSpec, fabric: Fabric,
                 placements: Sequence[Placement], engine: EngineConfig, on_event: Callable,
                 kv_replication: bool = False, efficiency: Efficiency | None = None,
                 latency_source: dict | None = None, wrap_cost: Callable | None = None,
                 itl_window_s: float | None = None, tenants: TenantTable | None = None) -> None:
        self.env = env
        self.model = model
        self.gpu = gpu
        self.fabric = fabric
        self.live = LiveFabric(fabric)
        self.share = SharedFabric(env, fabric, self.live, on_ring_change=self._ring_changed)
        self.engine_config = engine
        self.on_event = on_event
        self.kv_replication = kv_replication
        self.efficiency = efficiency
        self.wrap_cost = wrap_cost or (lambda perf: perf)   # roofline -> the run's latency source
        self.latency_source = latency_source or {"source": "roofline", "efficiency": (
            efficiency or Efficiency()).to_dict()}   # what the journal records (DESIGN principle 9)
        self.itl_window_s = itl_window_s      # replicas keep ITL binned per this metrics window
        self.tenant_table = tenants   # tenant priorities and weights every engine schedules by
        self.tenant_names: list[str] = ["default"]   # by id; set by build_fleet from tenants:
        self.cost_shifts: list[tuple[int, float, float, str]] = []   # active cost_shift faults
        self.placements: dict[str, Placement] = {p.replica_id: p for p in placements}
        self.replicas: dict[str, Replica] = {}
        self.state: dict[str, ReplicaState] = {}
        self.pools: dict[str, list[Replica]] = {}
        self._pool_tuples: dict[str, tuple[Replica, ...]] = {}   # pool() answers; dropped on membership change
        self.spares: list[str] = [p.replica_id for p in placements if p.role == "spare"]
        self.gpu_slowdown: dict[str, list[float]] = {}
        self.actions: list[ActionRecord] = []
        self.on_lost: Callable[..., None] = lambda requests, replica_id, reason, silent=False: None
        self.on_reachability: Callable[[str, bool], None] = lambda replica_id, reachable: None
        self.on_arrivals: Callable[..., None] | None = None
        self.on_membership: Callable[[str, bool], None] = lambda replica_id, member: None
        self.on_host: Callable[[str, bool], None] = lambda host, up: None   # a host died or came back
        self.dead_hosts: set[str] = set()
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
            engine = self.engine_config
            self._capacity[tp] = kv_capacity_tokens(self.model, self.gpu, tp,
                                                    memory_fraction=engine.gpu_memory_utilization,
                                                    max_num_batched_tokens=engine.max_num_batched_tokens,
                                                    max_num_seqs=engine.max_num_seqs)
        return self._capacity[tp]

    def _cost(self, replica_id: str):
        """The perf model of a replica now: its ring's live bandwidth, its slowest GPU, KV replication."""
        st = self.state[replica_id]
        p = st.placement
        status = self.live.status(p)
        link_Bps, latency_s = (status.link_Bps, status.link_latency_s) if status.ok else (p.link_Bps, p.link_latency_s)
        shared = self.share.ring_Bps(replica_id)        # a ring on the network gets its share of the links
        if shared is not None and status.ok:
            link_Bps = min(link_Bps, shared) if shared > 0 else 0.0
        slowdown = max((max(self.gpu_slowdown[g]) for g in p.gpus if self.gpu_slowdown.get(g)), default=1.0)
        replication = None
        if self.kv_replication and st.role in ("aggregated", "decode"):
            peer = self.kv_peer(replica_id)
            if peer is not None:
                bandwidth, _ = self.live.kv_path(p, self.state[peer].placement)
                replication = bandwidth / min(p.tp, self.state[peer].placement.tp) if bandwidth > 0 else None
        return self.wrap_cost(build_perf_model(self.model, self.gpu, p.tp, link_Bps, latency_s,
                                               efficiency=self.efficiency, slowdown=slowdown,
                                               kv_replication_Bps=replication))

    def _start_engine(self, p: Placement, role: str) -> Replica:
        """A fresh engine on placement `p` serving `role`, added to that pool."""
        rid = p.replica_id
        st = self.state.get(rid)
        if st is None:
            st = self.state[rid] = ReplicaState(placement=p, role=role)
        st.placement, st.role = p, role
        self._share_ring(rid)
        replica = self.replicas.get(rid)
        if replica is None:
            replica = Replica(self.env, rid, role, self._cost(rid), self.kv_capacity(p.tp), self.engine_config,
                              self.on_event, tenants=self.tenant_table)
            if self.itl_window_s is not None:
                replica.bin_itl_by(self.itl_window_s)
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
            self._pool_tuples.clear()
            self.on_membership(replica_id, True)

    def _share_ring(self, replica_id: str) -> None:
        """Register the replica's all-reduce ring with the shared links at its live bottleneck."""
        p = self.state[replica_id].placement
        status = self.live.status(p)
        if status.ok:
            self.share.set_ring(replica_id, p.gpus, status.link_Bps)
        else:
            self.share.drop_ring(replica_id)

    def _ring_changed(self, replica_id: str) -> None:
        """The share of the links a serving replica's ring gets changed: re-price it."""
        replica = self.replicas.get(replica_id)
        if replica is not None and replica.alive and not self.state[replica_id].lost_reason:
            replica.set_cost(self._cost(replica_id))

    def _leave(self, replica_id: str) -> None:
        self.share.drop_ring(replica_id)
        replica = self.replicas.get(replica_id)
        for members in self.pools.values():
            if replica in members:
                members.remove(replica)
                self._pool_tuples.clear()
                self.on_membership(replica_id, False)

    # ---- what the request path may ask (truth the network would reveal) --------------------------
    @property
    def disaggregated(self) -> bool:
        return "prefill" in self.pools

    def pool(self, role: str) -> tuple[Replica, ...]:
        """The members of a pool as a tuple that stays the same object until membership changes, so the
        router keeps its view of the pool between requests (routing/view.py)."""
        members = self._pool_tuples.get(role)
        if members is None:
            members = self._pool_tuples[role] = tuple(self.pools.get(role, ()))
        return members

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

    def hosts_of(self, replica_id: str) -> list[str]:
        """The hosts the replica's GPUs are on (its pods' nodes), the API-serving one first."""
        nodes = self.fabric.graph.nodes
        return list(dict.fromkeys(nodes[g]["host"] for g in self.state[replica_id].placement.gpus))

    def replicas_on_host(self, host: str) -> list[str]:
        """Active replicas with a GPU on `host`."""
        return [rid for rid in self.replicas_of() if host in self.hosts_of(rid)]

    def liveness_probe(self, replica_id: str) -> bool:
        """Would the orchestrator's node-local liveness probe fail: only a live kubelet can say so. On a
        dead host nothing is reported (the pod keeps its last status until the node goes NotReady),
        so the probe reads as passing; otherwise: alive and not a loud stall."""
        st = self.state[replica_id]
        replica = self.replicas.get(replica_id)
        if self.dead_manner(replica_id) == "blackhole":
            return True
        if replica is None or not replica.alive:
            return False
        return not (st.stalled and not st.silent)

    def dead_manner(self, replica_id: str) -> str | None:
        """None while the engine lives, else how it looks from the network: refuse | blackhole | hang
        (module docstring)."""
        replica = self.replicas.get(replica_id)
        if replica is not None and replica.alive:
            return None
        st = self.state[replica_id]
        if self.fabric.graph.nodes[st.placement.gpus[0]]["host"] not in self.live.graph:
            return "blackhole"
        return "hang" if st.hung else "refuse"

    def _loss_manner(self, p: Placement) -> str:
        """How losing this placement's hardware looks from the network (module docstring)."""
        g, nodes = self.live.graph, self.fabric.graph.nodes
        hosts = [nodes[gpu]["host"] for gpu in p.gpus]
        if hosts[0] not in g:
            return "blackhole"
        if any(h not in g for h in hosts):
            return "hang"                    # a peer host of a multi-host group died: NCCL waits on it
        if any(gpu not in g for gpu in p.gpus):
            return "refuse"                  # a GPU fell off the bus: CUDA errors abort the process
        return "hang"                        # the ring lost a NIC, link or switch: NCCL blocks

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
        radius = self.live.fail(element, [s.placement for s in self.state.values()])
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
        """After a fabric change: crash replicas that lost hardware (all of them before the driver hears
        of any), refresh the speed of the others (their rings' shares of the links included)."""
        self.share.refresh()
        losses = []
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
                        losses.append(self._crash(rid, self._loss_manner(st.placement)) + (st.lost_reason,))
                continue
            if st.lost_reason:
                st.lost_reason = ""
                if st.repaired is not None and not st.repaired.triggered:
                    st.repaired.succeed()
                st.repaired = None
            if replica is not None and replica.alive:
                self._share_ring(rid)
                replica.set_cost(self._cost(rid))
        for rid, lost, silent, reason in losses:
            self.on_lost(lost, rid, reason, silent=silent)
        g = self.live.graph
        dead = {h for st in self.state.values() for h in self.hosts_of(st.placement.replica_id) if h not in g}
        for host in sorted(dead - self.dead_hosts):
            self.on_host(host, False)
        for host in sorted(self.dead_hosts - dead):
            self.on_host(host, True)
        self.dead_hosts = dead

    def kill(self, replica_id: str, reason: str, manner: str = "refuse") -> None:
        """The engine dies now (`manner`: how it looks from the network); its requests go to the
        driver's request fate."""
        _, lost, silent = self._crash(replica_id, manner)
        self.on_lost(lost, replica_id, reason, silent=silent)

    def _crash(self, replica_id: str, manner: str) -> tuple[str, list, bool]:
        """Crash the engine; (id, its requests, whether the router hears nothing of it)."""
        st = self.state[replica_id]
        silent = manner != "refuse" or not self.reachable(replica_id)
        st.incarnation += 1
        st.stalled = 0
        st.hung = manner == "hang"
        self.share.drop_ring(replica_id)
        return replica_id, self.replicas[replica_id].crash(), silent

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

    def add_arrivals(self, arrival_s, input_tokens, output_tokens, hash_ids, cause: str, tenant=None) -> None:
        if self.on_arrivals is None:
            raise RuntimeError("add_arrivals before the driver is attached")
        if tenant is None:
            self.on_arrivals(arrival_s, input_tokens, output_tokens, hash_ids, cause)
        else:
            self.on_arrivals(arrival_s, input_tokens, output_tokens, hash_ids, cause, tenant=tenant)

    # ---- FleetControl: software crash and the workload a spike scales --------------------------------
    def crash_replica(self, replica_id: str, cause: str) -> None:
        """The engine process dies (software fault); hardware stays healthy; only a controller restarts it."""
        replica = self.replicas.get(replica_id)
        if replica is not None and replica.alive:
            self.kill(replica_id, f"engine crashed ({cause})")

    def workload_lengths(self, tenant: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        wl = self.workload
        if tenant is None:
            return wl.input_tokens, wl.output_tokens
        mine = self._tenant_rows(tenant)
        return wl.input_tokens[mine], wl.output_tokens[mine]

    def _tenant_rows(self, tenant: int) -> np.ndarray:
        wl = self.workload
        return (wl.tenant == tenant) if wl.tenant is not None else np.full(len(wl), tenant == 0)

    def workload_tenants(self) -> np.ndarray | None:
        """Tenant id per request of the workload (None without tenants)."""
        return self.workload.tenant

    def tenant_id(self, name: str) -> int:
        """The id of a tenant by its tenants: name ("default" without tenants:)."""
        try:
            return self.tenant_names.index(name)
        except ValueError:
            raise SimulationError(f"unknown tenant {name!r}; the run has {', '.join(self.tenant_names)}") from None

    def shift_cost(self, tenant: int, prompt_factor: float, output_factor: float, cause: str) -> None:
        """From now, the tenant's arriving requests cost more (cost_shift); the driver applies it."""
        self.cost_shifts.append((tenant, prompt_factor, output_factor, cause))

    def unshift_cost(self, tenant: int, cause: str) -> None:
        self.cost_shifts[:] = [s for s in self.cost_shifts if not (s[0] == tenant and s[3] == cause)]

    def workload_rate(self, t0: float, t1: float, tenant: int | None = None) -> float:
        arrivals = self.workload.arrival_s
        if tenant is not None:
            arrivals = arrivals[self._tenant_rows(tenant)]
        if t1 <= t0 or len(arrivals) == 0:
            return 0.0
        n = np.searchsorted(arrivals, t1, side="left") - np.searchsorted(arrivals, t0, side="left")
        return float(n) / (t1 - t0)
