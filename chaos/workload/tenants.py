"""Tenants: who sends which requests, how much each matters, and the stream of a multi-tenant run.

```yaml
tenants:
  - name: premium
    priority: interactive          # or an integer; lower is served first (vLLM's convention)
    weight: 3                      # fair share (engine.scheduling: fair)
    slo: {ttft_p99: 1s}            # its own targets (default: the scenario's slo:)
    # no workload: and no share: -> it takes the scenario's workload: (what the share tenants leave)
  - name: batch
    priority: batch
    workload: {synthetic: {arrival: poisson, rate: 2/s, input: ..., output: ...}}   # its own stream
    limits: {rate: 1/s, token_rate: 8000/s, burst: 10s, concurrency: 32}             # router side
    isolation: [aggregated-2, aggregated-3]                                          # replicas or pools
  - name: agents
    share: {fraction: 0.2}         # or {field: input_tokens, min: 4096, max: 32768}: part of workload:
```

Without `tenants:` a run has one tenant (id 0, "default") and exactly the stream it had before.
Tenant ids are positions in the list. A tenant's own `workload:` draws from streams seeded by the
run's seed and the tenant's name, so adding a tenant never shifts another's arrivals; `share:`
fractions draw one uniform per request of `workload:` from the stream "tenant-share".
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from typing_extensions import Annotated

from chaos import rng as rngs
from chaos.errors import WorkloadError, expected_one_of
from chaos.units import parse_duration, parse_rate
from chaos.workload.config import WorkloadConfig
from chaos.workload.workload import Workload

PRIORITY_CLASSES = {"interactive": 0, "standard": 1, "batch": 2}
"""Named priority classes; lower is served first, as vLLM's `priority` field (lower = earlier)."""
DEFAULT_TENANT = "default"
SHARE_FIELDS = ("input_tokens", "output_tokens")
HASH_SPACE = 1 << 40     # a tenant's own prefix hash ids are offset by id x this: no cross-tenant hits
_SLUG = re.compile(r"^[A-Za-z0-9._-]+$")
_RATE = Annotated[float, WithJsonSchema({"anyOf": [{"type": "string", "examples": ["5/s", "2000/s"]},
                                                   {"type": "number", "exclusiveMinimum": 0}]})]
_SECONDS = Annotated[float, WithJsonSchema({"anyOf": [{"type": "string", "examples": ["1s", "10s"]},
                                                      {"type": "number", "exclusiveMinimum": 0}]})]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ShareConfig(_Model):
    """Part of the scenario's `workload:`: those requests whose `field` (input_tokens | output_tokens)
    lies in [min, max] (either bound optional), or a random `fraction` of the requests that no field
    selector took."""
    fraction: Optional[float] = None
    field: Optional[Literal["input_tokens", "output_tokens"]] = None
    min: Optional[int] = None
    max: Optional[int] = None

    @field_validator("field", mode="before")
    @classmethod
    def _field(cls, v: object) -> object:
        if v is not None and v not in SHARE_FIELDS:
            raise ValueError(expected_one_of(v, SHARE_FIELDS))
        return v

    @model_validator(mode="after")
    def _one(self) -> "ShareConfig":
        if (self.fraction is None) == (self.field is None):
            raise ValueError("expected exactly one of fraction: (like 0.3) or field: (input_tokens|output_tokens "
                             "with min:/max:)")
        if self.fraction is not None:
            if not 0 < self.fraction <= 1:
                raise ValueError(f"fraction: expected a fraction in (0, 1] but got {self.fraction!r}")
            if self.min is not None or self.max is not None:
                raise ValueError("min:/max: select by field:, not with fraction:")
        else:
            if self.min is None and self.max is None:
                raise ValueError(f"field: {self.field} needs min:, max: or both")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"min: {self.min} is above max: {self.max}")
        return self

    def interval(self) -> tuple[float, float]:
        return (-math.inf if self.min is None else self.min, math.inf if self.max is None else self.max)


class LimitsConfig(_Model):
    """Router-side limits of one tenant: token buckets (requests/s and/or tokens/s, where a request
    costs its prompt + output tokens) holding `burst` seconds of their rate, and a cap on the
    tenant's requests in the fleet at once. A request over a limit is rejected with the reason."""
    rate: Optional[_RATE] = Field(None, description="requests/s the tenant's bucket refills (\"5/s\")")
    token_rate: Optional[_RATE] = Field(None, description="tokens/s (prompt + output) the token bucket refills")
    burst: _SECONDS = Field(1.0, description="seconds of rate each bucket holds when full (default 1s)")
    concurrency: Optional[int] = Field(None, ge=1, description="requests of the tenant in the fleet at once")

    @field_validator("rate", "token_rate", mode="before")
    @classmethod
    def _rate(cls, v: object) -> object:
        if v is None:
            return v
        try:
            r = parse_rate(v)
        except ValueError:
            r = -1.0
        if not r > 0:
            raise ValueError(f"expected a positive rate like '5/s' but got {v!r}")
        return r

    @field_validator("burst", mode="before")
    @classmethod
    def _burst(cls, v: object) -> object:
        s = parse_duration(v)
        if not s > 0:
            raise ValueError(f'expected a positive duration like "10s" but got {v!r}')
        return s

    @field_validator("concurrency", mode="before")
    @classmethod
    def _int(cls, v: object) -> object:
        if isinstance(v, bool):
            raise ValueError(f"expected an integer but got {v!r}")
        return v

    @model_validator(mode="after")
    def _some(self) -> "LimitsConfig":
        if self.rate is None and self.token_rate is None and self.concurrency is None:
            raise ValueError("limits needs rate, token_rate, concurrency or several (drop limits: for none)")
        return self


class TenantConfig(_Model):
    """One tenant: name, its requests (own `workload:`, a `share:` of the scenario's, or the rest of
    it), `priority` (integer, lower first, or interactive=0 / standard=1 / batch=2), fair-share
    `weight`, router-side `limits:` and an `isolation:` set of pools or replicas. The scenario schema
    adds the tenant's own `slo:` (the metrics room owns SloConfig)."""
    name: str
    workload: Optional[WorkloadConfig] = None
    share: Optional[ShareConfig] = None
    priority: Union[int, str] = 1
    weight: float = 1.0
    limits: Optional[LimitsConfig] = None
    isolation: Optional[list[str]] = None

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"expected a name of letters, digits, '-', '_' and '.' but got {v!r}")
        return v

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, v: object) -> object:
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ValueError(f"expected an integer or one of {', '.join(PRIORITY_CLASSES)} but got {v!r}")
        if isinstance(v, str):
            if v not in PRIORITY_CLASSES:
                raise ValueError(f"expected an integer or one of {expected_one_of(v, PRIORITY_CLASSES)[len('expected one of '):]}")
            return PRIORITY_CLASSES[v]
        return v

    @field_validator("weight", mode="before")
    @classmethod
    def _weight(cls, v: object) -> object:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
            raise ValueError(f"expected a positive fair-share weight like 1 or 2.5 but got {v!r}")
        return float(v)

    @field_validator("isolation")
    @classmethod
    def _isolation(cls, v: Optional[list[str]]) -> Optional[list[str]]:
        if v is not None and not v:
            raise ValueError("expected at least one pool or replica id (drop isolation: to use every replica)")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> "TenantConfig":
        if self.workload is not None and self.share is not None:
            raise ValueError("give workload: (its own stream) or share: (part of the scenario's), not both")
        return self

    @property
    def takes_rest(self) -> bool:
        """No workload and no share: the scenario's workload, less what the share tenants take."""
        return self.workload is None and self.share is None


def check_tenants(tenants: list[TenantConfig]) -> list[tuple[str, str]]:
    """Cross-tenant checks: (field, message) per mistake — duplicate names, two tenants taking the rest,
    fractions over 1, overlapping field ranges, and nobody taking the scenario's workload."""
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(tenants):
        if t.name in seen:
            errors.append((f"tenants[{i}].name", f"tenant {t.name!r} is already tenants[{seen[t.name]}]"))
        seen.setdefault(t.name, i)
    rest = [i for i, t in enumerate(tenants) if t.takes_rest]
    if len(rest) > 1:
        errors.append((f"tenants[{rest[1]}]", f"tenants[{rest[0]}] and tenants[{rest[1]}] both take the rest "
                                              f"of workload: (neither has workload: nor share:); give one a share:"))
    fractions = [(i, t.share.fraction) for i, t in enumerate(tenants) if t.share and t.share.fraction is not None]
    if sum(f for _, f in fractions) > 1 + 1e-9:
        i = fractions[-1][0]
        errors.append((f"tenants[{i}].share.fraction",
                       f"the share fractions add up to {sum(f for _, f in fractions):g} > 1; they select "
                       f"disjoint parts of workload:"))
    ranged = [(i, t) for i, t in enumerate(tenants) if t.share and t.share.field is not None]
    for a in range(len(ranged)):
        for b in range(a + 1, len(ranged)):
            (i, ta), (j, tb) = ranged[a], ranged[b]
            if ta.share.field != tb.share.field:
                continue
            lo_a, hi_a = ta.share.interval()
            lo_b, hi_b = tb.share.interval()
            if max(lo_a, lo_b) <= min(hi_a, hi_b):
                errors.append((f"tenants[{j}].share", f"selects {tb.share.field} in [{lo_b:g}, {hi_b:g}], which "
                                                      f"overlaps tenants[{i}] ({ta.name}) [{lo_a:g}, {hi_a:g}]; a "
                                                      f"request belongs to one tenant"))
    if tenants and not any(t.workload is None for t in tenants):
        errors.append(("tenants", "every tenant has its own workload:, so nobody takes the scenario's "
                                  "workload:; give one tenant no workload: (it takes workload:) or a share:"))
    return errors


def _tenant_seed(seed: int, name: str) -> int:
    return int(rngs.stream(seed, f"tenant:{name}").integers(0, 2**31 - 1))


def build_tenant_workload(workload: WorkloadConfig, tenants: Optional[list[TenantConfig]], *, seed: int,
                          base_dir: Path, duration_s: float | None) -> Workload:
    """The run's request stream: `workload:` alone without tenants (tenant column None: all tenant 0),
    else every tenant's requests merged by arrival time (stable, tenants in list order), each request
    carrying its tenant id."""
    from chaos.workload.build import build_workload
    main = build_workload(workload, seed=seed, base_dir=base_dir, duration_s=duration_s)
    if not tenants:
        return main
    parts: list[tuple[int, Workload, np.ndarray]] = []
    if main.closed_loop is not None:
        raise WorkloadError("a closed-loop workload: cannot be split among tenants yet; use an open-loop "
                            "arrival (poisson, gamma, constant) or a trace", field="workload.synthetic.arrival")
    owner = _split(main, tenants, seed)
    for k, t in enumerate(tenants):
        if t.workload is None:
            idx = np.flatnonzero(owner == k)
            parts.append((k, main, idx))
            continue
        own = build_workload(t.workload, seed=_tenant_seed(seed, t.name), base_dir=base_dir, duration_s=duration_s)
        if own.closed_loop is not None:
            raise WorkloadError("a tenant's closed-loop workload is not built yet; use an open-loop arrival "
                                "(poisson, gamma, constant) or a trace",
                                field=f"tenants[{k}].workload.synthetic.arrival")
        parts.append((k, own, np.arange(len(own))))
    return _merge(parts, tenants)


def _split(main: Workload, tenants: list[TenantConfig], seed: int) -> np.ndarray:
    """Owner tenant index per request of the scenario's workload (-1: nobody)."""
    n = len(main)
    owner = np.full(n, -1, dtype=np.int64)
    u = rngs.stream(seed, "tenant-share").random(n)
    lo = 0.0
    by_field = [(k, t) for k, t in enumerate(tenants) if t.share is not None and t.share.field is not None]
    by_fraction = [(k, t) for k, t in enumerate(tenants) if t.share is not None and t.share.fraction is not None]
    for k, t in by_field + by_fraction:          # fractions split what the field selectors left
        if t.share.fraction is not None:
            sel = (u >= lo) & (u < lo + t.share.fraction) & (owner < 0)
            lo += t.share.fraction
        else:
            col = main.input_tokens if t.share.field == "input_tokens" else main.output_tokens
            a, b = t.share.interval()
            sel = (col >= a) & (col <= b)
        clash = sel & (owner >= 0)
        if clash.any():
            other = tenants[int(owner[np.flatnonzero(clash)[0]])].name
            raise WorkloadError(f"{int(clash.sum())} requests of workload: match both tenant {other!r} and "
                                f"{t.name!r}; selectors must not overlap", field=f"tenants[{k}].share")
        owner[sel] = k
    rest = [k for k, t in enumerate(tenants) if t.takes_rest]
    unclaimed = owner < 0
    if rest:
        owner[unclaimed] = rest[0]
    elif unclaimed.any():
        raise WorkloadError(f"{int(unclaimed.sum())} of {n} requests of workload: match no tenant's share:; "
                            f"add a tenant without workload: and share: to take the rest", field="tenants")
    return owner


def _merge(parts: list[tuple[int, Workload, np.ndarray]], tenants: list[TenantConfig]) -> Workload:
    block = {wl.hash_block_tokens for _, wl, idx in parts if wl.hash_ids is not None and len(idx)}
    if len(block) > 1:
        raise WorkloadError(f"the tenants' workloads hash prompt blocks of different sizes {sorted(block)}; "
                            f"set hash_block_tokens alike (synthetic) or use traces of one format", field="tenants")
    arrival = np.concatenate([wl.arrival_s[idx] for _, wl, idx in parts])
    inp = np.concatenate([wl.input_tokens[idx] for _, wl, idx in parts]).astype(np.int64)
    out = np.concatenate([wl.output_tokens[idx] for _, wl, idx in parts]).astype(np.int64)
    tenant = np.concatenate([np.full(len(idx), k, dtype=np.int64) for k, _, idx in parts])
    any_hash = any(wl.hash_ids is not None for _, wl, _ in parts)
    hashes = None
    if any_hash:
        hashes = []
        for k, wl, idx in parts:
            if wl.hash_ids is None:
                hashes.extend([None] * len(idx))
            elif tenants[k].workload is not None:        # own stream: its own hash id space
                off = (k + 1) * HASH_SPACE
                hashes.extend(tuple(h + off for h in wl.hash_ids[i]) for i in idx.tolist())
            else:
                hashes.extend(wl.hash_ids[i] for i in idx.tolist())
    order = np.argsort(arrival, kind="stable")
    return Workload(arrival_s=arrival[order], input_tokens=inp[order], output_tokens=out[order],
                    hash_ids=[hashes[i] for i in order.tolist()] if hashes is not None else None,
                    hash_block_tokens=block.pop() if block else parts[0][1].hash_block_tokens,
                    tenant=tenant[order])
