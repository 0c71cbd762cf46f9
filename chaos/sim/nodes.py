"""What the orchestrator knows of its nodes: Kubernetes' node lifecycle, with its delays.

A dead host runs no kubelet, so no probe of its pods reports anything: the control plane learns of
the loss only when the node's status posts stop for the grace period (NotReady), and may replace its
pods only once they are evicted, `eviction_timeout` later. A repair is learnt the same way: from the
node's first status post after it, at the node controller's next look. `NodeLifecycle` turns the
fleet's host changes (truth) into those observations (chaos.control.config.NodeLifecycleConfig says
which Kubernetes settings and defaults it follows).

Timing, deterministic: host h's kubelet posts at phase_h + k x status_update_interval, with
phase_h = interval x crc32(h) / 2**32; the node controller looks at every multiple of monitor_period.
A host that dies at t was last heard at the last post <= t; it is NotReady at the first look later
than that post + grace_period; its pods are evicted eviction_timeout after that. A host repaired at t
(or a GPU the device plugin reports healthy again) is seen at the first look at or after its first
post >= t.
"""
from __future__ import annotations

import math
import zlib
from typing import Callable

import simpy

from chaos.control.config import NodeLifecycleConfig
from chaos.engine.events import UrgentTimeout

NOT_READY = "node NotReady"


class NodeLifecycle:
    """Observed node status (NotReady, evicted, repaired) for the controller of one run."""

    def __init__(self, env: simpy.Environment, config: NodeLifecycleConfig, hosts_of: Callable[[str], list[str]],
                 replicas_on: Callable[[str], list[str]], on_change: Callable[[str, bool, str, float], None]) -> None:
        self.env = env
        self.config = config
        self.hosts_of = hosts_of              # replica id -> the hosts its pod(s) run on
        self.replicas_on = replicas_on        # host -> active replica ids with a pod there
        self.on_change = on_change            # the controller's detection callback
        self._gen: dict[str, int] = {}        # host -> generation, bumped at every truth change
        self._not_ready: dict[str, float] = {}    # host -> time its pods are evicted
        self._ready: dict[str, simpy.Event] = {}  # host -> fires when it is seen Ready again
        self.events: list[tuple[float, str, str]] = []   # (t, host, "NotReady" | "Ready")

    # ---- timing --------------------------------------------------------------------------------------
    def _phase(self, host: str) -> float:
        return self.config.status_update_interval * zlib.crc32(host.encode("utf-8")) / 2**32

    def _next_look(self, t: float, strictly_after: bool = False) -> float:
        m = self.config.monitor_period
        k = math.floor(t / m) + 1 if strictly_after else math.ceil(t / m - 1e-12)
        return k * m

    def _next_post(self, host: str, t: float) -> float:
        u, ph = self.config.status_update_interval, self._phase(host)
        return ph + math.ceil((t - ph) / u - 1e-12) * u

    def not_ready_at(self, host: str, died_s: float) -> float:
        """When the node controller marks a host that died at died_s NotReady."""
        u, ph = self.config.status_update_interval, self._phase(host)
        last_post = ph + math.floor((died_s - ph) / u) * u
        return self._next_look(last_post + self.config.grace_period, strictly_after=True)

    def seen_at(self, host: str, repaired_s: float) -> float:
        """When the control plane sees a repair (a node Ready again, a GPU healthy) made at repaired_s."""
        return self._next_look(self._next_post(host, repaired_s))

    # ---- queries -------------------------------------------------------------------------------------
    def not_ready(self, replica_id: str) -> bool:
        """A host of the replica is observed NotReady now."""
        return any(h in self._not_ready for h in self.hosts_of(replica_id))

    def eviction_delay(self, replica_id: str) -> float:
        """Seconds until the replica's pods on NotReady nodes are evicted (0 when none is)."""
        due = [self._not_ready[h] for h in self.hosts_of(replica_id) if h in self._not_ready]
        return max(0.0, max(due, default=0.0) - self.env.now)

    def observed(self, replica_id: str, truth: simpy.Event) -> simpy.Event:
        """An event that fires when the control plane has seen the repair `truth` reports."""
        seen = self.env.event()

        def later(_ev):
            t = self.env.now
            at = max(self.seen_at(h, t) for h in self.hosts_of(replica_id))
            waits = [self._ready_event(h) for h in self.hosts_of(replica_id) if h in self._not_ready]

            def proc():
                if at > self.env.now:
                    yield UrgentTimeout(self.env, at - self.env.now)
                for ev in waits:
                    yield ev
                seen.succeed()
            self.env.process(proc())
        if truth.triggered:
            later(truth)
        else:
            truth.callbacks.append(later)
        return seen

    # ---- truth changes (from the fleet) --------------------------------------------------------------
    def host_changed(self, host: str, up: bool) -> None:
        gen = self._gen[host] = self._gen.get(host, 0) + 1
        now = self.env.now
        at = self.seen_at(host, now) if up else self.not_ready_at(host, now)
        self.env.process(self._observe(host, up, gen, at))

    def _observe(self, host: str, up: bool, gen: int, at: float):
        if at > self.env.now:
            yield UrgentTimeout(self.env, at - self.env.now)
        if self._gen.get(host) != gen:
            return                               # the host changed again before it was observed
        now = self.env.now
        if up:
            if self._not_ready.pop(host, None) is None:
                return
            self.events.append((now, host, "Ready"))
            ev = self._ready.pop(host, None)
            if ev is not None and not ev.triggered:
                ev.succeed()
            for rid in self.replicas_on(host):
                self.on_change(rid, True, NOT_READY, now)
        else:
            self._not_ready[host] = now + self.config.eviction_timeout
            self.events.append((now, host, "NotReady"))
            for rid in self.replicas_on(host):
                self.on_change(rid, False, NOT_READY, now)

    def _ready_event(self, host: str) -> simpy.Event:
        if host not in self._ready:
            self._ready[host] = self.env.event()
        return self._ready[host]
