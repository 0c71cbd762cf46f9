"""The iteration logic of a Replica: schedule an iteration, end it, admit, grow, preempt, finish.

A mixin: the state (queues, KV manager, iteration counter D, the decode-stretch bookkeeping) lives on
the Replica (replica.py), whose module docstring describes the algorithm and the same-time order.
Both steppers run this code; the fast one only differs in `_begin` returning a Stretch.
"""
from __future__ import annotations

import heapq
import math

import numpy as np

from chaos.engine.caching import park_key
from chaos.engine.request import (COMPLETED, FAILED, PH_DECODE, PH_DONE, PH_HELD, PH_PREFILL, PH_WAIT,
                                  QUEUED, REJECTED, RUNNING, TRANSFERRING, Request)
from chaos.engine.stretch import (MAX_STRETCH, Stretch, blocks_needed, count_congruent, safe_iterations,
                                  stretch_times)


class Scheduler:
    """Iteration-level methods of Replica (see replica.py for the state they use)."""

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
        pol = self._policy
        budget = self._max_tokens - self._n_dec
        chunks: list[tuple[Request, int]] = []
        fresh: list[Request] = []                 # decoders whose first token here follows a gap
        p_tokens = 0
        attn = 0.0
        kv_read = 0.0
        for r in list(self._prefilling):          # partial prefills first (chunked mode only)
            if budget <= 0:
                break
            if r._phase != PH_PREFILL:             # preempted for an earlier one's chunk
                continue
            p = r.prefilled_tokens
            c = min(r._prompt - p, budget)
            victims = self._grow_chunk(r, c)
            if victims:
                preempted = True
                if victims < 0:
                    break
            chunks.append((r, c))
            budget -= c
            p_tokens += c
            attn += c * p + c * (c + 1) / 2
            kv_read += p
        if not preempted or not (chunks or self._n_dec):   # vLLM skips admissions after a preemption
            while self._waiting:
                if len(self._running) >= self._max_seqs:
                    freed = None if pol is None else self._preempt_for_head(pol, chunks, budget)
                    if freed is not None:
                        budget += freed
                        continue
                    break
                r = self._waiting[0]
                if r._kv_ready:
                    if budget < 1:
                        break
                    admitted = self._admit_decode(r, D)
                    if admitted < 0:
                        freed = None if pol is None else self._preempt_for_head(pol, chunks, budget)
                        if freed is not None:
                            budget += freed
                            continue
                        break
                    if admitted:
                        fresh.append(r)
                    budget -= admitted
                    continue
                if self._chunked and budget <= 0:
                    break
                c = self._admit_prefill(r, budget, first=not p_tokens)
                if c < 0:
                    freed = None if pol is None else self._preempt_for_head(pol, chunks, budget)
                    if freed is not None:
                        budget += freed
                        continue
                    if self._reserved:             # blocks already held for them: they never wait for KV
                        budget -= self._admit_reserved(D, budget, fresh)
                    break
                if c == 0:                         # failed statically; next in line
                    continue
                p = r.prefilled_tokens
                chunks.append((r, c))
                budget -= c
                p_tokens += c
                attn += c * p + c * (c + 1) / 2
                kv_read += p
        if self._prealloc:                     # blocks a preemption or a failed head left free
            self._serve_prealloc()
        n = self._n_dec
        if self._titl is not None and n:
            self._titl.snapshot()             # the plan's decoders per tenant (ITL by tenant)
        if not chunks:
            if not n:
                return None
            # a preempted head may be admitted next iteration; a fresh decoder's token is an event
            if self._fast and not preempted and not fresh and (pol is None or pol.stretch_ok(
                    len(self._waiting), len(self._running), self._max_seqs)):
                k = self._plan_k(D)
                if k > 1:
                    lat = np.asarray(self.cost.decode_stretch(n, self._ctxbase_sum + n * D, k), dtype=float)
                    st = Stretch(D, k, n, lat, stretch_times(self._t, lat))
                    self._stretch = st
                    return st
        latency = float(self.cost.iteration_time(n, self._ctxbase_sum + n * D, p_tokens, attn, kv_read,
                                                 len(chunks)))
        return latency, chunks, n, fresh

    def _end_step(self, t: float, latency: float, chunks: list[tuple[Request, int]], n_dec: int,
                  fresh: list[Request]) -> None:
        self._t = t
        d = self._D
        self._D += 1
        self._alloc_D = self._D - 1
        self.iterations += 1
        self._progress_s = t
        if n_dec > len(fresh):         # a fresh decoder's gap is not this iteration's latency: see _stream
            self.itl.add(t, latency + self._itl_carry_s, n_dec - len(fresh))
            if self._titl is not None:
                self._titl.add(t, latency + self._itl_carry_s, fresh)
        self._itl_carry_s = 0.0
        for r in fresh:
            if r._engine is self and r._phase == PH_DECODE and r._d_enter == d:
                self._stream(r, t)
        self._finish_due(t)
        if self._prealloc:
            self._serve_prealloc()
        for r, c in chunks:
            if r._engine is not self or r._phase != PH_PREFILL:
                continue        # cancelled during this iteration (and maybe already prefilling elsewhere)
            r.prefilled_tokens += c
            self._pending_prefill -= c
            if self._use_cache and r._n_full > r._n_shared:
                self._cache_computed(r)
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
        self._progress_s = t
        gaps = st.lat[:k]              # views: the recorders copy what they keep
        if self._itl_carry_s:
            gaps = gaps.copy()
            gaps[0] += self._itl_carry_s
            self._itl_carry_s = 0.0
        times = st.times[:k]
        self.itl.add_many(times, gaps, st.n)
        if self._titl is not None:
            self._titl.add_many(times, gaps)
        self._finish_due(t)
        if self._prealloc:
            self._serve_prealloc()

    def _plan_k(self, D: int) -> int:
        """Iterations D.. that stay pure decode with the same batch: min(first finish, first block shortage)."""
        heap = self._heap
        while heap and (heap[0][2]._seq != heap[0][1] or heap[0][2]._phase != PH_DECODE):
            heapq.heappop(heap)
        k_fin = heap[0][0] - D
        if k_fin <= 1:
            return 1
        # chunk admission: a growth block that evicts a cached prefix can make the queue head's first
        # chunk fit (it needs fewer new blocks than the hits it loses), so stop before evicting
        room = self.kv.free if self._chunk_alloc and self._waiting else self.kv.available
        k = min(k_fin, MAX_STRETCH)
        if k <= (room // self._n_dec) * self.block_size:     # whole periods of blocks cover it
            return k
        return min(k, safe_iterations(self._key_cnt, self._n_dec, D, room))

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
                    if self._policy is None:
                        victim = running[-1]
                    else:        # a policy's victim may precede s: s and the rest shift left
                        victim = self._policy.victim(running)
                        if running.index(victim) < i:
                            i -= 1
                            if victim._phase == PH_DECODE and victim._key == key:
                                kv.give_back(1)      # the block it got this iteration (_drop counts to D - 1)
                    self._preempt(victim)
                    preempted = True
                    if victim is s:
                        break
                if victim is s:
                    if self._policy is None:
                        break            # the tail: nothing after it
                    continue             # running[i] is now the one after s
                kv.alloc(1)
            i += 1
        self._alloc_D = D
        return preempted

    def _preempt_for_head(self, pol, chunks, budget: int) -> int | None:
        """Priority scheduling: when the waiting head cannot get in for want of a batch slot or KV blocks
        (as admission counts them), preempt the running sequence of lowest priority below the head's,
        if any, other than those with a prefill chunk in this iteration. None when none was preempted,
        else the tokens it gives back to this iteration's budget (1 for a decoder: its token is not
        computed; a replica whose last decoder went could otherwise sit idle with a budget of 0)."""
        head = self._waiting[0]
        if head._kv_ready:             # a decode admission: its reserved blocks, if any, come with it
            total = self._decode_blocks(head)
            held = self._reserved.get(head.id)
            blocked = total > self.kv.available + (held[1] if held is not None else 0)
        else:
            _, m, bph, _, total, _, _, _, own, available, parked = self._prefill_plan(head, budget)
            blocked = self._kv_blocked(total, m, bph, own, available, parked)
        if total > self.kv.total_blocks:
            return None             # it can never fit: admission drops it, no one is preempted
        if len(self._running) < self._max_seqs and not blocked:
            return None             # blocked by the token budget: preempting would not help
        busy = {id(r) for r, _ in chunks}
        victim = pol.preempt_victim(head, [r for r in self._running if id(r) not in busy])
        if victim is None:
            return None
        freed = 1 if victim._phase == PH_DECODE else 0
        self._preempt(victim)
        return freed

    def _prefill_plan(self, r: Request, budget: int) -> tuple[int, ...]:
        """(whole hash blocks, of them cached, KV blocks per hash block, tail blocks, total blocks, cached
        tokens, first chunk, tokens its blocks cover, private blocks to allocate, blocks available for
        them, of those its own parked ones) of admitting r for prefill now with `budget` tokens left."""
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
        # a preempted request's parked KV (vLLM V1, see _park); none for a prompt that can never fit
        parked = self._unpark_hit(r, n_full, m) if self._use_cache and total <= kv.total_blocks else 0
        hits = min(m * hbt + parked * bs, prompt - 1)
        compute = prompt - hits
        c = compute if not self._chunked else min(compute, budget)
        r._n_full = n_full
        if self._chunk_alloc:     # vLLM V1: blocks for the first chunk only; later chunks take theirs
            cov = hits + c
            own = max(0, self._blocks_upto(r, cov) - m * bph)
        else:                     # the whole prompt's blocks up front
            cov = prompt
            own = total - m * bph
        available = kv.available - (kv.evictable_among(r.hash_ids, m) if m else 0) - parked
        return n_full, m, bph, tail, total, hits, c, cov, own, available, parked

    def _kv_blocked(self, total: int, m: int, bph: int, own: int, available: int, parked: int) -> bool:
        """Admission's KV test (its parked blocks come back as its own): the first allocation does not
        fit, or (chunk admission) the prompt could only finish on blocks held for transfers that already
        arrived (see _reserved_arrived)."""
        if own - parked > available:
            return True
        return self._chunk_alloc and total - m * bph - parked > available and self._reserved_arrived()

    def _admit_prefill(self, r: Request, budget: int, first: bool) -> int:
        """Admit the queue head for prefill: its first chunk size, -1 if it must wait, 0 if it can never fit."""
        bs, kv = self.block_size, self.kv
        prompt = r._prompt
        hbt = r.hash_block_tokens
        n_full, m, bph, tail, total, hits, c, cov, own, available, parked = self._prefill_plan(r, budget)
        compute = prompt - hits
        if total > kv.total_blocks:
            self._waiting.popleft()
            self._pending_prefill -= prompt
            self._drop_unservable(r, f"prompt of {prompt} tokens needs {total} KV blocks, "
                                     f"replica {self.replica_id} has {kv.total_blocks}")
            return 0
        if self._kv_blocked(total, m, bph, own, available, parked):
            return -1
        if not self._chunked and not first and compute > budget:
            return -1
        self._waiting.popleft()
        if self._policy is not None:
            self._policy.admitted(r, compute)
        if m:
            kv.acquire(r.hash_ids, m)
        if parked:
            kv.unpark(park_key(r))                 # its own blocks again, their KV intact
            r._park = None
        kv.alloc(own)
        r._n_shared, r._own0, r._cov = m, own, max(cov, m * hbt)
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
        return c

    def _blocks_upto(self, r: Request, tokens: int) -> int:
        """KV blocks (shared prefix segments and private ones) that hold r's first `tokens` prompt tokens:
        a whole hash segment takes ceil(hash_block_tokens / block_size) blocks, the rest block by block."""
        bs, nf = self.block_size, r._n_full
        if not nf:
            return -(-tokens // bs)
        hbt = r.hash_block_tokens
        bph, seg = -(-hbt // bs), nf * hbt
        if tokens <= seg:
            return (tokens // hbt) * bph + -(-(tokens % hbt) // bs)
        return nf * bph + -(-(tokens - seg) // bs)

    def _grow_chunk(self, r: Request, c: int) -> int:
        """Blocks for r's next chunk of c tokens (chunk admission), preempting from the running tail (the
        policy's victim with engine.scheduling) as vLLM V1 does when they are short. Returns the sequences preempted, -1 when r itself had to go."""
        end = r.prefilled_tokens + c
        if end <= r._cov:
            return 0
        need = self._blocks_upto(r, end) - self._blocks_upto(r, r._cov)
        kv = self.kv
        victims = 0
        pol = self._policy
        while need > kv.available:
            victim = self._running[-1] if pol is None else pol.victim(self._running)
            self._preempt(victim)
            victims += 1
            if victim is r:
                return -1
        kv.alloc(need)
        r._own0 += need
        r._cov = end
        return victims

    def _reserved_arrived(self) -> bool:
        """Decode role: a transferred request waits here on blocks reserved for it. A head admitted by
        its first chunk alone would otherwise take the seat those requests need and, short of the
        blocks they hold, preempt itself at every chunk forever (a livelock with max_num_seqs 1)."""
        return any(r._engine is self for r, _ in self._reserved.values())

    def _admit_reserved(self, D: int, budget: int, fresh: list[Request]) -> int:
        """Decode role, the queue head blocked on KV: admit the transferred requests behind it whose
        blocks were reserved before the transfer (else they would hold blocks the head waits for, a
        deadlock). Returns the budget used."""
        used = 0
        for r in [r for r in self._waiting if r._kv_ready and r.id in self._reserved]:
            if len(self._running) >= self._max_seqs or budget - used < 1:
                break
            if self._policy is None:        # fcfs: it becomes the head (a policy queue keeps its key order)
                self._waiting.remove(r)
                self._waiting.appendleft(r)
            if self._admit_decode(r, D) == 1:
                fresh.append(r)
                used += 1
        return used

    def _admit_decode(self, r: Request, D: int) -> int:
        """Decode role: give r (the head, or a reserved request behind it) its transferred prompt's blocks and decode it from iteration D.

        1 admitted, -1 must wait, 0 can never fit (dropped)."""
        bs, kv = self.block_size, self.kv
        ctx = r.input_tokens + r.generated - 1
        own = -(-ctx // bs)
        extra = 1 if own * bs == ctx else 0
        held = self._reserved.pop(r.id, None)
        if held is not None:                  # its blocks were reserved before the transfer
            kv.give_back(held[1])
        if own + extra > kv.total_blocks:
            self._unqueue(r)
            self._drop_unservable(r, f"context of {ctx + 1} tokens needs {own + extra} KV blocks, "
                                     f"replica {self.replica_id} has {kv.total_blocks}")
            return 0
        if own + extra > kv.available:
            return -1
        self._unqueue(r)
        kv.alloc(own + extra)
        r._n_full = r._n_shared = 0
        r._own0, r._cap0 = own, own * bs
        if self._use_cache and r.hash_ids and r.hash_block_tokens % bs == 0:
            self._cache_transferred(r)
        r._seq = self._seq
        self._seq += 1
        r.status = RUNNING
        self._running.append(r)
        self._enter_decode(r, D, ctx)
        return 1

    def _unqueue(self, r: Request) -> None:
        """Take r out of the waiting queue: the head by popleft, else by remove."""
        if self._waiting[0] is r:
            self._waiting.popleft()
        else:
            self._waiting.remove(r)

    def _enter_decode(self, r: Request, D: int, ctx: int) -> None:
        r._phase = PH_DECODE
        r._d_enter = D
        r._gen0 = r.generated
        r._ctxbase = ctx - D
        r._key = (r._cap0 - r._ctxbase) % self.block_size
        r._dfin = D + r.output_tokens - r.generated
        self._key_cnt[r._key] += 1
        self._n_dec += 1
        if self._titl is not None:
            self._titl.enter(r.tenant)
        self._ctxbase_sum += r._ctxbase
        if self._policy is not None:
            self._policy.decode(r, D, 1)
        heapq.heappush(self._heap, (r._dfin, r._seq, r))

    def _stream(self, r: Request, t: float) -> None:
        """r's token at t reaches its stream after a gap (its first token, or the first after a
        preemption, a KV transfer or a move): "first_token" or "token", then last_token_s = t. Tokens
        of an uninterrupted decode segment are not events: their gaps are the replica's ITL samples."""
        if math.isnan(r.first_token_s):
            r.first_token_s = t
            self.on_event("first_token", r, t)
        else:
            self.on_event("token", r, t)
        r.last_token_s = t

    def _last_end_s(self) -> float:
        """End time of iteration D-1, the last one completed (also inside a synced decode stretch)."""
        st = self._stretch
        if st is not None and self._D > st.d0:
            return float(st.times[self._D - st.d0 - 1])
        return self._t

    def _complete_prefill(self, r: Request, t: float) -> None:
        """The iteration ending at t computed r's last prompt token: it emits a token. On a prefill
        replica the token travels with the KV: the client sees it when the decode replica streams it."""
        r.generated += 1
        if self._policy is not None:
            self._policy.first_token(r)
        if self._use_cache and r._n_full > r._n_shared:
            bph = -(-r.hash_block_tokens // self.block_size)
            self.kv.insert(r.hash_ids, r._n_shared, r._n_full, bph)
            r._own0 -= (r._n_full - r._n_shared) * bph
            r._n_shared = r._n_full
        if r.generated >= r.output_tokens:
            self._stream(r, t)
            self._finish(r, t)
            return
        self._prefilling.remove(r)
        if self.role == "prefill":
            self._running.remove(r)
            self._load_changed()
            r._phase = PH_HELD
            r.status = TRANSFERRING
            r.last_token_s = t
            self._held[r.id] = r
            self.on_event("prefill_done", r, t)
            return
        self._enter_decode(r, self._D, r._prompt)
        self._stream(r, t)

    def _finish_due(self, t: float) -> None:
        heap, D = self._heap, self._D
        while heap and heap[0][0] <= D:
            _, seq, r = heapq.heappop(heap)
            if r._seq == seq and r._phase == PH_DECODE:
                self._finish(r, t)

    def _finish(self, r: Request, t: float) -> None:
        self._drop(r)
        self._load_changed()
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
            if self._D > r._d_enter:
                r.last_token_s = self._last_end_s()
            self._n_dec -= 1
            if self._titl is not None:
                self._titl.leave(r.tenant)
            self._key_cnt[r._key] -= 1
            self._ctxbase_sum -= r._ctxbase
            if self._policy is not None:
                self._policy.decode(r, self._D, -1)
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
        decoding, shared, computed = r._phase == PH_DECODE, r._n_shared, r.prefilled_tokens
        if r._phase == PH_PREFILL:
            self._pending_prefill -= r._prompt - r.prefilled_tokens
        self._drop(r)
        if self._use_cache and shared == r._n_full:
            self._park(r, r.input_tokens + r.generated - 1 if decoding else computed)
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
        self._load_changed()
        self.on_event(r.status, r, self._t)
