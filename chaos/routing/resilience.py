"""The resilience layer in front of a routing policy: health marks, outlier ejection, retries with backoff
and a retry budget, hedging and timeout settings, and admission control.

`ResilientRouter` is pure bookkeeping: it owns no SimPy process and no timer. The simulation driver
calls it when something is learned (a health probe verdict, an error or success of an attempt, a request
starting or ending) and asks it questions (which replica, how long before a retry, admit or reject).
Time comes from the `now` callable the driver supplies (`lambda: env.now`); the router never reads a
fault's truth, only what it is told (DESIGN principle 5).

Semantics, each after the proxy that made it common:

* Health marks (`mark`): the health monitor or the progress watchdog says a replica is down or up
  again. A down replica is never picked. A passing probe (`mark(id, True, ...)`) also ends an outlier
  ejection early, as Envoy does with `successful_active_health_check_uneject_host` (default on).
* Outlier ejection (Envoy `consecutive_5xx`): `outlier.consecutive_errors` errors in a row from a
  replica (`on_error`; a success in between, `on_success`, resets the count) eject it for
  `ejection_time x n`, where n counts its ejections in a row, capped at `max_ejection_time` — Envoy
  multiplies the base time by the ejection count (linear growth, not doubling). n drops by one for
  every `ejection_time` the replica then stays un-ejected, approximating Envoy's per-sweep decrement.
  An ejection is skipped (counted as `ejections_blocked`) when it would take the pool's ejected share
  above `max_ejection_percent`; unlike Envoy there is no "always allow one" exception, so a one-replica
  pool is never ejected by outlier detection (health marks still take it out). Errors from a replica
  while it is ejected are counted but do not extend the ejection. Re-admission happens exactly at the
  ejection's end (checked lazily against `now()`; the event log carries the exact time). A timeout is
  an error like any other when the driver reports it with `on_error(id, t, "timeout")`, which makes a
  silent stall detectable through latency.
* Pools: the replica lists given to `pick`/`admit` (or `set_pool`) define each pool's members, which
  the ejection limit is computed against; the last list seen wins (replicas come and go).
* Views (routing/view.py): `pick` hands the policy a `UsableView` of the pool's usable replicas. When
  the pool is given as a tuple (the fleet's pools are: a new tuple whenever membership changes), the
  view is kept between requests and rebuilt only when that tuple or a health mark or ejection changes,
  so a dispatch costs O(1) plus the policy's own work; least_outstanding then reads a load index the
  replicas keep current through their `on_load` hook. A list is filtered afresh on every call.
* Retries (`retry_delay`): the router counts the retries it granted each request (by request id;
  `retries_granted`); it does not write request.retries, which the driver owns (it also counts
  recoveries that do not go through the router). Retry k (0-based) waits
  min(backoff.max, base x multiplier^k) x (1 + jitter x u), u ~ U[-1, 1] drawn from the rng given to
  the constructor (chaos.rng.stream(seed, "retry-jitter")), one draw per retry that passes the count
  and budget checks. The cap applies before the jitter, so a capped delay still spreads around max.
  Refused (None) when `retries` are used up, when the retry budget is full, or when the retry would
  start after the request's `deadline`; `last_refusal` says which.
* Retry budget (Envoy `retry_budget`): retries in flight <= max(min_retry_concurrency,
  retry_budget x active requests). A request is active from the first time the router sees it
  (`on_start`, or implicitly in `pick`, `admit` or `retry_delay`) until `on_done`, which the driver
  must call when it reaches its final state; it is a retry in flight from its first granted retry
  until then, however many more retries it gets, so each active request counts at most once.
* Hedging: `hedge_delay` (seconds or None) is when the driver sends a second copy; it reports it with
  `on_hedge` for the counters. Timeouts: `timeout_s` (first token of one attempt) and `deadline_s`
  (whole request), None when not configured; the driver owns the timers.
* Admission (`admit`): with `admission:` set, a request is rejected when the waiting requests of the
  replicas it is given, this one included, would exceed `max_queue` per available replica, or when
  even the best of them predicts (the caller's `predict_ttft(replica, request)`) a first token later
  than `max_predicted_ttft`. When none of them is available `admit` says NO_REPLICA: that is
  unavailability, not shedding, and the driver ends such a request failed (a 503, as Envoy's
  `upstream_cx_none_healthy`), not rejected. The simulation's driver gives the one
  replica the policy picked, so both limits judge the queue the request would actually join. Without
  `admission:` every request is admitted.

With the default RouterConfig (no outlier, retries 0, no timeout, hedging or admission) and no health
marks, `pick` returns exactly what the bare policy's `route` returns, on the same list.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Callable, Sequence, TypeVar

import numpy as np

from chaos.errors import SimulationError
from chaos.routing.base import ReplicaView, Router
from chaos.routing.config import RouterConfig
from chaos.routing.view import UsableView, reports_load

if TYPE_CHECKING:
    from chaos.engine.request import Request

R = TypeVar("R", bound=ReplicaView)

REJECT_QUEUE = "admission: queue full"
REJECT_TTFT = "admission: predicted TTFT over limit"
NO_REPLICA = "no healthy replica"
REFUSED_EXHAUSTED = "retries exhausted"
REFUSED_BUDGET = "retry budget exhausted"
REFUSED_DEADLINE = "deadline would pass before the retry"


class ResilientRouter:
    """A routing policy behind health marks, outlier ejection, retry, hedging and admission bookkeeping."""

    def __init__(self, policy: Router, config: RouterConfig, rng: np.random.Generator,
                 now: Callable[[], float]) -> None:
        self.policy = policy
        self.config = config
        self.rng = rng
        self.now = now
        self.last_refusal: str | None = None     # why the last retry_delay returned None
        self._down: dict[str, str] = {}           # replica -> reason it was marked down
        self._ejected: dict[str, float] = {}      # replica -> time its ejection ends, seconds
        self._errors: dict[str, int] = {}         # replica -> consecutive errors
        self._times_ejected: dict[str, int] = {}  # replica -> ejections in a row (the multiplier)
        self._readmitted_s: dict[str, float] = {}
        self._pool_of: dict[str, str] = {}
        self._pools: dict[str, tuple[str, ...]] = {}
        self._active: set[int] = set()            # request ids seen and not yet done
        self._retrying: set[int] = set()          # active request ids with a granted retry
        self._granted: dict[int, int] = {}        # request id -> retries granted
        self._counts: Counter[str] = Counter()
        self._errors_by_reason: Counter[str] = Counter()
        self._rejections: Counter[str] = Counter()
        self._refusals: Counter[str] = Counter()
        self._events: list[dict] = []
        self._views: dict[str, tuple[object, int, UsableView]] = {}   # pool -> (source, version, view)
        self._version = 0                         # bumped when a mark or an ejection changes
        self._next_expiry = float("inf")          # earliest ejection end

    # ---- settings the driver's timers read ----
    @property
    def timeout_s(self) -> float | None:
        """First-token deadline of one attempt, seconds (None: no timeout)."""
        return self.config.timeout

    @property
    def deadline_s(self) -> float | None:
        """End-to-end deadline of a request from its arrival, seconds (None: none)."""
        return self.config.deadline

    @property
    def hedge_delay(self) -> float | None:
        """Seconds without a first token before a hedged copy is sent (None: no hedging)."""
        return self.config.hedging.delay if self.config.hedging is not None else None

    # ---- routing ----
    def pick(self, request: "Request", replicas: Sequence[R], pool: str = "aggregated") -> R | None:
        """The policy's choice among the replicas that are neither marked down nor ejected; None if none is."""
        self._active.add(request.id)
        ok = self._view(pool, replicas)
        if not ok:
            self._counts["no_replica"] += 1
            return None
        return self.policy.route(request, ok, pool)

    def pick_disaggregated(self, request: "Request", prefill_replicas: Sequence[R],
                           decode_replicas: Sequence[R]) -> tuple[R, R] | None:
        """(prefill, decode) as the policy's route_disaggregated would pick among usable replicas; None
        (and no policy call) when either pool has none."""
        self._active.add(request.id)
        pre, dec = self._view("prefill", prefill_replicas), self._view("decode", decode_replicas)
        if not pre or not dec:
            self._counts["no_replica"] += 1
            return None
        return self.policy.route(request, pre, "prefill"), self.policy.route(request, dec, "decode")

    def set_pool(self, pool: str, replicas: Sequence[ReplicaView | str]) -> None:
        """Declare a pool's members (replica views or ids); ejection limits count against it."""
        ids = tuple(r if isinstance(r, str) else r.replica_id for r in replicas)
        if self._pools.get(pool) != ids:
            self._pools[pool] = ids
            self._views.pop(pool, None)
            for rid in ids:
                self._pool_of[rid] = pool

    def _view(self, pool: str, replicas: Sequence[R]) -> Sequence[R]:
        """The usable replicas of `pool` for the policy: the kept view when `replicas` is the tuple it was
        built from and no mark or ejection changed since; else declared (`set_pool`) and filtered."""
        if self._ejected:
            self._expire(self.now())
        kept = self._views.get(pool)
        if kept is not None and kept[0] is replicas and kept[1] == self._version:
            return kept[2]
        self.set_pool(pool, replicas)
        ok = self._usable(replicas)
        if not isinstance(replicas, tuple):
            return ok                             # a list may change under us: nothing is kept
        indexed = self.policy.uses_load_index and all(reports_load(r) for r in ok)
        view = UsableView.of(ok, indexed)
        if indexed:
            for r in ok:
                r.on_load = self._on_load
        self._views[pool] = (replicas, self._version, view)
        return view

    def _on_load(self, replica: ReplicaView) -> None:
        kept = self._views.get(self._pool_of.get(replica.replica_id, ""))
        if kept is not None and kept[2].load_index is not None:
            kept[2].load_index.update(replica)

    def available(self, replica_id: str) -> bool:
        """Neither marked down nor ejected at now()."""
        self._expire(self.now())
        return replica_id not in self._down and replica_id not in self._ejected

    def ejected(self) -> dict[str, float]:
        """Replica id -> time its ejection ends, for the replicas ejected at now()."""
        self._expire(self.now())
        return dict(self._ejected)

    def down(self) -> dict[str, str]:
        """Replica id -> reason, for the replicas marked down."""
        return dict(self._down)

    def _usable(self, replicas: Sequence[R]) -> Sequence[R]:
        self._expire(self.now())
        if not self._down and not self._ejected:
            return replicas
        return [r for r in replicas if r.replica_id not in self._down and r.replica_id not in self._ejected]

    # ---- what the router learns ----
    def mark(self, replica_id: str, healthy: bool, reason: str, t: float) -> None:
        """Health probe or watchdog verdict at time t. Healthy also ends an outlier ejection early."""
        if not healthy:
            if replica_id not in self._down:
                self._down[replica_id] = reason
                self._version += 1
                self._counts["marked_down"] += 1
                self._log(t, replica_id, "down", reason)
            return
        if self._down.pop(replica_id, None) is not None:
            self._version += 1
            self._counts["marked_up"] += 1
            self._log(t, replica_id, "up", reason)
        self._expire(t)
        if self._ejected.pop(replica_id, None) is not None:
            self._readmit(replica_id, t, reason)
        self._errors[replica_id] = 0

    def on_success(self, replica_id: str, t: float) -> None:
        """An attempt on the replica succeeded (first token or completion): its error streak ends."""
        self._errors[replica_id] = 0

    def on_error(self, replica_id: str, t: float, reason: str = "error") -> None:
        """An attempt on the replica failed at t (connection refused/reset, timeout...): outlier detection."""
        self._counts["errors"] += 1
        self._errors_by_reason[reason] += 1
        out = self.config.outlier
        if out is None:
            return
        self._expire(t)
        if replica_id in self._ejected:
            return
        n = self._errors.get(replica_id, 0) + 1
        self._errors[replica_id] = n
        if n < out.consecutive_errors:
            return
        pool = self._pool_of.get(replica_id)
        if pool is None:
            raise SimulationError(f"error reported for replica {replica_id!r} that is in no known pool; "
                                  f"route to it with pick() or declare it with set_pool() first")
        members = self._pools[pool]
        ejected_now = sum(1 for rid in members if rid in self._ejected)
        if (ejected_now + 1) * 100 > out.max_ejection_percent * len(members):
            self._counts["ejections_blocked"] += 1
            return
        times = self._times_ejected.get(replica_id, 0)
        if replica_id in self._readmitted_s:
            times = max(0, times - int((t - self._readmitted_s[replica_id]) // out.ejection_time))
        times += 1
        self._times_ejected[replica_id] = times
        until = t + min(out.ejection_time * times, out.max_ejection_time_s)
        self._ejected[replica_id] = until
        self._next_expiry = min(self._next_expiry, until)
        self._version += 1
        self._errors[replica_id] = 0
        self._counts["ejections"] += 1
        self._log(t, replica_id, "eject", f"{n} consecutive errors", until=until)

    def reset(self, replica_id: str) -> None:
        """Forget everything about a replica (a fresh engine took its id): marks, ejection, error streak."""
        for table in (self._down, self._ejected, self._errors, self._times_ejected, self._readmitted_s):
            table.pop(replica_id, None)
        self._version += 1

    def _expire(self, t: float) -> None:
        if self._ejected and t >= self._next_expiry:
            for rid, until in list(self._ejected.items()):
                if until <= t:
                    del self._ejected[rid]
                    self._readmit(rid, until, "ejection time passed")
            self._next_expiry = min(self._ejected.values(), default=float("inf"))

    def _readmit(self, replica_id: str, t: float, reason: str) -> None:
        self._version += 1
        self._readmitted_s[replica_id] = t
        self._counts["readmissions"] += 1
        self._log(t, replica_id, "readmit", reason)

    # ---- requests ----
    def on_start(self, request: "Request") -> None:
        """The request entered the fleet (optional: pick, admit and retry_delay also make it active)."""
        self._active.add(request.id)

    def on_done(self, request: "Request") -> None:
        """The request reached its final state (completed, failed, rejected): it leaves the retry budget."""
        self._active.discard(request.id)
        self._retrying.discard(request.id)
        self._granted.pop(request.id, None)

    def retries_granted(self, request: "Request") -> int:
        """Retries granted so far to this active request."""
        return self._granted.get(request.id, 0)

    def retry_delay(self, request: "Request", t: float) -> float | None:
        """Seconds to wait before the next attempt of a request whose attempt failed at t, or None when no
        retry is left, the budget is full or the deadline would pass (`last_refusal` says which)."""
        cfg = self.config
        self.last_refusal = None
        self._active.add(request.id)
        k = self._granted.get(request.id, 0)
        if k >= cfg.retries:
            return self._refuse(REFUSED_EXHAUSTED)
        others = len(self._retrying) - (request.id in self._retrying)
        if others + 1 > max(cfg.min_retry_concurrency, cfg.retry_budget * len(self._active)):
            return self._refuse(REFUSED_BUDGET)
        delay = self.backoff(k) * (1.0 + cfg.backoff.jitter * self.rng.uniform(-1.0, 1.0))
        if cfg.deadline is not None and t + delay >= request.arrival_s + cfg.deadline:
            return self._refuse(REFUSED_DEADLINE)
        self._granted[request.id] = k + 1
        self._retrying.add(request.id)
        self._counts["retries"] += 1
        return delay

    def backoff(self, k: int) -> float:
        """Backoff before retry k (0-based) without jitter: min(max, base x multiplier^k), seconds."""
        b = self.config.backoff
        delay = b.base
        for _ in range(k):
            delay = min(b.max, delay * b.multiplier)
        return min(b.max, delay)

    def _refuse(self, why: str) -> None:
        self.last_refusal = why
        self._refusals[why] += 1
        return None

    def on_hedge(self, request: "Request", t: float) -> None:
        """The driver sent a hedged copy of the request at t."""
        self._counts["hedges"] += 1

    def admit(self, request: "Request", replicas: Sequence[R],
              predict_ttft: Callable[[R, "Request"], float] | None = None) -> str | None:
        """None to admit, else the rejection reason (REJECT_QUEUE, REJECT_TTFT), or NO_REPLICA when none of
        `replicas` is available — a failure (Envoy's 503 upstream_cx_none_healthy), which is not counted
        as a rejection. Always None without `admission:`. `replicas` is the pool the request would enter (prefill pool when
        disaggregated); only available replicas count."""
        self._active.add(request.id)
        adm = self.config.admission
        if adm is None:
            return None
        ok = self._usable(replicas)
        reason = None
        if not ok:
            self._counts["no_replica"] += 1
            return NO_REPLICA                       # unavailability (a 503), not shedding: no rejection
        if adm.max_queue is not None and sum(r.num_waiting for r in ok) + 1 > adm.max_queue * len(ok):
            reason = REJECT_QUEUE
        elif adm.max_predicted_ttft is not None:
            if predict_ttft is None:
                raise SimulationError("admission.max_predicted_ttft is set but admit() got no predict_ttft")
            if min(predict_ttft(r, request) for r in ok) > adm.max_predicted_ttft:
                reason = REJECT_TTFT
        if reason is not None:
            self._counts["rejections"] += 1
            self._rejections[reason] += 1
        return reason

    # ---- for the journal ----
    def stats(self) -> dict:
        """JSON-ready counters: ejections (+ blocked by max percent), readmissions, health marks, errors
        (by reason), retries (+ refused by reason), rejections (by reason), hedges, no_replica."""
        c = self._counts
        keys = ("ejections", "ejections_blocked", "readmissions", "marked_down", "marked_up", "errors",
                "retries", "rejections", "hedges", "no_replica")
        out: dict = {k: int(c[k]) for k in keys}
        out["errors_by_reason"] = dict(sorted(self._errors_by_reason.items()))
        out["retries_refused"] = dict(sorted(self._refusals.items()))
        out["rejections_by_reason"] = dict(sorted(self._rejections.items()))
        return out

    def events(self) -> list[dict]:
        """Health and ejection events in order: {t, replica, event: down|up|eject|readmit, reason[, until]}."""
        self._expire(self.now())
        return sorted(self._events, key=lambda e: e["t"])

    def _log(self, t: float, replica_id: str, event: str, reason: str, **extra) -> None:
        self._events.append({"t": float(t), "replica": replica_id, "event": event, "reason": reason, **extra})
