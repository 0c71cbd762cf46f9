"""Waiting-queue order and preemption victims of one replica: `engine.scheduling: fcfs | priority | fair`.

fcfs (default): the engine's plain deque — arrival order, preempted requests back at the front, the
most recently admitted running sequence is the preemption victim (vLLM's default).

priority, as vLLM's priority scheduling (vllm/v1/core/sched/request_queue.py PriorityRequestQueue,
and V0's `_schedule_priority_preemption` in vllm/core/scheduler.py):
  * the waiting queue is a heap on (tenant priority, arrival time, request id); lower priority values
    are served first; a preempted request goes back in its place by that key;
  * when KV blocks run out the victim is the running sequence with the largest (priority, arrival);
  * a waiting head that cannot be admitted (batch full, or its blocks not free as admission counts
    them, prefix-cache hits included) preempts running sequences of strictly lower priority (largest
    key first) until it fits; a prompt that can never fit preempts no one.
  Starvation, as documented: a request waits while requests of strictly higher priority are waiting,
  and can be preempted by them any number of times; among equal priorities it is FCFS. With no
  higher-priority request waiting it is admitted exactly as under fcfs.
  One exception on a decode replica: a transferred request whose KV blocks were reserved before the
  transfer is admitted past a head blocked on KV whatever its priority (it brings its blocks; holding
  them while the head waits for blocks would deadlock), after the head has preempted what it may.

fair: the Virtual Token Counter (Sheng et al., "Fairness in Serving Large Language Models", OSDI 2024,
Algorithm 2). Per tenant a counter of weighted service: + w_p x prompt tokens computed at each
admission, + w_q per output token generated (the token of the prompt's last iteration and every
decode token), both divided by the tenant's weight. The next request admitted is the earliest waiting
one of the backlogged tenant with the smallest counter (ties: lower tenant id); a blocked choice blocks
admission (head-of-line, as fcfs). A tenant that becomes backlogged has its counter lifted to the
smallest counter of the backlogged tenants (or to the counter of the last tenant to leave the queue
when none is), so idle time earns no credit. Victims are the most recently admitted (as fcfs).
Decode service is counted exactly per iteration: tenant t has generated base_t + n_t x D decode
tokens by iteration D, so no per-token work is done. Because counters move every iteration, the fast
stepper does not fast-forward while requests wait and a batch slot is free.
"""
from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from chaos.engine.request import Request


@dataclass(frozen=True, slots=True)
class TenantTable:
    """Per tenant id (index): priority (lower first) and fair-share weight. Ids past the end get the
    last defaults (priority 1, weight 1), so a single-tenant fleet needs no table."""
    priorities: tuple[int, ...] = (1,)
    weights: tuple[float, ...] = (1.0,)

    def priority(self, tenant: int) -> int:
        return self.priorities[tenant] if tenant < len(self.priorities) else 1

    def weight(self, tenant: int) -> float:
        return self.weights[tenant] if tenant < len(self.weights) else 1.0


class PriorityQueue:
    """Waiting requests as a heap on (priority, arrival_s, id); the deque methods the engine uses."""

    def __init__(self, table: TenantTable) -> None:
        self.table = table
        self._heap: list[tuple[int, float, int, int, Request]] = []
        self._gone: set[int] = set()       # ids of entries removed lazily (cancel)
        self._n = 0
        self._tick = 0                     # push counter: a re-queued request gets a fresh entry

    def key(self, r: Request) -> tuple[int, float, int]:
        return (self.table.priority(r.tenant), r.arrival_s, r.id)

    def append(self, r: Request) -> None:
        self._tick += 1
        heapq.heappush(self._heap, (*self.key(r), self._tick, r))
        self._n += 1

    appendleft = append                    # a preempted request returns to its place by key

    def _clean(self) -> None:
        heap = self._heap
        while heap and heap[0][3] in self._gone:
            self._gone.discard(heap[0][3])
            heapq.heappop(heap)

    def __getitem__(self, i: int) -> Request:
        if i != 0:
            raise IndexError("only the head of a priority queue can be read")
        self._clean()
        return self._heap[0][4]

    def popleft(self) -> Request:
        self._clean()
        self._n -= 1
        return heapq.heappop(self._heap)[4]

    def remove(self, r: Request) -> None:
        for entry in self._heap:
            if entry[4] is r and entry[3] not in self._gone:
                self._gone.add(entry[3])
                self._n -= 1
                return
        raise ValueError(f"request {r.id} is not waiting")

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __iter__(self) -> Iterator[Request]:
        return (e[4] for e in sorted(self._heap) if e[3] not in self._gone)

    def clear(self) -> None:
        self._heap.clear()
        self._gone.clear()
        self._n = 0


class FairQueue:
    """Waiting requests per tenant (FIFO each) and the VTC counters that pick the next tenant."""

    def __init__(self, table: TenantTable, input_weight: float, output_weight: float,
                 clock=lambda: 0) -> None:
        self.table = table
        self._clock = clock                      # the replica's iteration number D (materialised)
        self.w_in = input_weight
        self.w_out = output_weight
        self._q: dict[int, deque[Request]] = {}
        self._n = 0
        self.counter: dict[int, float] = {}      # lifted virtual counters (scheduling)
        self.served: dict[int, float] = {}       # weighted service actually given (no lift), per tenant
        self._dec_n: dict[int, int] = {}         # decoding sequences per tenant
        self._dec_base: dict[int, int] = {}      # decode tokens by iteration D = base + n x D
        self._last_left: int | None = None       # the last tenant whose queue emptied

    # -- counters ----------------------------------------------------------------------------------
    def _decode_tokens(self, t: int) -> int:
        return self._dec_base.get(t, 0) + self._dec_n.get(t, 0) * self._clock()

    def value(self, t: int) -> float:
        """Tenant t's virtual counter at iteration D (decode service included)."""
        return self.counter.get(t, 0.0) + self.w_out * self._decode_tokens(t) / self.table.weight(t)

    def service(self, t: int) -> float:
        """Weighted service tenant t received on this replica so far (w_p x prompt + w_q x output tokens)."""
        return self.served.get(t, 0.0) + self.w_out * self._decode_tokens(t)

    def charge(self, r: Request, tokens: int, output: bool) -> None:
        t = r.tenant
        cost = (self.w_out if output else self.w_in) * tokens
        self.counter[t] = self.counter.get(t, 0.0) + cost / self.table.weight(t)
        self.served[t] = self.served.get(t, 0.0) + cost

    def decode(self, r: Request, D: int, delta: int) -> None:
        """r starts (+1) or stops (-1) decoding at iteration D."""
        t = r.tenant
        self._dec_n[t] = self._dec_n.get(t, 0) + delta
        self._dec_base[t] = self._dec_base.get(t, 0) - delta * D

    # -- the deque methods the engine uses -----------------------------------------------------------
    def _head_tenant(self) -> int:
        return min(self._q, key=lambda t: (self.value(t), t))

    def append(self, r: Request, front: bool = False) -> None:
        t = r.tenant
        q = self._q.get(t)
        if q is None:
            if self._q:
                lift = min(self.value(u) for u in self._q)
            else:                                # the current counter of the last tenant to leave
                lift = self.value(self._last_left) if self._last_left is not None else 0.0
            now = self.value(t)
            if lift > now:
                self.counter[t] = self.counter.get(t, 0.0) + (lift - now)
            q = self._q[t] = deque()
        if front:
            q.appendleft(r)
        else:
            q.append(r)
        self._n += 1

    def appendleft(self, r: Request) -> None:
        self.append(r, front=True)

    def __getitem__(self, i: int) -> Request:
        if i != 0:
            raise IndexError("only the head of a fair queue can be read")
        return self._q[self._head_tenant()][0]

    def popleft(self) -> Request:
        t = self._head_tenant()
        r = self._q[t].popleft()
        self._n -= 1
        if not self._q[t]:
            self._leave(t)
        return r

    def _leave(self, t: int) -> None:
        del self._q[t]
        self._last_left = t

    def remove(self, r: Request) -> None:
        q = self._q.get(r.tenant)
        if q is None:
            raise ValueError(f"request {r.id} is not waiting")
        q.remove(r)
        self._n -= 1
        if not q:
            self._leave(r.tenant)

    def __len__(self) -> int:
        return self._n

    def __bool__(self) -> bool:
        return self._n > 0

    def __iter__(self) -> Iterator[Request]:
        return (r for t in sorted(self._q) for r in self._q[t])

    def clear(self) -> None:
        """A crashed engine: queue and counters start over (a restart is a fresh VTC)."""
        self._q.clear()
        self._n = 0
        for table in (self.counter, self.served, self._dec_n, self._dec_base):
            table.clear()
        self._last_left = None


class SchedulingPolicy:
    """The engine's hooks for a non-fcfs policy (the engine keeps `_policy = None` for fcfs)."""

    kind = "fcfs"

    def __init__(self, table: TenantTable) -> None:
        self.table = table

    def victim(self, running: Sequence[Request]) -> Request:
        """The running sequence to preempt when KV blocks run out."""
        return running[-1]

    def decode(self, r: Request, D: int, delta: int) -> None:
        """r starts (+1) or stops (-1) decoding at iteration D."""

    def admitted(self, r: Request, compute_tokens: int) -> None:
        """r was admitted for prefill with `compute_tokens` prompt tokens to compute."""

    def first_token(self, r: Request) -> None:
        """r's prompt finished and emitted a token."""

    def stretch_ok(self, waiting_n: int, running_n: int, max_seqs: int) -> bool:
        """May the fast stepper fast-forward a pure-decode batch now?"""
        return True

    def preempts(self, r: Request, running: Sequence[Request]) -> bool:
        """Could r, just queued, preempt a running sequence (so a decode stretch must be cut)?"""
        return False

    def preempt_victim(self, head: Request, running: Sequence[Request]) -> Request | None:
        """A running sequence the waiting head may preempt to get in, or None."""
        return None


class Priority(SchedulingPolicy):
    kind = "priority"

    def key(self, r: Request) -> tuple[int, float, int]:
        return (self.table.priority(r.tenant), r.arrival_s, r.id)

    def victim(self, running: Sequence[Request]) -> Request:
        return max(running, key=self.key)

    def preempts(self, r: Request, running: Sequence[Request]) -> bool:
        p = self.table.priority(r.tenant)
        return any(self.table.priority(s.tenant) > p for s in running)

    def preempt_victim(self, head: Request, running: Sequence[Request]) -> Request | None:
        if not running:
            return None
        worst = max(running, key=self.key)
        return worst if self.table.priority(worst.tenant) > self.table.priority(head.tenant) else None


class Fair(SchedulingPolicy):
    kind = "fair"

    def __init__(self, table: TenantTable, queue: FairQueue) -> None:
        super().__init__(table)
        self.queue = queue

    def decode(self, r: Request, D: int, delta: int) -> None:
        self.queue.decode(r, D, delta)

    def admitted(self, r: Request, compute_tokens: int) -> None:
        self.queue.charge(r, compute_tokens, output=False)

    def first_token(self, r: Request) -> None:
        self.queue.charge(r, 1, output=True)

    def stretch_ok(self, waiting_n: int, running_n: int, max_seqs: int) -> bool:
        return waiting_n == 0 or running_n >= max_seqs


def make_scheduling(config, table: TenantTable | None, clock=lambda: 0):
    """(waiting queue, policy hooks or None) for `config.scheduling` (an EngineConfig); `clock()` is the
    replica's iteration number D, exact wherever the engine reads the queue (after `_sync`)."""
    table = table or TenantTable()
    kind = getattr(config, "scheduling", "fcfs")
    if kind == "fcfs":
        return deque(), None
    if kind == "priority":
        return PriorityQueue(table), Priority(table)
    if kind == "fair":
        q = FairQueue(table, config.fair.input_weight, config.fair.output_weight, clock)
        return q, Fair(table, q)
    raise ValueError(f"engine.scheduling: expected one of fcfs, priority, fair but got {kind!r}")


__all__ = ["TenantTable", "PriorityQueue", "FairQueue", "SchedulingPolicy", "Priority", "Fair",
           "make_scheduling"]
