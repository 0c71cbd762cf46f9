"""The request path of a run: arrivals, routing through the resilience layer, the network between the
router and the replicas, disaggregated hand-off (sim/disagg.py: decode KV reservation, then the KV
transfer over the shared links), what reaches the client (sim/delivery.py), and what happens to a request when
its replica fails (the request fate, `recovery.requests`).

The driver owns every Request of the run (ids belong to the run: base arrivals keep their workload
index, extra arrivals from a traffic spike come after them, so a faulted run and its fault-free twin
name the same requests alike). It is the engines' `on_event` callback and the fleet's `on_lost`.
A request that reaches its final state is written to the run's columnar log (`log`, a
RequestLogBuilder) and dropped from `requests`, which holds only requests still in flight: memory
grows by a few columns per finished request, not by a Python object, and not at all once the log
spills its full chunks to disk (`metrics.spill`; DESIGN principle 10). A live
session (`observer` set, fleetchaos serve) keeps them: it reads their objects after they end.

Tenants (chaos.routing.tenancy, `tenancy`): at a request's first dispatch its tenant's token buckets and
concurrency cap may reject it, and under overload the shedding rule may shed it or a lower-priority
waiting request; every candidate list (routing, retries, hedges) keeps to the tenant's isolation set.

The network, as the router and the client see it (docs/semantics.md has the whole table):
  * a dead process on a live host refuses a connection: an error `REFUSED_S` later, and resets its
    open streams at once;
  * a silent host (powered off, cut off by a partition or a switch) answers nothing: a connection
    attempt fails after the router's `connect_timeout` (Envoy's 5 s) unless the partition heals first
    (TCP retransmits the SYN); open streams go quiet and hang until the router's first-token timeout
    (if no token yet), a health check that takes the replica out (Envoy's
    close_connections_on_host_health_failure), or the stream idle timeout (Envoy's 5 min) resets
    them; a hung engine (a broken TP ring on live hosts) accepts connections and sends nothing;
  * tokens produced behind a partition are not delivered: if the stream is reset they are taken back;
    if the partition heals first they arrive in a burst then, so TTFT, ITL and E2E are the client's;
  * a stalled engine accepts requests and queues them; only timeouts, health checks (when the stall
    is not silent) or the progress watchdog notice it.
A reset stream is recovered per `recovery:` — except that a started response cannot be retried.
"""
from __future__ import annotations

import array
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import simpy

from chaos.engine.events import UrgentTimeout
from chaos.engine.request import Request
from chaos.metrics.log import RequestLog, RequestLogBuilder, request_row
from chaos.routing.resilience import NO_REPLICA
from chaos.sim.arrivals import ArrivalChain, IdSet
from chaos.sim.delivery import ClientStreams
from chaos.sim.disagg import KVHandoff
from chaos.sim.fate import FateStats, RecoveryPolicy
from chaos.sim.silence import SilentStreams
from chaos.workload import Workload

REFUSED_S = 1e-3       # a connection refused by a host whose engine is gone comes back within a RTT
RECENT_ROWS = 50_000   # arrivals recent_arrivals looks back over, at most
ARRIVAL_CHUNK = 4096   # workload rows converted to Python numbers at a time (driver._base_arrivals)


def _trim(columns: tuple) -> None:
    """Typed columns (arrival or completion log) that reached 2 x RECENT_ROWS rows lose their oldest
    RECENT_ROWS (the recent_* views read at most the last RECENT_ROWS)."""
    for col in columns:
        del col[:RECENT_ROWS]


NO_REPLICA_REASON = f"{NO_REPLICA} (503)"
_STREAMED = frozenset({"first_token", "token", "finished"})   # engine events that carry bytes to the client


@dataclass(slots=True)
class Attempt:
    """One dispatch of a request: where it went, the incarnations it relies on, and what its client
    has seen of it (bytes stop reaching the client when the replica dies silently or is cut off)."""

    number: int
    replica_ids: tuple[str, ...]          # (aggregated,) or (prefill, decode)
    incarnations: tuple[int, ...]
    started_s: float
    submitted: bool = False
    parked_on: str | None = None          # replica whose in_network count holds this attempt
    quiet_since: float | None = None      # no byte reaches the client since (None: flowing)
    quiet_on: str = ""                    # the replica gone quiet
    quiet_gen: int = 0                    # bumped when bytes flow again: stale idle timers check it
    delivered: int = 0                    # tokens the client had when the stream went quiet


@dataclass(slots=True)
class Hedge:
    """A second copy of a request sent to another replica when the first is slow to its first token."""

    request: Request
    replica_id: str
    incarnation: int


@dataclass
class _Deferred:
    events: list = field(default_factory=list)        # (kind, request) produced while cut off
    connects: list = field(default_factory=list)      # (request, attempt) waiting to connect


class Driver(SilentStreams):
    """Feeds the workload into the fleet and follows each request to exactly one end state."""

    def __init__(self, env: simpy.Environment, workload: Workload, horizon_s: float | None,
                 recovery: RecoveryPolicy, *, log_spill: str = "off") -> None:
        self.env = env
        self.workload = workload
        self.horizon_s = horizon_s
        self.recovery = recovery
        self.requests: dict[int, Request] = {}          # in flight (and ended ones when observed live)
        self.log = RequestLogBuilder(log_spill)          # requests in a final state, as columns
        self._created = 0                                # requests made so far (closed-loop ids)
        self.finished = 0
        self.last_finish_s = 0.0
        self.all_done = env.event()
        self.fleet = None
        self.router = None
        self.stats = FateStats()
        self.streams = ClientStreams()        # what reaches the client (TTFT, ITL after stalls)
        self.handoff = KVHandoff(self)        # disaggregated: decode KV reservation and transfer
        self._attempt: dict[int, Attempt] = {}
        self._ended = IdSet()                                     # ids of requests in a final state
        self._failed_on: dict[int, set[str]] = defaultdict(set)   # replicas that failed a request
        self._hedges: dict[int, Hedge] = {}                        # request id -> its hedged copy
        self._started: set[int] = set()            # requests whose client has received a first token
        self._deferred: dict[str, _Deferred] = defaultdict(_Deferred)
        self._n_base = len(workload.arrival_s)
        self._next_extra_id = self._n_base
        cl = workload.closed_loop
        # how many requests end the run when it has no duration (extra arrivals raise it)
        self._expected = self._n_base if cl is None else cl.max_requests
        self.tenancy = None      # chaos.routing.tenancy.TenantGate: tenant limits, isolation, shedding
        # (arrival_s, input) of the last arrivals and (finish_s, output) of the last completions, as
        # columns (at most 2 x RECENT_ROWS rows each)
        self._arrival_log = (array.array("d"), array.array("q"))
        self._completion_log = (array.array("d"), array.array("q"))
        self.observer = None       # live clients (fleetchaos serve): .first_token(rid, t), .ended(rid)

    # ---- wiring --------------------------------------------------------------------------------------
    def attach(self, fleet, router) -> None:
        self.fleet = fleet
        self.router = router
        fleet.on_lost = self.on_lost
        fleet.on_reachability = self.on_reachability
        fleet.on_arrivals = self.add_arrivals
        fleet.workload = self.workload
        if self.workload.closed_loop is not None:
            for _ in range(self.workload.closed_loop.concurrency):
                self._new_closed_loop_request(0.0)
        else:
            ArrivalChain(self, self._base_arrivals())

    def _make_request(self, rid: int, arrival_s: float, input_tokens: int, output_tokens: int, hash_ids,
                      tenant: int = 0) -> Request:
        if self.fleet is not None and self.fleet.cost_shifts:
            for shifted, prompt_factor, output_factor, _ in self.fleet.cost_shifts:
                if shifted == tenant:             # a cost_shift fault: this tenant's requests cost more now
                    input_tokens = max(1, round(int(input_tokens) * prompt_factor))
                    output_tokens = max(1, round(int(output_tokens) * output_factor))
        req = Request(rid, float(arrival_s), int(input_tokens), int(output_tokens), hash_ids,
                      self.workload.hash_block_tokens, tenant=tenant)
        self.requests[rid] = req
        self._created += 1
        times, inputs = self._arrival_log
        times.append(req.arrival_s)
        inputs.append(req.input_tokens)
        if len(times) >= 2 * RECENT_ROWS:
            _trim(self._arrival_log)
        return req

    def _base_arrivals(self):
        """The workload's own arrivals up to the horizon, as (id, t, input, output, hash ids, tenant)
        rows; the columns are read a chunk at a time as Python numbers (no numpy scalar per request)."""
        wl = self.workload
        horizon = self.horizon_s if self.horizon_s is not None else math.inf
        hashes = wl.hash_ids
        n = self._n_base
        for lo in range(0, n, ARRIVAL_CHUNK):
            hi = min(n, lo + ARRIVAL_CHUNK)
            times = np.asarray(wl.arrival_s[lo:hi], dtype=float).tolist()
            inputs = np.asarray(wl.input_tokens[lo:hi]).tolist()
            outputs = np.asarray(wl.output_tokens[lo:hi]).tolist()
            tenants = np.asarray(wl.tenant[lo:hi]).tolist() if wl.tenant is not None else None
            for k, t in enumerate(times):
                if t > horizon:
                    return
                i = lo + k
                yield (i, t, inputs[k], outputs[k], hashes[i] if hashes is not None else None,
                       int(tenants[k]) if tenants is not None else 0)

    def add_arrivals(self, arrival_s, input_tokens, output_tokens, hash_ids, cause: str, tenant=None) -> None:
        """Extra requests (a traffic spike) on top of the workload's own; ids after the base ones;
        `tenant` (an id per request, or None for tenant 0) says whose they are."""
        order = np.argsort(np.asarray(arrival_s, dtype=float), kind="stable")
        batch = []
        for k in order:
            t = float(arrival_s[k])
            if self.horizon_s is not None and t > self.horizon_s:
                continue
            batch.append((self._next_extra_id, t, int(input_tokens[k]), int(output_tokens[k]),
                          hash_ids[k] if hash_ids is not None else None,
                          int(tenant[k]) if tenant is not None else 0))
            self._next_extra_id += 1
        if self._expected is not None:
            self._expected += len(batch)
        ArrivalChain(self, iter(batch))

    def _new_closed_loop_request(self, delay_s: float) -> None:
        cl = self.workload.closed_loop
        if cl.max_requests is not None and self._created >= cl.max_requests:
            return
        if delay_s > 0:
            def later():
                yield UrgentTimeout(self.env, delay_s)
                self._new_closed_loop_request(0.0)
            self.env.process(later())
            return
        if self.horizon_s is not None and self.env.now > self.horizon_s:
            return
        drawn = cl.next_request(self.env.now)
        if drawn is None:
            return
        input_tokens, output_tokens, hash_ids = drawn
        self.arrive(self._make_request(self._created, self.env.now, input_tokens, output_tokens, hash_ids))

    # ---- dispatch ------------------------------------------------------------------------------------
    def arrive(self, req: Request) -> None:
        deadline = self.router.config.deadline
        if deadline is not None:
            self.env.process(self._deadline(req, deadline))
        self.dispatch(req)

    def dispatch(self, req: Request, *, kv_ready_on: str | None = None) -> None:
        """Send `req` (again) through the router; `kv_ready_on` resumes it on a replica holding its KV."""
        fleet, env = self.fleet, self.env
        if kv_ready_on is not None:
            targets = (kv_ready_on,)
        else:
            if fleet.disaggregated:
                picks = self.router.pick_disaggregated(req, self._candidates(req, "prefill"),
                                                       self._candidates(req, "decode"))
            else:
                pick = self.router.pick(req, self._candidates(req, "aggregated"), "aggregated")
                picks = None if pick is None else (pick,)
            if picks is None:
                # unavailability, not shedding: a proxy with no healthy upstream answers 503 (Envoy
                # counts upstream_cx_none_healthy), so the client got no answer: failed
                self.stats.count("no healthy replica")
                self._error(req, None, NO_REPLICA_REASON)
                return
            if self.tenancy is not None and not self._tenant_admit(req, picks[0]):
                return
            # admission judges the replica the request would actually wait on
            reason = self.router.admit(req, [picks[0]], self.predict_ttft)
            if reason == NO_REPLICA:
                self.stats.count("no healthy replica")
                self._error(req, None, NO_REPLICA_REASON)
                return
            if reason is not None:
                self.stats.count("rejected: " + reason)
                self._end(req, "rejected", reason)
                return
            targets = (picks[0].replica_id,) if len(picks) == 1 else (picks[0].replica_id, picks[1].replica_id)
        prev = self._attempt.get(req.id)
        attempt = Attempt(0 if prev is None else prev.number + 1, targets,
                          tuple(map(fleet.incarnation, targets)), env.now)
        self._attempt[req.id] = attempt
        timeout = self.router.config.timeout
        if timeout is not None:
            self.env.process(self._first_token_timeout(req, attempt, timeout))
        hedge_delay = self.router.hedge_delay
        if hedge_delay is not None and kv_ready_on is None and not fleet.disaggregated:
            self.env.process(self._hedge_later(req, attempt, hedge_delay))
        self._connect(req, attempt, kv_ready=kv_ready_on is not None)

    def _candidates(self, req: Request, role: str) -> list:
        """The pool, less the replicas that already failed this request (Envoy's previous_hosts retry
        predicate) while others remain."""
        pool = self.fleet.pool(role)
        if self.tenancy is not None:
            pool = self.tenancy.allowed(req, pool, role)
        tried = self._failed_on.get(req.id)
        if not tried:
            return pool
        fresh = [r for r in pool if r.replica_id not in tried]
        return fresh if fresh else pool

    def _connect(self, req: Request, attempt: Attempt, kv_ready: bool = False) -> None:
        """Open the connection: a silent host (cut off, or gone) answers nothing until connect_timeout
        (TCP retransmits the SYN, so a partition that heals first lets it through); a dead process on a
        live host refuses at once; a hung one accepts and never answers."""
        first = attempt.replica_ids[0]
        fleet = self.fleet
        replica = fleet.replicas.get(first)
        if replica is not None and replica.alive and fleet.reachable(first):   # the usual case: it answers
            self._submit(req, attempt, replica, kv_ready)
            return
        manner = fleet.dead_manner(first)
        if not fleet.reachable(first) or manner == "blackhole":
            self._deferred[first].connects.append((req, attempt, kv_ready))
            self._park(attempt, first)
            self.env.process(self._connect_timeout(req, attempt, first))
            return
        if manner == "refuse":
            self.env.process(self._refused(req, attempt, first))
            return
        if manner == "hang":
            self._park(attempt, first)
            self._go_quiet(req, attempt, first)
            return
        self._submit(req, attempt, fleet.replicas[first], kv_ready)

    def _submit(self, req: Request, attempt: Attempt, replica, kv_ready: bool) -> None:
        """The connection is open: the request reaches the engine (a decode replica takes transferred KV)."""
        self._unpark(attempt)
        attempt.submitted = True
        if not kv_ready:
            replica.submit(req)
        elif replica.role == "decode":
            replica.submit_decode(req)
        else:
            replica.submit(req, kv_ready=True)

    def _refused(self, req: Request, attempt: Attempt, replica_id: str):
        yield UrgentTimeout(self.env, REFUSED_S)
        if self._attempt.get(req.id) is attempt:
            self.stats.count("refused")
            self._error(req, replica_id, f"connection refused by {replica_id}", kind="refused")

    def _first_token_timeout(self, req: Request, attempt: Attempt, timeout_s: float):
        """The router's first-token deadline, on client time: a token produced behind a partition and
        not delivered does not stop it."""
        yield UrgentTimeout(self.env, timeout_s)
        if self._attempt.get(req.id) is attempt and req.id not in self._started:
            self.stats.count("timeouts")
            self._abandon(req, attempt)
            self._error(req, attempt.replica_ids[0], f"no first token within {timeout_s:g}s", kind="timeout")

    def _deadline(self, req: Request, deadline_s: float):
        yield UrgentTimeout(self.env, deadline_s)
        if self._final(req):
            return
        attempt = self._attempt.get(req.id)
        if attempt is not None:
            self._abandon(req, attempt)
        self.stats.count("deadline exceeded")
        self._end(req, "failed", f"deadline of {deadline_s:g}s exceeded")

    def _abandon(self, req: Request, attempt: Attempt) -> None:
        """The client gives up on this attempt (and its hedged copy): cancel them wherever they sit."""
        self._drop_hedge(req.id)
        self._drop_attempt(req)

    # ---- what the engines report ---------------------------------------------------------------------
    def on_event(self, kind: str, req: Request, t: float) -> None:
        if kind == "kv_reserved":
            self.handoff.reserved(req)
            return
        hedge = self._hedges.get(req.id) if self._hedges else None
        if hedge is not None and req is hedge.request:
            if kind == "first_token":
                self._promote_hedge(req.id)          # the copy won the race: it becomes the request
            elif kind in ("rejected", "failed"):
                self._hedges.pop(req.id)
                return
            else:
                return
        elif hedge is not None and kind == "first_token":
            self._drop_hedge(req.id)                 # the original won: the copy is cancelled
        attempt = self._attempt.get(req.id)
        if attempt is None or req.id in self._ended:
            return                                   # a cancelled or superseded attempt
        source = req.replicas[-1] if req.replicas else attempt.replica_ids[0]
        if kind == "prefill_done":
            self.handoff.prefill_done(req, attempt)
            return
        prev = req.last_token_s                      # the engine updates it after this callback
        if kind in _STREAMED and not self.fleet.reachable(source):
            self._deferred[source].events.append((kind, req, attempt, prev))
            return
        self._deliver(kind, req, attempt, source, t, prev)

    def _deliver(self, kind: str, req: Request, attempt: Attempt, source: str, t: float,
                 prev_token_s: float) -> None:
        if kind == "first_token":
            self.streams.deliver(req, kind, t, prev_token_s)
            self._started.add(req.id)
            self.router.on_success(source, t)
            if self.observer is not None:
                self.observer.first_token(req.id, t)
        elif kind == "finished":
            self._attempt.pop(req.id, None)
            self._unpark(attempt)
            self._end(req, "completed", "")
        elif kind == "token":
            self.streams.deliver(req, kind, t, prev_token_s)
        elif kind in ("rejected", "failed"):
            self._attempt.pop(req.id, None)
            self._unpark(attempt)
            self._end(req, kind, req.reason)

    def on_reachability(self, replica_id: str, reachable: bool) -> None:
        """A partition around `replica_id` began or healed. Cut off, its open streams go quiet; healed
        before a timeout, what waited goes through (the client sees it only now): a started stream's
        tokens produced meanwhile arrive in a burst, so its next gap (ITL) spans the whole stall."""
        now = self.env.now
        stalled: set[int] = set()
        for rid, attempt in list(self._attempt.items()):
            if replica_id in attempt.replica_ids and attempt.submitted:
                if not reachable:
                    self._go_quiet(self.requests[rid], attempt, replica_id)
                elif self.fleet.dead_manner(replica_id) is None and attempt.quiet_on == replica_id:
                    req = self.requests[rid]
                    if rid in self._started and req.generated_tokens > attempt.delivered:
                        self.streams.deliver(req, "token", now, attempt.quiet_since)
                        stalled.add(rid)
                    self._flowing(attempt)
        if not reachable:
            return
        pending = self._deferred.pop(replica_id, None)
        if pending is None:
            return
        for kind, req, attempt, prev in pending.events:
            if self._attempt.get(req.id) is not attempt or (kind == "token" and req.id in stalled):
                continue
            if kind == "finished":                 # the client sees it only now
                req.finish_s = now
                if req.first_token_s > now:
                    req.first_token_s = now
            self._deliver(kind, req, attempt, replica_id, now, prev)
        for req, attempt, kv_ready in pending.connects:
            if self._attempt.get(req.id) is attempt:
                self._connect(req, attempt, kv_ready)

    def on_lost(self, requests: list[Request], replica_id: str, reason: str, silent: bool = False) -> None:
        """The fleet killed `replica_id`; these requests were on it (queued, running, awaiting transfer).
        Silent (a host gone, a hung ring, or a router that cannot reach it): nobody tells the client;
        its streams hang, held in the network, until a timeout or a health check closes them."""
        for req in requests:
            hedge = self._hedges.get(req.id)
            if hedge is not None and req is hedge.request:
                self._hedges.pop(req.id)             # only the copy was there: the original goes on
                continue
            attempt = self._attempt.get(req.id)
            if attempt is None or replica_id not in attempt.replica_ids or self._final(req):
                continue
            if silent:
                self._park(attempt, replica_id)
                self._go_quiet(req, attempt, replica_id)
                continue
            if hedge is not None:
                self._drop_attempt(req)
                self.router.on_error(replica_id, self.env.now, "lost")
                self._promote_hedge(req.id)          # the copy carries on where the original died
                continue
            self._lost_attempt(req, replica_id, reason)

    # ---- failure handling ----------------------------------------------------------------------------
    def _lost_attempt(self, req: Request, replica_id: str, reason: str) -> None:
        """Loss of a running attempt the client learns of (a reset, a stream timeout): the request fate
        decides (fail/retry/migrate/kv_replica). A proxy cannot retry a response that has started
        streaming: `retry` then ends it failed, a reset the client sees; migrate and kv_replica continue
        the stream from the tokens the client has (the frontend holds the stream, as Dynamo's does)."""
        self._drop_attempt(req)
        self.router.on_error(replica_id, self.env.now, "lost")
        self._failed_on[req.id].add(replica_id)
        self.stats.count("lost on failure")
        decision = self.recovery.decide(req, self.fleet, replica_id)
        if decision.action == "retry" and req.id in self._started:
            self.stats.count("reset after the first token")
            self._end(req, "failed", f"{reason}; stream reset after {req.generated} tokens (a started "
                                     f"response cannot be retried)")
            return
        if decision.action == "fail":
            self._end(req, "failed", f"{reason}; {decision.why}" if decision.why else reason)
            return
        req.retries += 1
        self.stats.count(f"recovered by {decision.action}")
        if decision.action == "retry":
            req.generated = 0                           # start over: the tokens streamed so far are discarded
        self.dispatch(req, kv_ready_on=decision.target)

    def _error(self, req: Request, replica_id: str | None, reason: str, kind: str = "error") -> None:
        """A client-visible error (refused, timeout, no replica): retry with backoff while allowed."""
        self._drop_attempt(req)
        if replica_id is not None:
            self.router.on_error(replica_id, self.env.now, kind)
            self._failed_on[req.id].add(replica_id)
        delay = self.router.retry_delay(req, self.env.now)
        if delay is None:
            self._end(req, "failed", reason)
            return
        req.retries += 1
        self.stats.count("retries")

        def later():
            yield UrgentTimeout(self.env, delay)
            if not self._final(req):
                self.dispatch(req)
        self.env.process(later())

    # ---- hedging ------------------------------------------------------------------------------------
    def _hedge_later(self, req: Request, attempt: Attempt, delay_s: float):
        """After `delay_s` without a first token, send a copy to another replica; the first to produce a
        token wins and the other is cancelled (aggregated pools)."""
        yield UrgentTimeout(self.env, delay_s)
        if (self._attempt.get(req.id) is not attempt or req.id in self._ended or req.id in self._hedges
                or req.first_token_s == req.first_token_s):
            return
        primary = attempt.replica_ids[0]
        others = [r for r in self._candidates(req, "aggregated") if r.replica_id != primary]
        choice = self.router.pick(req, others, "aggregated") if others else None
        if choice is None or not self.fleet.reachable(choice.replica_id) or not self.fleet.accepting(choice.replica_id):
            return
        copy = Request(id=req.id, arrival_s=req.arrival_s, input_tokens=req.input_tokens,
                       output_tokens=req.output_tokens, hash_ids=req.hash_ids,
                       hash_block_tokens=req.hash_block_tokens, tenant=req.tenant)
        copy.generated, copy.retries, copy.replicas = req.generated, req.retries, list(req.replicas)
        self._hedges[req.id] = Hedge(copy, choice.replica_id, self.fleet.incarnation(choice.replica_id))
        self.router.on_hedge(req, self.env.now)
        self.stats.count("hedges")
        choice.submit(copy)

    def _promote_hedge(self, rid: int) -> None:
        """The hedged copy becomes the request; the original attempt (if any) is cancelled."""
        hedge = self._hedges.pop(rid)
        old = self._drop_attempt(self.requests[rid])
        number = old.number + 1 if old is not None else 0
        self.requests[rid] = hedge.request
        self._attempt[rid] = Attempt(number, (hedge.replica_id,), (hedge.incarnation,), self.env.now, True)

    def _drop_hedge(self, rid: int) -> None:
        hedge = self._hedges.pop(rid, None)
        if hedge is not None:
            replica = self.fleet.replicas[hedge.replica_id]
            if replica.alive:
                replica.cancel(hedge.request)

    # ---- ends ----------------------------------------------------------------------------------------
    def _final(self, req: Request) -> bool:
        return req.id in self._ended

    def _end(self, req: Request, status: str, reason: str) -> None:
        rid = req.id
        now = self.env.now
        if self._hedges:
            self._drop_hedge(rid)
        self.streams.close(rid)
        self.handoff.forget(rid)
        self._ended.add(rid)
        if self._failed_on:
            self._failed_on.pop(rid, None)
        self._started.discard(rid)
        attempt = self._attempt.pop(rid, None)
        if attempt is not None and attempt.parked_on is not None:
            self._unpark(attempt)
        self.finished += 1
        if now > self.last_finish_s:
            self.last_finish_s = now
        if status == "completed":
            times, outputs = self._completion_log
            times.append(now)
            outputs.append(req.output_tokens)
            if len(times) >= 2 * RECENT_ROWS:
                _trim(self._completion_log)
        else:
            req.status = status
            req.reason = reason
            req.finish_s = now
        self.router.on_done(req)
        if self.tenancy is not None:
            self.tenancy.release(req)
        self.log.append_row(request_row(req))    # final: its row is written now
        if self.observer is not None:
            self.observer.ended(rid)             # a live session reads ended requests' objects: kept
        else:
            self.requests.pop(rid, None)         # a simulated run drops the object
        if self.workload.closed_loop is not None:
            self._new_closed_loop_request(self.workload.closed_loop.think_time_s)
        if self.finished == self._expected and not self.all_done.triggered:
            self.all_done.succeed()

    def _tenant_admit(self, req: Request, entry) -> bool:
        """First dispatch of a request: its tenant's buckets and cap, then shedding (chaos.routing.tenancy)."""
        gate = self.tenancy
        if req.id not in self._attempt and req.retries == 0:
            reason = gate.admit(req, self.env.now)
            if reason is not None:
                self.stats.count("rejected: " + reason)
                self._end(req, "rejected", reason)
                return False
            if gate.shedding is None:
                return True
            # overload and victims are judged on the replicas this tenant may use (its isolation set)
            usable = [r for r in self.fleet.pool(entry.role) if self.router.available(r.replica_id)]
            shed_self, victim = gate.shed_victim(req, gate.allowed(req, usable, entry.role))
            if shed_self:
                self.stats.count("rejected: shed")
                self._end(req, "rejected", "shed: overload")
                return False
            if victim is not None:
                attempt = self._attempt.get(victim.id)
                if attempt is not None:
                    self._abandon(victim, attempt)
                self.stats.count("rejected: shed")
                self._end(victim, "rejected", f"shed: overload (for a priority {gate.priority(req.tenant)} request)")
        return True

    # ---- live requests (fleetchaos serve) -----------------------------------------------------------
    def submit_live(self, input_tokens: int, output_tokens: int, hash_ids=None, tenant: int = 0) -> Request:
        """A request from a live client (of tenant id `tenant`), arriving now; ids follow the workload's
        (like a spike's)."""
        rid = self._next_extra_id
        self._next_extra_id += 1
        if self._expected is not None:
            self._expected += 1
        req = self._make_request(rid, self.env.now, input_tokens, output_tokens, hash_ids, tenant)
        self.arrive(req)
        return req

    def cancel_live(self, rid: int, reason: str) -> None:
        """The live client went away: cancel the request wherever it is and end it as failed."""
        req = self.requests.get(rid)
        if req is None or self._final(req):
            return
        attempt = self._attempt.get(rid)
        if attempt is not None:
            self._abandon(req, attempt)
        self._end(req, "failed", reason)

    # ---- observations for the controller and admission ----------------------------------------------
    def predict_ttft(self, replica, req: Request) -> float:
        """Queued prefill work on `replica` plus this prompt, at the replica's full-batch prefill speed."""
        return self.fleet.predict_ttft(replica.replica_id, replica.prefill_tokens_pending + req.input_tokens)

    def recent_arrivals(self, window_s: float) -> np.ndarray:
        """(arrival_s, input) rows of requests that arrived in the last `window_s`: what a frontend sees
        of a request when it arrives (its output length is not known until it ends)."""
        t0 = self.env.now - window_s
        cols = [np.asarray(c[-RECENT_ROWS:], dtype=float) for c in self._arrival_log]
        return np.column_stack(cols)[cols[0] >= t0].reshape(-1, 2)

    def recent_output_tokens(self, window_s: float) -> np.ndarray:
        """Output tokens of the requests that completed in the last `window_s` (the planner's observed
        output length, as Dynamo's planner reads it from the frontend's metrics); when none completed
        then, the last 1,000 completions before."""
        t0 = self.env.now - window_s
        t, n = (np.asarray(c[-RECENT_ROWS:], dtype=float) for c in self._completion_log)
        rows = n[t >= t0]
        return rows if len(rows) else n[-1000:]

    def request_log(self, horizon_s: float) -> RequestLog:
        """Every request of the run, by id: the finished ones' rows plus those still in flight, closed
        at the horizon (state "in_flight", tokens generated by then)."""
        in_flight = [self.requests[k] for k in sorted(self.requests) if k not in self._ended]
        for req in in_flight:
            req.close(horizon_s)
        return self.log.build(in_flight, sort_by_id=True)
