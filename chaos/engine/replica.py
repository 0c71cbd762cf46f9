"""One replica (an engine on one TP group) as a SimPy process: vLLM V1-style continuous batching.

Iteration (starts at the replica's own clock `_t`, iteration number D = iterations completed):
  1. every decoding sequence gets one token; those whose KV is full take a block. When none is free
     (after evicting unreferenced prefix-cache blocks) the most recently admitted running sequence
     is preempted by recompute (blocks freed, back to the front of the queue with prompt = input +
     generated tokens); no admissions in an iteration that preempted;
  2. the token budget left (max_num_batched_tokens - decoders) goes to prefill chunks: partial
     prefills first, then waiting requests FCFS while running < max_num_seqs and the whole prompt's
     blocks (minus prefix-cache hits) can be allocated; a blocked head blocks the queue;
  3. at the iteration's end (time `_t + L`, L from the cost model): decoders that reached their
     output length finish ("finished"), then prompts that completed emit their first token
     ("first_token"; prefill role: then "prefill_done", KV held until `release`).

Same-time order (written down because results depend on it):
  * a submission at time t is seen by an iteration that starts at t. The simulation schedules
    arrivals with SimPy priority URGENT; iteration ends are NORMAL timeouts, so at equal times the
    arrival goes first and joins the next iteration, never the one ending at t;
  * callbacks run inside the replica's process at the iteration end; a request they submit to the
    same replica joins the iteration that starts right then. A NORMAL-priority submission from
    another process at exactly an iteration end counts as arriving before that end (fast stepper);
    the reference stepper orders it by SimPy's event id instead - equal float times across replicas
    are the only place the steppers may differ;
  * within one iteration end: decode finishes (by finish iteration, then admission order), then
    prompt completions in admission order.

Fast-forward (stepper "fast"): when step 2 schedules no prefill work the batch is pure decode and
stays so until (a) the first sequence finishes (top of a heap of finish iterations), (b) an iteration
would need more blocks than are free or evictable (`stretch.safe_iterations`), or (c) an outside
event. k = min(a, b) iterations are priced in one call, `cost.decode_stretch(n, ctx_sum0, k)`, their
end times are a cumulative sum from `_t`, and the process sleeps until the last one. A submission at
tw inside the stretch interrupts it: j = searchsorted(times, tw, "left") is the iteration in
progress; it completes and the newcomer joins iteration j+1 at times[j]. Views during a stretch are
materialised lazily (`_sync`): iterations ending before now are done, the one in progress has its
blocks. The reference stepper runs the same code with k = 1 and one timeout per iteration.
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from typing import Callable, Literal

import numpy as np
import simpy

from chaos.engine.config import EngineConfig
from chaos.engine.cost import IterationCost
from chaos.engine.itl import ITLArrays, ITLRecorder
from chaos.engine.kv import KVBlockManager
from chaos.engine.request import (COMPLETED, FAILED, PH_DECODE, PH_DONE, PH_HELD, PH_NONE, PH_PREFILL,
                                  PH_WAIT, QUEUED, REJECTED, RUNNING, TRANSFERRING, Request)
from chaos.engine.stretch import (MAX_STRETCH, Stretch, blocks_needed, count_congruent, safe_iterations,
                                  stretch_times)
from chaos.errors import SimulationError

Role = Literal["aggregated", "prefill", "decode"]
ROLES = ("aggregated", "prefill", "decode")
EventCallback = Callable[[str, Request, float], None]
"""on_event(kind, request, t): kind is first_token | prefill_done | finished | rejected | failed."""


class Replica:
    """One engine replica; `submit`/`submit_decode`/`release` change it, the properties are router views."""

    def __init__(self, env: simpy.Environment, replica_id: str, role: Role, cost: IterationCost,
                 kv_capacity_tokens: int, config: EngineConfig, on_event: EventCallback) -> None:
        if role not in ROLES:
            raise ValueError(f"role: expected one of {', '.join(ROLES)} but got {role!r}")
        self.env = env
        self.replica_id = replica_id
        self.role = role
        self.cost = cost
        self.config = config
        self.on_event = on_event
        self.block_size = bs = config.block_size
        self.kv = KVBlockManager(int(kv_capacity_tokens) // bs, bs)
        self.itl = ITLRecorder()
        self.alive = True
        self.iterations = 0          # iterations run (stepped or fast-forwarded)
        self.wakeups = 0             # times the process resumed (events, the cost of simulating)
        self._fast = config.stepper == "fast"
        self._use_cache = config.prefix_cache and role != "decode"
        self._chunked = config.chunked_prefill
        self._max_seqs = config.max_num_seqs
        self._max_tokens = config.max_num_batched_tokens
        self._waiting: deque[Request] = deque()
        self._running: list[Request] = []       # admission order; the tail is preempted first
        self._prefilling: list[Request] = []    # running requests still in prefill, admission order
        self._held: dict[int, Request] = {}     # prefill role: prompt done, KV awaiting transfer
        self._heap: list[tuple[int, int, Request]] = []  # (finish iteration, admission no, request)
        self._key_cnt = [0] * bs                # decoding sequences per block-boundary phase
        self._n_dec = 0
        self._ctxbase_sum = 0                   # decode context sum = _ctxbase_sum + _n_dec * D
        self._D = 0                             # iterations completed
        self._alloc_D = -1                      # last iteration whose decode blocks are allocated
        self._seq = 0
        self._pending_prefill = 0
        self._t = float(env.now)
        self._stretch: Stretch | None = None
        self._wake: simpy.Event | None = None
        self._proc = env.process(self._run())

    # ---- public changes ----------------------------------------------------------------------------
    def submit(self, request: Request) -> None:
        """Queue a request for prefill (aggregated or prefill role). Its prompt is input + generated tokens."""
        if self.role == "decode":
            raise SimulationError(f"{self.replica_id}: submit() on a decode replica; use submit_decode()")
        self._enqueue(request, kv_ready=False)
        self._pending_prefill += request._prompt

    def submit_decode(self, request: Request) -> None:
        """Decode role: the prompt's KV has arrived; decode the remaining output tokens."""
        if self.role != "decode":
            raise SimulationError(f"{self.replica_id}: submit_decode() on a {self.role} replica")
        request.generated = max(request.generated, 1)
        if request.generated >= request.output_tokens:
            request.replicas.append(self.replica_id)
            self._complete(request, self.env.now)
            return
        self._enqueue(request, kv_ready=True)

    def release(self, request: Request) -> None:
        """Prefill role: the request's KV transfer finished; free its blocks (its prefix stays cached)."""
        r = self._held.pop(request.id, None)
        if r is None:
            return
        self.kv.give_back(r._own0)
        if r._n_shared:
            self.kv.release(r.hash_ids, r._n_shared)
        r._phase = PH_NONE
        r._engine = None
        self._poke(maybe_admissible=True)

    def set_cost(self, cost: IterationCost) -> None:
        """Change the latency model (a slowdown fault); the iteration in progress keeps its latency."""
        self.cost = cost
        self._poke(maybe_admissible=True, force=True)

    def crash(self) -> list[Request]:
        """The replica dies: returns every request it held (queued, running, awaiting transfer), reset to
        pending with their generated tokens kept; the caller decides their fate. KV and cache are lost."""
        self._sync()
        lost = list(self._running) + list(self._waiting) + list(self._held.values())
        for r in lost:
            if r._phase == PH_DECODE:
                r.generated = r._gen0 + self._D - r._d_enter
            r._phase = PH_NONE
            r._engine = None
            r.prefilled_tokens = 0
            r.status = "pending"
        self.alive = False
        for container in (self._waiting, self._running, self._prefilling, self._held, self._heap):
            container.clear()
        self._key_cnt = [0] * self.block_size
        self._n_dec = self._ctxbase_sum = self._pending_prefill = 0
        self.kv.clear()
        self._stretch = None
        return lost

    # ---- router views (read-only; exact at the current instant, also inside a decode stretch) -----
    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    @property
    def num_running(self) -> int:
        return len(self._running)

    @property
    def num_held(self) -> int:
        """Prefill role: requests whose KV awaits transfer."""
        return len(self._held)

    @property
    def outstanding(self) -> int:
        return len(self._waiting) + len(self._running)

    @property
    def kv_blocks_total(self) -> int:
        return self.kv.total_blocks

    @property
    def kv_blocks_used(self) -> int:
        self._sync()
        return self.kv.used

    @property
    def kv_use_frac(self) -> float:
        total = self.kv.total_blocks
        return self.kv_blocks_used / total if total else 1.0

    @property
    def prefill_tokens_pending(self) -> int:
        """Prompt tokens queued or partially prefilled that are still to compute."""
        return self._pending_prefill

    def match_prefix_blocks(self, hash_ids) -> int:
        """KV blocks of the longest prefix of `hash_ids` in this replica's prefix cache (no side effects)."""
        if not self._use_cache or not hash_ids:
            return 0
        self._sync()
        return self.kv.match_blocks(hash_ids)

    @property
    def itl_gaps_s(self) -> np.ndarray:
        """Inter-token gaps (one entry per iteration with decoders; see `itl_weights`)."""
        return self.itl.gaps_s

    @property
    def itl_weights(self) -> np.ndarray:
        """Decoding sequences in each iteration of `itl_gaps_s` (each contributes one gap)."""
        return self.itl.weights

    @property
    def itl_times_s(self) -> np.ndarray:
        """End time of each iteration of `itl_gaps_s`."""
        return self.itl.times_s

    def itl_samples(self) -> ITLArrays:
        """All ITL samples so far (metrics.ItlSamples.concat accepts these)."""
        t, g, w = self.itl.arrays()
        return ITLArrays(gaps_s=g, weights=w, t_s=t)

    def requests(self) -> list[Request]:
        """Requests on this replica (queued, running, held), for inspection."""
        return list(self._waiting) + list(self._running) + list(self._held.values())

    # ---- the process ---------------------------------------------------------------------------------
    def _run(self):
        env = self.env
        while True:
            work = self._begin()
            if work is None:                      # idle until a submission or a release
                self._wake = env.event()
                yield self._wake
                self._wake = None
                if not self.alive:
                    return
                self.wakeups += 1
                if env.now > self._t:
                    self._t = env.now
                continue
            if isinstance(work, Stretch):
                try:
                    yield env.timeout(max(0.0, float(work.times[-1]) - env.now))
                except simpy.Interrupt:
                    j = int(work.times.searchsorted(env.now, side="left"))
                    work.k = min(work.k, j + 1)
                    yield env.timeout(max(0.0, float(work.times[work.k - 1]) - env.now))
                if not self.alive:
                    return
                self.wakeups += 1
                self._end_stretch(work)
            else:
                latency, chunks, n_dec = work
                t_end = self._t + latency
                yield env.timeout(max(0.0, t_end - env.now))
                if not self.alive:
                    return
                self.wakeups += 1
                self._end_step(t_end, latency, chunks, n_dec)

    def _begin(self):
        """Schedule the iteration starting now (number D): None (idle), a Stretch, or (L, chunks, n_decode)."""
        D = self._D
        self._alloc_D = D
        preempted = False
        if self._n_dec:
            need = self._key_cnt[D % self.block_size]
            if need:
                if need <= self.kv.available:
                    self.kv.alloc(need)
                else:
                    preempted = self._grow_with_preemption(D)
        budget = self._max_tokens - self._n_dec
        chunks: list[tuple[Request, int]] = []
        p_tokens = 0
        attn = 0.0
        kv_read = 0.0
        for r in self._prefilling:                # partial prefills first (chunked mode only)
            if budget <= 0:
                break
            p = r.prefilled_tokens
            c = min(r._prompt - p, budget)
            chunks.append((r, c))
            budget -= c
            p_tokens += c
            attn += c * p + c * (c + 1) / 2
            kv_read += p
        if not preempted or not (chunks or self._n_dec):   # vLLM skips admissions after a preemption
            while self._waiting and len(self._running) < self._max_seqs:
                r = self._waiting[0]
                if r._kv_ready:
                    if budget < 1:
                        break
                    admitted = self._admit_decode(r, D)
                    if admitted < 0:
                        break
                    budget -= admitted
                    continue
                if self._chunked and budget <= 0:
                    break
                c = self._admit_prefill(r, budget, first=not p_tokens)
                if c < 0:
                    break
                if c == 0:                         # failed statically; next in line
                    continue
                p = r.prefilled_tokens
                chunks.append((r, c))
                budget -= c
                p_tokens += c
                attn += c * p + c * (c + 1) / 2
                kv_read += p
        n = self._n_dec
        if not chunks:
            if not n:
                return None
            if self._fast and not preempted:   # a preempted head may be admitted next iteration
                k = self._plan_k(D)
                if k > 1:
                    lat = np.asarray(self.cost.decode_stretch(n, self._ctxbase_sum + n * D, k), dtype=float)
                    st = Stretch(D, k, n, lat, stretch_times(self._t, lat))
                    self._stretch = st
                    return st
        latency = float(self.cost.iteration_time(n, self._ctxbase_sum + n * D, p_tokens, attn, kv_read))
        return latency, chunks, n

    def _end_step(self, t: float, latency: float, chunks: list[tuple[Request, int]], n_dec: int) -> None:
        self._t = t
        self._D += 1
        self._alloc_D = self._D - 1
        self.iterations += 1
        if n_dec:
            self.itl.add(t, latency, n_dec)
        self._finish_due(t)
        for r, c in chunks:
            if r._phase != PH_PREFILL:
                continue
            r.prefilled_tokens += c
            self._pending_prefill -= c
            if r.prefilled_tokens >= r._prompt:
                self._complete_prefill(r, t)

    def _end_stretch(self, st: Stretch) -> None:
        k = st.k
        self._apply_stretch(st, k - 1)
        self._stretch = None
        self._D = st.d0 + k
        self._alloc_D = self._D - 1
        self._t = t = float(st.times[k - 1])
        self.iterations += k
        if k == len(st.lat):
            self.itl.add_many(st.times, st.lat, st.n)
        else:
            self.itl.add_many(st.times[:k].copy(), st.lat[:k].copy(), st.n)
        self._finish_due(t)

    # ---- scheduling pieces ---------------------------------------------------------------------------
    def _plan_k(self, D: int) -> int:
        """Iterations D.. that stay pure decode with the same batch: min(first finish, first block shortage)."""
        heap = self._heap
        while heap and (heap[0][2]._seq != heap[0][1] or heap[0][2]._phase != PH_DECODE):
            heapq.heappop(heap)
        k_fin = heap[0][0] - D
        if k_fin <= 1:
            return 1
        k_blk = safe_iterations(self._key_cnt, self._n_dec, D, self.kv.available)
        return min(k_fin, k_blk, MAX_STRETCH)

    def _apply_stretch(self, st: Stretch, j: int) -> None:
        """Allocate the decode blocks of stretch iterations up to index j (their starts have passed)."""
        if j > st.j_done:
            need = blocks_needed(self._key_cnt, st.n, st.d0 + st.j_done + 1, st.d0 + j)
            if need:
                self.kv.alloc(need)
            st.j_done = j

    def _sync(self) -> None:
        """Materialise a running stretch up to now: iterations ending before now are done."""
        st = self._stretch
        if st is None:
            return
        now = self.env.now
        if now == st.synced_at:
            return
        st.synced_at = now
        j = int(st.times.searchsorted(now, side="left"))
        if j > st.k - 1:
            j = st.k - 1
        if j > st.j_done:
            self._apply_stretch(st, j)
            self._D = st.d0 + j
            self._alloc_D = self._D

    def _grow_with_preemption(self, D: int) -> bool:
        """Give each decoder that needs one a block, in admission order, preempting from the tail."""
        kv, running, key = self.kv, self._running, D % self.block_size
        self._alloc_D = D - 1          # victims have not received this iteration's block yet
        preempted = False
        i = 0
        while i < len(running):
            s = running[i]
            if s._phase == PH_DECODE and s._key == key:
                victim = None
                while kv.available < 1:
                    victim = running[-1]
                    self._preempt(victim)
                    preempted = True
                    if victim is s:
                        break
                if victim is s:
                    break
                kv.alloc(1)
            i += 1
        self._alloc_D = D
        return preempted

    def _admit_prefill(self, r: Request, budget: int, first: bool) -> int:
        """Admit the queue head for prefill: its first chunk size, -1 if it must wait, 0 if it can never fit."""
        bs, kv = self.block_size, self.kv
        prompt = r._prompt
        hbt = r.hash_block_tokens
        n_full = m = bph = 0
        if self._use_cache and r.hash_ids:
            n_full = min(len(r.hash_ids), r.input_tokens // hbt)
            if n_full:
                bph = -(-hbt // bs)
                m = kv.match(r.hash_ids, n_full)
        tail = -(-(prompt - n_full * hbt) // bs)
        total = n_full * bph + tail
        if total > kv.total_blocks:
            self._waiting.popleft()
            self._pending_prefill -= prompt
            self._drop_unservable(r, f"prompt of {prompt} tokens needs {total} KV blocks, "
                                     f"replica {self.replica_id} has {kv.total_blocks}")
            return 0
        own = total - m * bph
        available = kv.available - (kv.evictable_among(r.hash_ids, m) if m else 0)
        if own > available:
            return -1
        hits = min(m * hbt, prompt - 1)
        compute = prompt - hits
        if not self._chunked and not first and compute > budget:
            return -1
        self._waiting.popleft()
        if m:
            kv.acquire(r.hash_ids, m)
        kv.alloc(own)
        r._n_full, r._n_shared, r._own0 = n_full, m, own
        r._cap0 = n_full * hbt + tail * bs
        r.prefilled_tokens = hits
        r.prefix_hit_tokens += hits
        self._pending_prefill -= hits
        r._seq = self._seq
        self._seq += 1
        r._phase = PH_PREFILL
        r.status = RUNNING
        self._running.append(r)
        self._prefilling.append(r)
        return compute if not self._chunked else min(compute, budget)

    def _admit_decode(self, r: Request, D: int) -> int:
        """Decode role: give the head its transferred prompt's blocks and decode it from iteration D.

        1 admitted, -1 must wait, 0 can never fit (dropped)."""
        bs, kv = self.block_size, self.kv
        ctx = r.input_tokens + r.generated - 1
        own = -(-ctx // bs)
        extra = 1 if own * bs == ctx else 0
        if own + extra > kv.total_blocks:
            self._waiting.popleft()
            self._drop_unservable(r, f"context of {ctx + 1} tokens needs {own + extra} KV blocks, "
                                     f"replica {self.replica_id} has {kv.total_blocks}")
            return 0
        if own + extra > kv.available:
            return -1
        self._waiting.popleft()
        kv.alloc(own + extra)
        r._n_full = r._n_shared = 0
        r._own0, r._cap0 = own, own * bs
        r._seq = self._seq
        self._seq += 1
        r.status = RUNNING
        self._running.append(r)
        self._enter_decode(r, D, ctx)
        return 1

    def _enter_decode(self, r: Request, D: int, ctx: int) -> None:
        r._phase = PH_DECODE
        r._d_enter = D
        r._gen0 = r.generated
        r._ctxbase = ctx - D
        r._key = (r._cap0 - r._ctxbase) % self.block_size
        r._dfin = D + r.output_tokens - r.generated
        self._key_cnt[r._key] += 1
        self._n_dec += 1
        self._ctxbase_sum += r._ctxbase
        heapq.heappush(self._heap, (r._dfin, r._seq, r))

    def _complete_prefill(self, r: Request, t: float) -> None:
        """The iteration ending at t computed r's last prompt token: it emits a token."""
        r.generated += 1
        first = math.isnan(r.first_token_s)
        if first:
            r.first_token_s = t
        if self._use_cache and r._n_full > r._n_shared:
            bph = -(-r.hash_block_tokens // self.block_size)
            self.kv.insert(r.hash_ids, r._n_shared, r._n_full, bph)
            r._own0 -= (r._n_full - r._n_shared) * bph
            r._n_shared = r._n_full
        if r.generated >= r.output_tokens:
            if first:
                self.on_event("first_token", r, t)
            self._finish(r, t)
            return
        self._prefilling.remove(r)
        if self.role == "prefill":
            self._running.remove(r)
            r._phase = PH_HELD
            r.status = TRANSFERRING
            self._held[r.id] = r
            if first:
                self.on_event("first_token", r, t)
            self.on_event("prefill_done", r, t)
            return
        self._enter_decode(r, self._D, r._prompt)
        if first:
            self.on_event("first_token", r, t)

    def _finish_due(self, t: float) -> None:
        heap, D = self._heap, self._D
        while heap and heap[0][0] <= D:
            _, seq, r = heapq.heappop(heap)
            if r._seq == seq and r._phase == PH_DECODE:
                self._finish(r, t)

    def _finish(self, r: Request, t: float) -> None:
        self._drop(r)
        self._complete(r, t)

    def _complete(self, r: Request, t: float) -> None:
        r.generated = r.output_tokens
        r.finish_s = t
        r.status = COMPLETED
        r._phase = PH_DONE
        r._engine = None
        self.on_event("finished", r, t)

    def _drop(self, r: Request) -> None:
        """Take a running request out of the batch and free its KV (shared prefix blocks stay cached)."""
        if r._phase == PH_DECODE:
            own = r._own0 + count_congruent(r._d_enter, self._alloc_D, r._key, self.block_size)
            r.generated = r._gen0 + self._D - r._d_enter
            self._n_dec -= 1
            self._key_cnt[r._key] -= 1
            self._ctxbase_sum -= r._ctxbase
        else:
            own = r._own0
            self._prefilling.remove(r)
        self._running.remove(r)
        self.kv.give_back(own)
        if r._n_shared:
            self.kv.release(r.hash_ids, r._n_shared)
            r._n_shared = 0

    def _preempt(self, r: Request) -> None:
        """Preempt by recompute: free r's blocks and put it first in the queue (prompt = input + generated)."""
        if r._phase == PH_PREFILL:
            self._pending_prefill -= r._prompt - r.prefilled_tokens
        self._drop(r)
        r.preemptions += 1
        r._prompt = r.input_tokens + r.generated
        r.prefilled_tokens = 0
        r._kv_ready = False
        r._phase = PH_WAIT
        r.status = QUEUED
        self._pending_prefill += r._prompt
        self._waiting.appendleft(r)

    def _drop_unservable(self, r: Request, reason: str) -> None:
        started = r.generated > 0 or r.preemptions > 0
        r.status = FAILED if started else REJECTED
        r.reason = reason
        r._phase = PH_DONE
        r._engine = None
        self.on_event(r.status, r, self._t)

    def _enqueue(self, r: Request, kv_ready: bool) -> None:
        if not self.alive:
            raise SimulationError(f"{self.replica_id}: submit to a crashed replica")
        r._engine = self
        r._kv_ready = kv_ready
        r._phase = PH_WAIT
        r._prompt = r.input_tokens + r.generated
        r.prefilled_tokens = 0
        r.status = QUEUED
        r.replicas.append(self.replica_id)
        self._waiting.append(r)
        self._poke(maybe_admissible=len(self._waiting) == 1)

    def _poke(self, maybe_admissible: bool, force: bool = False) -> None:
        """Something changed from outside: wake an idle process or cut a decode stretch short."""
        if self._wake is not None:
            if not self._wake.triggered:
                self._wake.succeed()
            return
        st = self._stretch
        if st is None or st.interrupted or not (force or maybe_admissible):
            return
        if not force and len(self._running) >= self._max_seqs:
            return                                  # nothing can join before a finish ends the stretch
        st.interrupted = True
        self._proc.interrupt()

    def _generated_now(self, r: Request) -> int:
        self._sync()
        return r._gen0 + self._D - r._d_enter
