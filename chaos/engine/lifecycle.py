"""Replica lifecycle for faults and control: crash, restart, stall/resume, cancel, KV capacity, role.

A mixin of Replica (replica.py, whose docstring has the same-time order). Every call takes effect at
the current instant `env.now`, in the middle of whatever iteration is in progress:
  * the iteration in progress keeps its latency (its batch was fixed when it started);
  * a request taken out of it (cancel, KV-capacity preemption, crash) does not get that iteration's
    token: its generated count is the tokens of the iterations that ended before now;
  * the next iteration starts from the changed state. A fast-forward stretch is cut after the
    iteration in progress (the same `_poke(force=True)` cut a submission uses), so the fast
    stepper stays equal to the per-iteration reference stepper.
Nothing here fires an `on_event` callback: the caller asked for the change and decides what happens to
the requests it gets back (crash, restart) or took out (cancel). The requests a KV-capacity loss
preempts are recomputed on this replica, as any preemption.
"""
from __future__ import annotations

from chaos.engine.cost import IterationCost
from chaos.engine.kv import KVBlockManager
from chaos.engine.request import PENDING, PH_DECODE, PH_HELD, PH_NONE, PH_PREFILL, PH_WAIT, Request
from chaos.errors import SimulationError


class Lifecycle:
    """Fault and control hooks of Replica (the state lives on the Replica; see replica.py)."""

    # ---- views for the progress watchdog and the control plane ---------------------------------------
    @property
    def stalled(self) -> bool:
        """The engine is stuck (`stall`): it accepts submissions but starts no iteration until `resume`."""
        return self._stalled

    @property
    def busy(self) -> bool:
        """It has work it should be making progress on: queued or running requests (held KV awaiting a
        transfer is not engine work)."""
        return bool(self._waiting) or bool(self._running)

    @property
    def last_progress_s(self) -> float:
        """When the engine last made progress: the end of the last completed iteration, or the time it
        went from idle to busy if later (an idle replica owes no progress, so a request arriving after a
        long idle period does not look like a stall). Exact at now, also inside a decode stretch."""
        p = self._progress_s
        st = self._stretch
        if st is not None:
            j = min(int(st.times.searchsorted(self.env.now, side="left")), st.k - 1)
            if j > 0 and st.times[j - 1] > p:
                p = float(st.times[j - 1])
        return p

    # ---- changes -----------------------------------------------------------------------------------
    def crash(self) -> list[Request]:
        """The replica dies: returns every request it held (queued, running, awaiting transfer), reset to
        pending with their generated tokens kept; the caller decides their fate. KV and cache are lost,
        the process ends, a stall is forgotten. A second crash returns []."""
        if not self.alive:
            return []
        self._sync()
        self._settle_stretch()
        lost = list(self._running) + list(self._waiting) + list(self._held.values())
        for r in lost:
            if r._phase == PH_DECODE:
                r.generated = r._gen0 + self._D - r._d_enter
                if self._D > r._d_enter:
                    r.last_token_s = self._last_end_s()
            self._detach(r)
        lost += self._reservation_requests()   # still held on their prefill replica: left as they are
        self._prealloc.clear()
        self._reserved.clear()
        self.alive = False
        self._stalled = False
        self._epoch += 1                     # the process exits when it next wakes
        for container in (self._waiting, self._running, self._prefilling, self._held, self._heap):
            container.clear()
        self._key_cnt = [0] * self.block_size
        self._n_dec = self._ctxbase_sum = self._pending_prefill = 0
        if self._titl is not None:
            self._titl.clear()
        self.kv.clear()
        self._stretch = None
        self._wake = None
        self._load_changed()
        return lost

    def restart(self, cost: IterationCost | None = None, kv_capacity_tokens: int | None = None) -> list[Request]:
        """Bring the replica back as a fresh engine at now: empty queues, new KV with an empty prefix
        cache, not stalled, a new process. A live replica is crashed first and its requests returned
        (as `crash`); a dead one returns []. `cost` replaces the latency model (e.g. a smaller TP after a
        reshard); `kv_capacity_tokens` the KV capacity, else the current target (`set_kv_capacity`)
        stays: a restart does not heal retired HBM pages."""
        lost = self.crash()
        if cost is not None:
            self.cost = cost
        if kv_capacity_tokens is not None:
            self._kv_target = self._blocks_of(kv_capacity_tokens)
        self.kv = KVBlockManager(self._kv_target, self.block_size)
        self.alive = True
        self._t = self._progress_s = float(self.env.now)
        self._D, self._alloc_D = 0, -1
        self._itl_carry_s = 0.0
        self._proc = self.env.process(self._run(self._epoch))
        return lost

    def stall(self) -> None:
        """The engine stops making progress: the iteration in progress completes (its callbacks fire),
        no new one starts until `resume`. Queued work stays; submissions keep queueing. No-op when dead."""
        if not self.alive or self._stalled:
            return
        self._stalled = True
        self._cut()

    def resume(self) -> None:
        """End a stall: the next iteration starts now (or when the one in progress ends)."""
        if not self._stalled:
            return
        self._stalled = False
        if self._wake is not None and not self._wake.triggered:
            self._wake.succeed()

    def cancel(self, request: Request) -> bool:
        """Take `request` off this replica wherever it is (queued, prefilling, decoding, held) and free
        its KV (shared prefix blocks stay cached). Its generated count is exact (tokens of the iterations
        that ended before now); it is left pending with no engine and no callback fires. False when it
        is not on this replica (finished, elsewhere, or the replica crashed)."""
        r = request
        if r._engine is not self:
            if not self._unreserve(r):
                return False
            self._serve_prealloc()
            self._poke(maybe_admissible=True, force=True)
            return True
        self._sync()
        self._unreserve(r)
        ph = r._phase
        if ph == PH_WAIT:
            self._waiting.remove(r)
            if not r._kv_ready:
                self._pending_prefill -= r._prompt
        elif ph == PH_PREFILL:
            self._pending_prefill -= r._prompt - r.prefilled_tokens
            self._drop(r)
        elif ph == PH_DECODE:
            self._drop(r)
        elif ph == PH_HELD:
            del self._held[r.id]
            self._free_held(r)
        else:
            return False
        self._detach(r)
        self._load_changed()
        self._fit_kv()
        self._serve_prealloc()
        self._poke(maybe_admissible=True, force=True)
        return True

    def set_kv_capacity(self, tokens: int) -> None:
        """Change the KV capacity to `tokens` (HBM pages retired by a fault, or restored). When the blocks
        in use exceed the new total, running sequences are preempted by recompute, newest first, until
        they fit; unreferenced prefix-cache entries are evicted. KV held for a transfer (prefill role)
        cannot move: its share is retired when `release` frees it. A dead replica keeps the value for
        `restart`. Queued prompts that no longer fit end rejected/failed when they reach the queue head."""
        self._kv_target = self._blocks_of(tokens)
        if not self.alive:
            return
        self._sync()
        while self._running and self.kv.used > self._kv_target:
            self._preempt(self._running[-1] if self._policy is None else self._policy.victim(self._running))
        self._fit_kv()
        self._serve_prealloc()
        self._poke(maybe_admissible=False, force=True)   # a running stretch planned with the old pool: re-plan
        self._poke(maybe_admissible=True, force=True)

    def set_role(self, role: str) -> None:
        """Change the role of an empty replica (a rerole after a drain); its prefix cache starts empty."""
        from chaos.engine.replica import ROLES
        if role not in ROLES:
            raise ValueError(f"role: expected one of {', '.join(ROLES)} but got {role!r}")
        n = len(self._waiting) + len(self._running) + len(self._held) + len(self._prealloc) + len(self._reserved)
        if n:
            raise SimulationError(f"{self.replica_id}: set_role({role!r}) needs an empty replica; it holds "
                                  f"{n} requests (cancel or drain them first)")
        self.role = role
        self.kv.clear()

    # ---- helpers -----------------------------------------------------------------------------------
    def _blocks_of(self, tokens: int) -> int:
        if isinstance(tokens, bool) or int(tokens) != tokens or tokens < 0:
            raise ValueError(f"expected a non-negative integer KV capacity but got kv_capacity_tokens={tokens!r}")
        return int(tokens) // self.block_size

    def _detach(self, r: Request) -> None:
        """r leaves this replica without finishing: pending, no engine, nothing prefilled."""
        r._phase = PH_NONE
        r._engine = None
        r.prefilled_tokens = 0
        r.status = PENDING

    def _free_held(self, r: Request) -> None:
        self.kv.give_back(r._own0)
        if r._n_shared:
            self.kv.release(r.hash_ids, r._n_shared)
            r._n_shared = 0

    def _fit_kv(self) -> None:
        """Move the KV total towards the target: grow at once, shrink as far as blocks in use allow."""
        kv = self.kv
        if kv.total_blocks != self._kv_target:
            kv.resize(max(self._kv_target, kv.used))

    def _settle_stretch(self) -> None:
        """Count the iterations of a running stretch that ended before now (iterations, ITL, progress);
        the one in progress is lost with the process, as in the reference stepper."""
        st = self._stretch
        if st is None:
            return
        j = min(int(st.times.searchsorted(self.env.now, side="left")), st.k - 1)
        if j:
            gaps = st.lat[:j].copy()
            gaps[0] += self._itl_carry_s
            self._itl_carry_s = 0.0
            times = st.times[:j].copy()
            self.itl.add_many(times, gaps, st.n)
            if self._titl is not None:
                self._titl.add_many(times, gaps)
            self.iterations += j
            self._progress_s = float(st.times[j - 1])

    def _cut(self) -> None:
        """End a running decode stretch after the iteration in progress (no-op otherwise)."""
        st = self._stretch
        if st is not None and not st.interrupted:
            self._cut_stretch(st)
