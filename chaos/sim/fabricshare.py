"""Shared link capacity over time: KV transfers and cross-domain all-reduce rings share NICs and leaf uplinks.

A fluid model (chaos/topology/flows.py gives the resources each flow loads and the max-min fair rates):
  * a KV transfer first pays its setup (the connector posting the transfer, `engine.kv_transfer_setup`)
    and the path latency, then moves its bytes at its fair share; every start or end of a transfer
    re-divides the capacity, so concurrent transfers (KV fan-in to one decode replica, many prefill
    replicas behind one leaf) slow each other down;
  * a tensor-parallel ring that leaves its NVLink domain is a persistent flow: its per-GPU share is the
    bandwidth its all-reduce runs at (`ring_Bps`); when a share changes (a transfer starts, a spine is
    lost) the fleet re-prices that replica;
  * a fabric change (`refresh`) re-reads every capacity from the live graph.
Events: one timer for the earliest transfer end, replaced when rates change (a version counter makes a
stale timer a no-op), so cost grows with transfers, not with bytes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import simpy

from chaos.engine.events import UrgentTimeout
from chaos.topology.flows import Flow, capacity, kv_flow, max_min_rates, ring_flow

DONE_EPS_S = 1e-12      # a transfer whose remaining time is below this (or a few ulps of now) has finished


@dataclass
class _Transfer:
    flow: Flow
    remaining_B: float
    on_done: Callable[[], None]
    rate_Bps: float = 0.0          # whole transfer (connections x per-connection rate)


class SharedFabric:
    """KV transfers in flight and the network rings, with the rates the shared links give them."""

    def __init__(self, env: simpy.Environment, fabric, live, on_ring_change: Callable[[str], None]) -> None:
        self.env = env
        self.fabric = fabric
        self.live = live                                   # chaos.sim.live.LiveFabric
        self.on_ring_change = on_ring_change
        self._transfers: dict[object, _Transfer] = {}
        self._rings: dict[str, Flow] = {}                  # replica id -> its ring flow
        self._ring_rate: dict[str, float] = {}             # replica id -> per-GPU ring bandwidth now
        self._pending: set = set()                         # transfers still in their setup
        self._cancelled: set = set()                       # ... whose attempt died meanwhile
        self._t = float(env.now)
        self._version = 0

    # ---- rings ---------------------------------------------------------------------------------------
    def set_ring(self, replica_id: str, gpus, ring_Bps: float) -> None:
        """Register (or update) the all-reduce ring of a serving replica; no-op inside one NVLink domain."""
        flow = ring_flow(self.fabric, tuple(gpus), ring_Bps)
        if flow is None:
            if self._rings.pop(replica_id, None) is not None:
                self._ring_rate.pop(replica_id, None)
                self._reallocate(skip=replica_id)
            return
        self._rings[replica_id] = flow
        self._reallocate(skip=replica_id)

    def drop_ring(self, replica_id: str) -> None:
        if self._rings.pop(replica_id, None) is not None:
            self._ring_rate.pop(replica_id, None)
            self._reallocate()

    def ring_Bps(self, replica_id: str) -> float | None:
        """The per-GPU bandwidth the replica's ring gets now, None when it does not use the network."""
        return self._ring_rate.get(replica_id)

    # ---- transfers -----------------------------------------------------------------------------------
    def start_transfer(self, key, src_gpus, dst_gpus, path_Bps: float, nbytes: float, delay_s: float,
                       on_done: Callable[[], None]) -> None:
        """Move `nbytes` from src to dst GPUs after `delay_s` (setup + path latency); `on_done()` at the end."""
        flow = kv_flow(self.fabric, src_gpus, dst_gpus, path_Bps)

        def join(_ev) -> None:
            self._pending.discard(key)
            if key in self._cancelled:
                self._cancelled.discard(key)
                return
            self._transfers[key] = _Transfer(flow, float(nbytes), on_done)
            self._reallocate()

        self._pending.add(key)
        ev = UrgentTimeout(self.env, max(0.0, delay_s))
        ev.callbacks.append(join)

    def cancel(self, key) -> None:
        """The transfer's attempt died: it stops using the links (nothing is called)."""
        if key in self._pending:
            self._cancelled.add(key)
        if self._transfers.pop(key, None) is not None:
            self._reallocate()

    @property
    def in_flight(self) -> int:
        return len(self._transfers)

    def refresh(self) -> None:
        """The fabric changed: capacities are re-read from the live graph."""
        self._reallocate()

    # ---- the fluid model -------------------------------------------------------------------------------
    def _advance(self) -> None:
        now = float(self.env.now)
        dt = now - self._t
        if dt > 0:
            for tr in self._transfers.values():
                tr.remaining_B = max(0.0, tr.remaining_B - tr.rate_Bps * dt)
        self._t = now

    def _reallocate(self, skip: str | None = None) -> None:
        self._advance()
        ring_ids = list(self._rings)
        flows = [self._rings[r] for r in ring_ids] + [t.flow for t in self._transfers.values()]
        g = self.live.graph
        rates = max_min_rates(flows, lambda res: capacity(g, res)) if flows else []
        changed = []
        for rid, rate in zip(ring_ids, rates):
            old = self._ring_rate.get(rid)
            self._ring_rate[rid] = rate
            if rid != skip and (old is None or not math.isclose(old, rate, rel_tol=1e-9)):
                changed.append(rid)
        for tr, rate in zip(self._transfers.values(), rates[len(ring_ids):]):
            tr.rate_Bps = rate * tr.flow.connections
        self._schedule()
        for rid in changed:
            self.on_ring_change(rid)

    def _schedule(self) -> None:
        self._version += 1
        version = self._version
        best = math.inf
        for tr in self._transfers.values():
            if tr.rate_Bps > 0:
                best = min(best, tr.remaining_B / tr.rate_Bps)
        if not math.isfinite(best):
            return
        ev = UrgentTimeout(self.env, best)
        ev.callbacks.append(lambda _ev: self._wake(version))

    def _wake(self, version: int) -> None:
        if version != self._version:
            return
        self._advance()
        eps = max(DONE_EPS_S, abs(float(self.env.now)) * 1e-14)
        done = [k for k, tr in self._transfers.items() if tr.rate_Bps > 0 and tr.remaining_B <= tr.rate_Bps * eps]
        finished = [self._transfers.pop(k) for k in done]
        self._reallocate()
        for tr in finished:
            tr.on_done()

