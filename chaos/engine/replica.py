"""One replica (an engine on one TP group) as a SimPy process: vLLM V1-style continuous batching.

Iteration (starts at the replica's own clock `_t`, iteration number D = iterations completed):
  1. every decoding sequence gets one token; those whose KV is full take a block. When none is free
     (after evicting unreferenced prefix-cache blocks) the most recently admitted running sequence
     is preempted by recompute (blocks freed, back to the front of the queue with prompt = input +
     generated tokens); no admissions in an iteration that preempted;
  2. the token budget left (max_num_batched_tokens - decoders) goes to prefill chunks: partial
     prefills first, then waiting requests in the queue's order (FCFS; by priority or VTC counter with
     engine.scheduling, chaos/engine/scheduling.py) while running < max_num_seqs and the whole prompt's
     blocks (minus prefix-cache hits) can be allocated; a blocked head blocks the queue (priority: it
     may first preempt lower-priority running sequences);
  3. at the iteration's end (time `_t + L`, L from the cost model): decoders that joined from a
     transferred or moved KV stream their token ("first_token", or "token" after a gap), decoders
     that reached their output length finish ("finished"), then prompts that completed emit a token
     ("first_token", or "token" after a preemption; prefill role: "prefill_done" instead, the KV held
     until `release` - the client sees that token only when the decode replica streams it with the
     token of its first iteration for the request, so disaggregated TTFT includes the KV transfer
     and the decode-side wait).

KV accounting: a sequence's context is the tokens in its KV (input + generated - 1 while decoding;
`decode_ctx_sum` sums them). It holds its prompt's blocks (shared prefix-cache blocks + private ones)
and takes one more at the start of an iteration when its context fills its slots; see kv.py.
Requests that can never fit (prompt blocks > all blocks) end "rejected" (or "failed" once started).

Lifecycle (lifecycle.py; faults and control call these, never `_` state):
  alive --crash()--> dead --restart()--> alive (fresh engine: new KV, empty prefix cache, new process)
  alive --stall()--> stalled --resume()--> alive: the iteration in progress completes, none starts while
  stalled, submissions queue up; the decoders' next ITL gap includes the stalled time.
  cancel(r) takes one request off (queued, running or held); set_kv_capacity(tokens) retires or restores
  HBM pages (preempting newest first); submit(r, kv_ready=True) decodes from an already present KV;
  set_role(role) on an empty replica. `busy`, `stalled` and `last_progress_s` are for the watchdog.
  A call at time t acts on the state at t: requests taken out lose the token of the iteration in
  progress, which keeps its latency; the next iteration starts from the changed state.

Same-time order (written down because results depend on it):
  * a submission at time t is seen by an iteration that starts at t. The simulation schedules
    arrivals with SimPy priority URGENT; iteration ends are NORMAL timeouts, so at equal times the
    arrival goes first and joins the next iteration, never the one ending at t;
  * lifecycle calls made at URGENT priority (faults, control, router timeouts) likewise act before an
    iteration ending at t: that iteration counts as in progress. A stall at exactly an iteration end
    lets it complete and starts no iteration at t; a cancel or crash at t loses that iteration's token;
  * callbacks run inside the replica's process at the iteration end; a request they submit to the
    same replica joins the iteration that starts right then. A NORMAL-priority submission from
    another process at exactly an iteration end counts as arriving before that end (fast stepper);
    the reference stepper orders it by SimPy's event id instead - equal float times across replicas
    are the only place the steppers may differ;
  * within one iteration end: decode finishes (by finish iteration, then admission order), then
    prompt completions in admission order.

Fast-forward (stepper "fast"): when step 2 schedules no prefill work (and nothing was preempted,
so the queue head is truly blocked until a finish frees a slot or blocks) the batch is pure decode and
stays so until (a) the first sequence finishes (top of a heap of finish iterations), (b) an iteration
would need more blocks than are free or evictable (`stretch.safe_iterations`), or (c) an outside
event (a submission, release, cost change or any lifecycle call). k = min(a, b) iterations are
priced in one call, `cost.decode_stretch(n, ctx_sum0, k)`, their end times are a cumulative sum
from `_t`, and the process sleeps until the last one. A submission at
tw inside the stretch interrupts it: j = searchsorted(times, tw, "left") is the iteration in
progress; it completes and the newcomer joins iteration j+1 at times[j]. The cut moves the process's
wake-up from the stretch's end to times[j] (`_cut_stretch`: a new timeout takes over the old one's
callbacks) rather than interrupting it, which spared a SimPy Interrupt, its exception and a second
timeout per arrival; the process still resumes straight from a timeout at times[j]. Views during a stretch are
materialised lazily (`_sync`): iterations ending before now are done, the one in progress has its
blocks. A lifecycle call cuts a stretch the same way (`_cut`/`_poke(force=True)`) after
materialising it with `_sync`; a crash counts the iterations that ended (`_settle_stretch`).
The reference stepper runs the same code with k = 1 and one timeout per iteration.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import deque
from typing import Callable, Literal

import numpy as np
import simpy

from chaos.engine.caching import PrefixCaching
from chaos.engine.config import EngineConfig
from chaos.engine.cost import IterationCost
from chaos.engine.itl import ITLArrays, ITLRecorder, TenantITL
from chaos.engine.kv import KVBlockManager
from chaos.engine.lifecycle import Lifecycle
from chaos.engine.request import PH_NONE, PH_WAIT, QUEUED, Request
from chaos.engine.reservation import Reservations
from chaos.engine.scheduler import Scheduler
from chaos.engine.scheduling import TenantTable, make_scheduling
from chaos.engine.stretch import Stretch
from chaos.errors import SimulationError

Role = Literal["aggregated", "prefill", "decode"]
ROLES = ("aggregated", "prefill", "decode")
EventCallback = Callable[[str, Request, float], None]
"""on_event(kind, request, t): kind is first_token | token | prefill_done | finished | rejected | failed.

"token" is a token after a gap in the request's stream (re-prefill after a preemption, first decode
iteration after a KV transfer or a move); `request.last_token_s` still holds the previous token's time."""


class Replica(Scheduler, PrefixCaching, Lifecycle, Reservations):
    """One engine replica; `submit`/`submit_decode`/`release` change it, the properties are router views;
    crash/restart/stall/resume/cancel/set_kv_capacity/set_role (lifecycle.py) are for faults and control."""

    def __init__(self, env: simpy.Environment, replica_id: str, role: Role, cost: IterationCost,
                 kv_capacity_tokens: int, config: EngineConfig, on_event: EventCallback,
                 tenants: TenantTable | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"role: expected one of {', '.join(ROLES)} but got {role!r}")
        self.env = env
        self.replica_id = replica_id
        self.role = role
        self.cost = cost
        self.config = config
        self.on_event = on_event
        self.on_load: Callable[["Replica"], None] | None = None
        """Called with the replica whenever `outstanding` changes (the router's load index listens)."""
        self.block_size = bs = config.block_size
        self._kv_target = self._blocks_of(kv_capacity_tokens)   # blocks asked for (set_kv_capacity)
        self.kv = KVBlockManager(self._kv_target, bs)
        self.itl = ITLRecorder()
        self._titl = TenantITL() if tenants is not None else None   # ITL by tenant, with tenants: only
        self.alive = True
        # requests the router addressed to this replica that are not in its queues: a connect still in
        # progress, or a stream hung on a silent host; the router counts them as active (Envoy's per-host
        # rq_active), so least-outstanding routing does not pour traffic into a black hole
        self._in_network = 0
        self.iterations = 0          # iterations run (stepped or fast-forwarded)
        self.wakeups = 0             # times the process resumed (events, the cost of simulating)
        self._fast = config.stepper == "fast"
        self._use_cache = config.prefix_cache  # a decode replica caches transferred prompts (scheduler._admit_decode)
        self._chunked = config.chunked_prefill
        self._chunk_alloc = config.kv_admission == "chunk"  # blocks per scheduled chunk (vLLM V1)
        self._max_seqs = config.max_num_seqs
        self._max_tokens = config.max_num_batched_tokens
        # waiting queue and the policy's hooks (None for fcfs): chaos.engine.scheduling
        self._waiting: deque[Request]
        self._waiting, self._policy = make_scheduling(config, tenants, clock=lambda: self._D)
        self._running: list[Request] = []       # admission order; the tail is preempted first
        self._prefilling: list[Request] = []    # running requests still in prefill, admission order
        self._held: dict[int, Request] = {}     # prefill role: prompt done, KV awaiting transfer
        self._prealloc: deque[Request] = deque()  # decode role: transfers waiting for KV (reservation.py)
        self._reserved: dict[int, tuple[Request, int]] = {}  # decode role: request id -> (request, blocks)
        self._heap: list[tuple[int, int, Request]] = []  # (finish iteration, admission no, request)
        self._key_cnt = [0] * bs                # decoding sequences per block-boundary phase
        self._n_dec = 0
        self._ctxbase_sum = 0                   # decode context sum = _ctxbase_sum + _n_dec * D
        self._D = 0                             # iterations completed
        self._alloc_D = -1                      # last iteration whose decode blocks are allocated
        self._seq = 0
        self._pending_prefill = 0
        self._t = float(env.now)
        self._progress_s = self._t              # see last_progress_s
        self._itl_carry_s = 0.0                 # stalled time the next decode gap includes
        self._stalled = False
        self._epoch = 0                         # bumped by crash: an older process exits when it wakes
        self._stretch: Stretch | None = None
        self._stretch_wait: simpy.Event | None = None   # the timeout a running stretch's process waits on
        self._wake: simpy.Event | None = None
        self._proc = env.process(self._run(self._epoch))

    # ---- public changes ----------------------------------------------------------------------------
    def submit(self, request: Request, kv_ready: bool = False) -> None:
        """Queue a request for prefill (aggregated or prefill role). Its prompt is input + generated tokens.

        kv_ready=True (aggregated or decode role): the request's KV for input + generated tokens is
        already here (a replicated copy, DejaVu style): it waits only for its blocks and decodes its next
        token in the first iteration it joins, with no prefill. A request with no token yet has no
        finished KV to copy and is prefilled as usual."""
        if kv_ready and self.role != "prefill":
            if self.role == "decode" or request.generated >= 1:
                self._submit_decoding(request)
                return
        if self.role == "decode":
            raise SimulationError(f"{self.replica_id}: submit() on a decode replica; use submit_decode()")
        if kv_ready and self.role == "prefill":
            raise SimulationError(f"{self.replica_id}: submit(kv_ready=True) on a prefill replica")
        self._enqueue(request, kv_ready=False)
        self._pending_prefill += request._prompt

    def submit_decode(self, request: Request) -> None:
        """Decode role: the prompt's KV has arrived; decode the remaining output tokens."""
        if self.role != "decode":
            raise SimulationError(f"{self.replica_id}: submit_decode() on a {self.role} replica")
        self._submit_decoding(request)

    def release(self, request: Request) -> None:
        """Prefill role: the request's KV transfer finished; free its blocks (its prefix stays cached)."""
        r = self._held.pop(request.id, None)
        if r is None:
            return
        self._free_held(r)
        r._phase = PH_NONE
        r._engine = None
        self._fit_kv()
        self._poke(maybe_admissible=True)

    def set_cost(self, cost: IterationCost) -> None:
        """Change the latency model (a slowdown fault); the iteration in progress keeps its latency."""
        self.cost = cost
        self._poke(maybe_admissible=True, force=True)

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
    def in_network(self) -> int:
        """Requests the router addressed here that sit in the network (see __init__); setting it reports
        the load change to `on_load`, as every other change of `outstanding` does."""
        return self._in_network

    @in_network.setter
    def in_network(self, n: int) -> None:
        self._in_network = n
        self._load_changed()

    @property
    def outstanding(self) -> int:
        """Requests queued or running here, plus those the router sent that sit in the network."""
        return len(self._waiting) + len(self._running) + self._in_network

    @property
    def kv_blocks_total(self) -> int:
        """Blocks now (after set_kv_capacity; above the target while KV held for a transfer awaits release)."""
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
        if not self._use_cache or self.role == "decode" or not hash_ids:
            return 0              # a decode replica's cache serves its own recomputes, not routing
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

    def bin_itl_by(self, window_s: float) -> None:
        """Keep ITL samples (the replica's and its tenants') as histograms per metrics window."""
        self.itl.bin_by(window_s)
        if self._titl is not None:
            self._titl.bin_by(window_s)

    def tenant_itl_samples(self) -> dict[int, ITLArrays]:
        """ITL samples by tenant id (empty when the fleet has no tenants); weights sum to itl_samples'."""
        return self._titl.arrays() if self._titl is not None else {}

    def take_closed_tenant_itl(self, cut_s: float) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per-tenant ITL bins of windows that ended by `cut_s`, handed over (a spilling run writes them
        to disk; ITLRecorder.take_closed)."""
        return self._titl.take_closed(cut_s) if self._titl is not None else {}

    def waiting_requests(self) -> list[Request]:
        """Requests queued here, not yet admitted (for the router's shedding)."""
        return list(self._waiting)

    def requests(self) -> list[Request]:
        """Requests on this replica (queued, running, held), for inspection; reservations for KV still
        on a prefill replica are `reservations()`."""
        return list(self._waiting) + list(self._running) + list(self._held.values())

    def reservations(self) -> list[Request]:
        """Requests whose KV this decode replica has reserved or queued for, not yet handed over."""
        return self._reservation_requests()

    # ---- the process ---------------------------------------------------------------------------------
    def _run(self, epoch: int):
        env = self.env
        while epoch == self._epoch:
            work = None if self._stalled else self._begin()
            if work is None:                      # idle or stalled until a submission, release or resume
                self._wake = env.event()
                yield self._wake
                if epoch != self._epoch:
                    return
                self._wake = None
                self.wakeups += 1
                if env.now > self._t:
                    if self._n_dec:               # stalled with decoders: their next gap spans the stall
                        self._itl_carry_s += env.now - self._t
                    self._t = env.now
                continue
            if isinstance(work, Stretch):
                self._stretch_wait = env.timeout(max(0.0, float(work.times[-1]) - env.now))
                yield self._stretch_wait          # or the earlier timeout `_cut_stretch` moved it to
                if epoch != self._epoch:
                    return
                self._stretch_wait = None
                self.wakeups += 1
                self._end_stretch(work)
            else:
                latency, chunks, n_dec, fresh = work
                t_end = self._t + latency
                yield env.timeout(max(0.0, t_end - env.now))
                if epoch != self._epoch:
                    return
                self.wakeups += 1
                self._end_step(t_end, latency, chunks, n_dec, fresh)

    def _submit_decoding(self, r: Request) -> None:
        """Queue r to decode from its KV (input + generated tokens, at least one generated)."""
        self._check_submittable(r)
        r.generated = max(r.generated, 1)
        if r.generated >= r.output_tokens:
            r.replicas.append(self.replica_id)
            self._complete(r, self.env.now)
            return
        self._enqueue(r, kv_ready=True)

    def _enqueue(self, r: Request, kv_ready: bool) -> None:
        self._check_submittable(r)
        if not (self._waiting or self._running):
            self._progress_s = max(self._progress_s, float(self.env.now))   # idle -> busy: the clock starts
        r._engine = self
        r._kv_ready = kv_ready
        r._phase = PH_WAIT
        r._prompt = r.input_tokens + r.generated
        r.prefilled_tokens = 0
        r.status = QUEUED
        r.replicas.append(self.replica_id)
        pol = self._policy
        if pol is not None:            # fair: the lift on joining reads counters as of now
            self._sync()
        self._waiting.append(r)
        self._load_changed()
        # a request with reserved blocks is admitted past a head blocked on KV (scheduler._admit_reserved)
        if pol is None:
            self._poke(len(self._waiting) == 1 or r.id in self._reserved)
        else:
            self._poke(maybe_admissible=self._waiting[0] is r or r.id in self._reserved,
                       force=pol.preempts(r, self._running))

    def _load_changed(self) -> None:
        if self.on_load is not None:
            self.on_load(self)

    def _check_submittable(self, r: Request) -> None:
        if not self.alive:
            raise SimulationError(f"{self.replica_id}: submit to a crashed replica")
        if r._engine is not None:       # the engine's bookkeeping lives on the Request: one replica at a time
            raise SimulationError(f"{self.replica_id}: request {r.id} is still on {r._engine.replica_id} "
                                  f"(release or cancel it first; a hedged copy needs its own Request)")

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
        self._cut_stretch(st)

    def _cut_stretch(self, st: Stretch) -> None:
        """End the running stretch after the iteration in progress at now: the process, waiting on the
        stretch's end, now wakes at that iteration's end (its resume callback moves to a new timeout)."""
        st.interrupted = True
        env = self.env
        # searchsorted(times, now, "left") on the sorted times, without numpy's call set-up (per arrival)
        j = bisect_left(st.times, env.now)
        if j + 1 >= st.k:
            return                                  # the iteration in progress is the last one anyway
        st.k = j + 1
        old = self._stretch_wait
        new = env.timeout(max(0.0, float(st.times[j]) - env.now))
        new.callbacks, old.callbacks = old.callbacks, []
        self._stretch_wait = new

    def _generated_now(self, r: Request) -> int:
        self._sync()
        return r._gen0 + self._D - r._d_enter
