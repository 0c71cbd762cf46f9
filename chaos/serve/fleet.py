"""The scenario's fleet, live: the simulation wired as `fleetchaos run` wires it (router, health checks,
controller, scheduled faults), with client requests submitted as they come and faults injected on
demand; what each client experienced is recorded for the journal.

A client's request is a `LiveStream`. The driver's observer marks its first token and its end; every
clock tick copies the tokens generated so far (exact mid decode stretch) into the streams, which the
HTTP handlers send. A stream's times here are what the client saw: when the request came, when its
first token and its last byte went out.
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from chaos.errors import InputError, expected_one_of
from chaos.faults import FaultError
from chaos.faults.base import PlanContext
from chaos.faults.config import load_faults
from chaos.faults.run import start_faults
from chaos.faults.target import FleetView
from chaos.workload import Workload


@dataclass
class LiveStream:
    """One client request: what the simulation has produced for it and what the client got."""

    rid: int
    input_tokens: int
    max_tokens: int
    arrival_s: float
    tenant: int = 0               # tenant id (the X-Tenant header; 0 without tenants:)
    available: int = 0            # tokens the simulation has produced so far (<= max_tokens)
    first_token: bool = False
    ended: bool = False
    status: str = ""              # completed | failed | rejected once ended
    reason: str = ""
    # what the client experienced (simulated seconds)
    first_sent_s: float = math.nan
    finish_s: float = math.nan
    sent: int = 0
    chunk_s: list[float] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    client_status: str = ""       # completed | failed | rejected | disconnected
    client_reason: str = ""
    replica: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class LiveFleet:
    """The running simulation behind `fleetchaos serve`."""

    def __init__(self, scenario, *, speed: float, catalog=None, tick_s: float = 0.02) -> None:
        from chaos.serve.clock import WallClock
        from chaos.sim.run import assemble

        self.scenario = scenario
        self.env = simpy.Environment()
        empty = Workload(arrival_s=np.empty(0), input_tokens=np.empty(0, dtype=np.int64),
                         output_tokens=np.empty(0, dtype=np.int64), hash_block_tokens=512)
        self.wired = assemble(scenario, self.env, empty, None, catalog)
        self.driver = self.wired.driver
        self.fleet = self.wired.fleet
        self.driver.observer = self
        self.streams: dict[int, LiveStream] = {}
        self.active: dict[int, LiveStream] = {}
        self.finished: list[LiveStream] = []
        self.live_faults = 0
        self.clock = WallClock(self.env, speed, tick_s, on_tick=self._tick)
        self.counters = {"prompt_tokens": 0, "generation_tokens": 0, "success": 0, "failed": 0, "rejected": 0}
        self.ttft_samples: list[float] = []
        self.itl_samples: list[float] = []
        self.e2e_samples: list[float] = []

    @property
    def hash_block_tokens(self) -> int:
        return 512

    # ---- requests -------------------------------------------------------------------------------
    def tenant_id(self, name: str | None) -> int:
        """The id of the tenant a client names (X-Tenant header): the first tenant when it names none;
        ValueError for a name the scenario's tenants: does not have."""
        names = self.fleet.tenant_names
        if name is None:
            return 0
        if name not in names:
            raise ValueError(f"X-Tenant: {expected_one_of(name, names)}")
        return names.index(name)

    def submit(self, input_tokens: int, max_tokens: int, hash_ids=None, tenant: int = 0) -> LiveStream:
        """Bring the simulation to now and let the request arrive; it may end at once (rejected)."""
        self.clock.catch_up()
        req = self.driver.submit_live(input_tokens, max_tokens, tuple(hash_ids) if hash_ids else None, tenant)
        stream = LiveStream(rid=req.id, input_tokens=input_tokens, max_tokens=max_tokens, arrival_s=req.arrival_s,
                            tenant=tenant)
        self.streams[req.id] = stream
        self.active[req.id] = stream
        if req.status in ("rejected", "failed"):     # ended during its arrival (admission, no replica)
            self.ended(req.id)
        self.counters["prompt_tokens"] += input_tokens
        self.clock.wake()
        return stream

    def cancel(self, stream: LiveStream, reason: str = "client disconnected") -> None:
        """The client went away before the end: the simulation cancels the request."""
        if not stream.ended:
            self.clock.catch_up()
            self.driver.cancel_live(stream.rid, reason)
        self.close(stream, "disconnected", reason)

    def close(self, stream: LiveStream, client_status: str, reason: str = "") -> None:
        """Record how the request ended for the client (once)."""
        if stream.client_status:
            return
        stream.client_status = client_status
        stream.client_reason = reason
        stream.finish_s = self.env.now if math.isnan(stream.finish_s) else stream.finish_s
        self.active.pop(stream.rid, None)
        self.finished.append(stream)
        if client_status == "completed":
            self.counters["success"] += 1
            self.counters["generation_tokens"] += stream.sent
            if not math.isnan(stream.first_sent_s):
                self.ttft_samples.append(stream.first_sent_s - stream.arrival_s)
            self.e2e_samples.append(stream.finish_s - stream.arrival_s)
        elif client_status == "rejected":
            self.counters["rejected"] += 1
        else:
            self.counters["failed"] += 1

    def mark_sent(self, stream: LiveStream, tokens: int) -> None:
        """`tokens` more went out to the client now (one chunk)."""
        now = self.clock.sim_now()
        if stream.sent == 0 and tokens > 0:
            stream.first_sent_s = now
        elif stream.chunk_s and tokens > 0:
            gap = (now - stream.chunk_s[-1]) / tokens
            self.itl_samples.extend([gap] * min(tokens, 64))
        stream.sent += tokens
        stream.chunk_s.append(now)
        stream.chunk_tokens.append(tokens)

    # ---- the driver's observer --------------------------------------------------------------------
    def first_token(self, rid: int, t: float) -> None:
        s = self.streams.get(rid)
        if s is not None and not s.first_token:
            s.first_token = True
            s.available = max(s.available, 1)
            s.changed.set()

    def ended(self, rid: int) -> None:
        s = self.streams.get(rid)
        if s is None:
            return
        req = self.driver.requests[rid]
        s.ended = True
        s.status = req.status if req.status in ("completed", "failed", "rejected") else "failed"
        s.reason = req.reason
        s.replica = req.replica
        if s.status == "completed":
            s.available = s.max_tokens
            s.first_token = True
        s.changed.set()

    def _tick(self) -> None:
        requests = self.driver.requests
        for s in list(self.active.values()):
            if s.first_token and not s.ended:
                n = min(requests[s.rid].generated_tokens, s.max_tokens)
                if n > s.available:
                    s.available = n
                    s.changed.set()

    # ---- faults ---------------------------------------------------------------------------------
    def inject_fault(self, doc: dict):
        """Validate `doc` like a scenario fault (errors name `fault.<field>`), plan it on the live fleet
        and start it; `at` defaults to now and may not lie in the past. Returns the planned occurrences."""
        if not isinstance(doc, dict):
            raise FaultError(f"expected a fault mapping like {{type: gpu_crash, target: ...}} but got {doc!r}",
                             field="fault")
        self.clock.catch_up()
        now = self.env.now
        doc = dict(doc)
        if "at" in doc:
            from chaos.units import parse_duration
            try:
                at = parse_duration(doc["at"])
            except (ValueError, InputError) as exc:
                raise FaultError(str(exc), field="fault.at") from None
            if at < now:
                raise FaultError(f"{at:g}s is in the past (the simulation is at {now:.3f}s); omit at: for now",
                                 field="fault.at")
        else:
            doc["at"] = now
        try:
            (fault,) = load_faults([doc], field="fault")
        except InputError as err:
            err.field = (err.field or "fault").replace("fault[0]", "fault", 1)
            raise
        index = len(self.scenario.faults) + self.live_faults
        view = FleetView(self.fleet.fabric, tuple(self.fleet.placements.values()))
        try:
            planned = fault.plan(PlanContext(view, int(self.scenario.seed), self.scenario.duration, index))
        except InputError as err:
            err.field = (err.field or "").replace(f"faults[{index}]", "fault") or "fault"
            raise
        if not planned:
            raise FaultError("the fault selects nothing on this fleet", field="fault.target")
        self.live_faults += 1
        self.wired.supervision.planned.extend(planned)
        start_faults(self.env, planned, self.fleet)
        self.clock.wake()
        return planned

    def fault_list(self) -> list[dict]:
        now = self.env.now
        out = []
        for pf in self.wired.supervision.planned:
            d = pf.to_dict()
            d["active"] = pf.start_s <= now < pf.end_s or (pf.start_s == pf.end_s == now)
            d["live"] = pf.index >= len(self.scenario.faults)
            out.append(d)
        return out

    # ---- observations ---------------------------------------------------------------------------
    def replicas(self):
        return [r for rs in self.fleet.pools.values() for r in rs]

    def healthy(self) -> bool:
        return any(r.alive and self.fleet.accepting(r.replica_id) for r in self.replicas())
