"""One inference request and the progress the engine records on it.

The metrics room builds its RequestLog from these attributes: id, arrival_s, first_token_s,
finish_s, input_tokens, output_tokens, generated_tokens, status, reason, replica, retries,
preemptions, prefix_hit_tokens, tenant. Fields starting with `_` are the engine's bookkeeping.

`last_token_s` is when the engine produced the request's latest token. The engine writes it where a
decode segment ends (finish, preemption, cancel, crash) and after every "first_token"/"token" event,
so at such an event it still holds the previous token's time (the start of the client's gap).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaos.engine.replica import Replica

NAN = math.nan

# status values; TERMINAL ones never change again
PENDING = "pending"          # created, not yet given to a replica
QUEUED = "queued"            # waiting in a replica's queue (also after a preemption)
RUNNING = "running"          # admitted: prefilling or decoding
TRANSFERRING = "transferring"  # prefill role: prompt done, KV held until `release`
COMPLETED = "completed"
FAILED = "failed"
REJECTED = "rejected"
IN_FLIGHT = "in_flight"      # set by `close` at the end of a run for requests not finished
TERMINAL = frozenset({COMPLETED, FAILED, REJECTED})

# engine phases (internal)
PH_NONE, PH_WAIT, PH_PREFILL, PH_DECODE, PH_HELD, PH_DONE = range(6)


@dataclass(slots=True, eq=False)
class Request:
    """A request: its shape (tokens, prefix hash ids), its timings and what happened to it."""

    id: int
    arrival_s: float
    input_tokens: int
    output_tokens: int
    hash_ids: tuple[int, ...] | None = None
    hash_block_tokens: int = 512
    prefilled_tokens: int = 0        # prompt tokens in KV for the current attempt (incl. prefix hits)
    generated: int = 0               # tokens generated, as of the last time the engine wrote it
    first_token_s: float = NAN
    finish_s: float = NAN
    last_token_s: float = NAN        # engine time of the latest token produced (exact between decode segments)
    status: str = PENDING
    reason: str = ""
    replicas: list[str] = field(default_factory=list)
    retries: int = 0
    preemptions: int = 0
    prefix_hit_tokens: int = 0       # prompt tokens served from the prefix cache (summed over admissions)
    tenant: int = 0                  # tenant id (position in the scenario's tenants:; 0 without them)
    # --- engine bookkeeping (see replica.py) ---
    _engine: Any = field(default=None, init=False, repr=False)
    _phase: int = field(default=PH_NONE, init=False, repr=False)
    _kv_ready: bool = field(default=False, init=False, repr=False)  # decode role: prompt KV transferred
    _prompt: int = field(default=0, init=False, repr=False)     # tokens to prefill this attempt
    _seq: int = field(default=-1, init=False, repr=False)       # admission number on the replica
    _n_full: int = field(default=0, init=False, repr=False)     # hash ids that cover whole prompt segments
    _n_shared: int = field(default=0, init=False, repr=False)   # leading hash ids referenced in the cache
    _own0: int = field(default=0, init=False, repr=False)       # private KV blocks (before decode growth)
    _cap0: int = field(default=0, init=False, repr=False)       # KV token slots when entering decode
    _cov: int = field(default=0, init=False, repr=False)        # prompt tokens whose blocks are held
    _d_enter: int = field(default=0, init=False, repr=False)    # replica iteration count at decode entry
    _gen0: int = field(default=0, init=False, repr=False)       # generated at decode entry
    _park: Any = field(default=None, init=False, repr=False)     # (replica, n_full, blocks) parked at preemption
    _ctxbase: int = field(default=0, init=False, repr=False)    # context tokens = _ctxbase + iterations
    _key: int = field(default=0, init=False, repr=False)        # needs a block when iteration % bs == key
    _dfin: int = field(default=0, init=False, repr=False)       # iteration count at which decoding ends

    def __post_init__(self) -> None:
        if self.input_tokens < 1 or self.output_tokens < 1:
            raise ValueError(f"request {self.id}: input_tokens and output_tokens must be >= 1, got "
                             f"{self.input_tokens} and {self.output_tokens}")

    @property
    def generated_tokens(self) -> int:
        """Tokens generated so far (exact at the current simulated instant, also mid decode stretch)."""
        if self._phase == PH_DECODE and self._engine is not None:
            return self._engine._generated_now(self)
        return self.generated

    @property
    def replica(self) -> str:
        """Ids of the replicas that served this request, joined with '+' ("prefill-0+decode-1")."""
        return "+".join(self.replicas)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def ttft_s(self) -> float:
        return self.first_token_s - self.arrival_s

    def close(self, horizon_s: float) -> None:
        """End of run: freeze generated tokens at the horizon; a request not finished is "in_flight"."""
        self.generated = self.generated_tokens
        if self.status not in TERMINAL:
            self.status = IN_FLIGHT
