"""Tenants at the router: token buckets, concurrency caps, isolation sets and priority-aware shedding.

  * Token buckets (`tenants[i].limits`): a requests/s bucket (each request costs 1) and a tokens/s
    bucket (each request costs its prompt + output tokens), each holding `burst` seconds of its rate
    and full at the start. A request is admitted only when every bucket of its tenant can pay; then
    all pay. A cost above the capacity is paid from a full bucket, which goes into debt, so no request
    is refused forever and over a window of length T a bucket admits rate x T + rate x burst, give or
    take one request.
  * Concurrency cap (`limits.concurrency`): requests of the tenant admitted and not yet ended.
  * Isolation set (`tenants[i].isolation`): pool names (aggregated, prefill, decode) or replica ids
    the tenant may use; every routing policy and every retry or failover only sees those replicas.
  * Shedding (`router.shedding: {max_queue_per_replica: N}`): when the requests waiting in the entry
    pool reach N per usable replica, an arriving request sheds the lowest-priority, most recent
    waiting request of strictly lower priority than its own, and is admitted in its place; when no
    such request waits, the arrival itself is shed. So the highest class present is shed only when
    nothing below it is queued. A shed request ends "rejected" with the reason "shed: overload".
Rejections carry the reasons below, like admission control.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from chaos.engine.request import Request

REJECT_RATE = "tenant rate limit"
REJECT_TOKENS = "tenant token rate limit"
REJECT_CONCURRENCY = "tenant concurrency cap"
SHED = "shed: overload"


class SheddingConfig(BaseModel):
    """`router.shedding:` — priority-aware load shedding (see chaos.routing.tenancy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_queue_per_replica: int = Field(..., ge=1, description="waiting requests per usable replica of the "
                                                               "entry pool at which shedding starts")

    @field_validator("max_queue_per_replica", mode="before")
    @classmethod
    def _integer(cls, v: object) -> object:
        if isinstance(v, bool):
            raise ValueError(f"expected an integer but got {v!r}")
        return v


@dataclass(slots=True)
class TokenBucket:
    """`rate` units/s refill, `capacity` units, full at t = 0."""
    rate: float
    capacity: float
    level: float = -1.0
    t: float = 0.0

    def __post_init__(self) -> None:
        if self.level < 0:
            self.level = self.capacity

    def refill(self, now: float) -> None:
        if now > self.t:
            self.level = min(self.capacity, self.level + (now - self.t) * self.rate)
            self.t = now

    def can(self, now: float, cost: float) -> bool:
        """The bucket pays `cost` (a cost above the capacity is paid from a full bucket, leaving a debt)."""
        self.refill(now)
        return self.level >= min(cost, self.capacity)

    def take(self, cost: float) -> None:
        self.level -= cost


@dataclass(slots=True)
class TenantRules:
    """What the router enforces for one tenant."""
    name: str
    priority: int
    requests: TokenBucket | None
    tokens: TokenBucket | None
    concurrency: int | None
    isolation: frozenset[str] | None


class TenantGate:
    """Per-tenant limits, isolation and shedding decisions for the driver (tenant id = list index)."""

    def __init__(self, rules: Sequence[TenantRules], shedding: SheddingConfig | None = None) -> None:
        self.rules = list(rules)
        self.shedding = shedding
        self._active: Counter[int] = Counter()      # tenant -> admitted requests not ended
        self._admitted: set[int] = set()            # request ids holding a concurrency slot
        self._rejections: Counter[tuple[str, str]] = Counter()

    def _rule(self, tenant: int) -> TenantRules | None:
        return self.rules[tenant] if tenant < len(self.rules) else None

    def priority(self, tenant: int) -> int:
        rule = self._rule(tenant)
        return rule.priority if rule is not None else 1

    def admit(self, req: "Request", now: float) -> str | None:
        """None to admit (the request takes its buckets' tokens and a concurrency slot), else the reason."""
        rule = self._rule(req.tenant)
        if rule is None:
            return None
        reason = None
        if rule.concurrency is not None and self._active[req.tenant] >= rule.concurrency:
            reason = REJECT_CONCURRENCY
        elif rule.requests is not None and not rule.requests.can(now, 1.0):
            reason = REJECT_RATE
        elif rule.tokens is not None and not rule.tokens.can(now, float(req.input_tokens + req.output_tokens)):
            reason = REJECT_TOKENS
        if reason is not None:
            self._rejections[(rule.name, reason)] += 1
            return reason
        if rule.requests is not None:
            rule.requests.take(1.0)
        if rule.tokens is not None:
            rule.tokens.take(float(req.input_tokens + req.output_tokens))
        self._active[req.tenant] += 1
        self._admitted.add(req.id)
        return None

    def release(self, req: "Request") -> None:
        """The request ended: its concurrency slot is free."""
        if req.id in self._admitted:
            self._admitted.discard(req.id)
            self._active[req.tenant] -= 1

    def allowed(self, req: "Request", replicas: list, pool: str) -> list:
        """The replicas of `pool` the request's tenant may use (all without an isolation set)."""
        rule = self._rule(req.tenant)
        if rule is None or rule.isolation is None:
            return replicas
        if pool in rule.isolation:
            return replicas
        return [r for r in replicas if r.replica_id in rule.isolation]

    def shed_victim(self, req: "Request", replicas: Sequence) -> tuple[bool, "Request | None"]:
        """Under overload: (shed the arrival?, a waiting request to shed instead). Not overloaded: (False, None)."""
        if self.shedding is None or not replicas:
            return False, None
        if sum(rep.num_waiting for rep in replicas) < self.shedding.max_queue_per_replica * len(replicas):
            return False, None                   # counted first: the queues are read only under overload
        waiting = [r for rep in replicas for r in rep.waiting_requests()]
        mine = self.priority(req.tenant)
        worst = max(waiting, key=lambda r: (self.priority(r.tenant), r.arrival_s, r.id), default=None)
        if worst is not None and self.priority(worst.tenant) > mine:
            self._rejections[(self._name(worst.tenant), SHED)] += 1
            return False, worst
        self._rejections[(self._name(req.tenant), SHED)] += 1
        return True, None

    def _name(self, tenant: int) -> str:
        rule = self._rule(tenant)
        return rule.name if rule is not None else str(tenant)

    def stats(self) -> dict:
        """{tenant name: {reason: count}} of rejections and sheds (JSON-ready)."""
        out: dict[str, dict[str, int]] = {}
        for (name, reason), n in sorted(self._rejections.items()):
            out.setdefault(name, {})[reason] = int(n)
        return out


def build_gate(tenants, shedding: SheddingConfig | None) -> TenantGate | None:
    """The gate for a scenario's `tenants:` (TenantConfig list or None) and `router.shedding`; None when
    neither asks for anything."""
    rules = []
    for t in tenants or ():
        lim = t.limits
        rules.append(TenantRules(
            name=t.name, priority=int(t.priority),
            requests=TokenBucket(lim.rate, lim.rate * lim.burst) if lim is not None and lim.rate else None,
            tokens=TokenBucket(lim.token_rate, lim.token_rate * lim.burst) if lim is not None and lim.token_rate else None,
            concurrency=lim.concurrency if lim is not None else None,
            isolation=frozenset(t.isolation) if t.isolation else None))
    if shedding is None and not any(r.requests or r.tokens or r.concurrency or r.isolation for r in rules):
        return None
    return TenantGate(rules, shedding)
