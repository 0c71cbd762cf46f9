"""Shared helpers for engine tests: a hand-checkable fake cost model and a one-replica driver."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from chaos.engine import EngineConfig, Replica, Request, call_at

BASE_S = 5e-3
PER_DECODE_S = 20e-6
PER_CTX_S = 1e-8
PER_PREFILL_S = 60e-6
PER_ATTN_S = 1e-9


class FakeCost:
    """latency = 5ms + 20us*n_decode + 1e-8*decode_ctx_sum + 60us*prefill_tokens + 1e-9*prefill_attn_ctx."""

    def iteration_time(self, n_decode, decode_ctx_sum, prefill_tokens, prefill_attn_ctx=0.0,
                       prefill_kv_read=0.0, prefill_seqs=None):
        return (BASE_S + PER_DECODE_S * n_decode + PER_CTX_S * decode_ctx_sum
                + PER_PREFILL_S * prefill_tokens + PER_ATTN_S * prefill_attn_ctx)

    def decode_stretch(self, n_decode, ctx_sum0, k):
        ctx = ctx_sum0 + np.arange(k, dtype=np.int64) * n_decode
        return BASE_S + PER_DECODE_S * n_decode + PER_CTX_S * ctx + PER_PREFILL_S * 0 + PER_ATTN_S * 0.0


def decode_latency(n: int, ctx_sum: int) -> float:
    return FakeCost().iteration_time(n, ctx_sum, 0, 0.0)


def prefill_latency(tokens: int, start: int = 0, n_decode: int = 0, ctx_sum: int = 0) -> float:
    attn = tokens * start + tokens * (tokens + 1) / 2
    return FakeCost().iteration_time(n_decode, ctx_sum, tokens, attn)


@dataclass
class Run:
    env: simpy.Environment
    replica: Replica
    requests: list[Request]
    events: list[tuple[str, int, float]] = field(default_factory=list)
    observations: list[tuple] = field(default_factory=list)
    parked: list[Request] = field(default_factory=list)     # submitted while the replica was dead
    log: list[tuple] = field(default_factory=list)

    def submit(self, r: Request, kv_ready: bool = False) -> None:
        if not self.replica.alive:
            self.parked.append(r)
        else:
            self.replica.submit(r, kv_ready=kv_ready)

    def resubmit(self, requests) -> None:
        for r in requests:
            self.submit(r)

    def times(self, kind: str) -> dict[int, float]:
        return {rid: t for k, rid, t in self.events if k == kind}


def make_requests(specs) -> list[Request]:
    """specs: (arrival_s, input_tokens, output_tokens[, hash_ids[, hash_block_tokens]])."""
    out = []
    for i, spec in enumerate(specs):
        arrival, inp, outp, *rest = spec
        hash_ids = tuple(rest[0]) if rest and rest[0] is not None else None
        hbt = rest[1] if len(rest) > 1 else 16
        out.append(Request(id=i, arrival_s=arrival, input_tokens=inp, output_tokens=outp,
                           hash_ids=hash_ids, hash_block_tokens=hbt))
    return out


def simulate(specs, config: EngineConfig | None = None, kv_tokens: int = 1 << 20, *,
             stepper: str | None = None, observe_at=(), until: float | None = None,
             role: str = "aggregated", actions=(), tenants=None, table=None, on_action=None,
             holder=None) -> Run:
    """Run requests through one replica; arrivals, observations and `actions` are URGENT events.

    actions: (t, name, arg) lifecycle calls, see `act`. Submissions to a crashed replica wait for its
    restart; requests a crash or restart hands back are resubmitted at the restart. `tenants` gives each
    request's tenant id, `table` the engine's TenantTable (priorities, weights); `on_action` maps extra
    action names to callables (samplers); `holder`, a list, receives the Run before it starts."""
    config = config or EngineConfig()
    if stepper:
        config = config.model_copy(update={"stepper": stepper})
    env = simpy.Environment()
    requests = make_requests(specs)
    for r, tenant in zip(requests, tenants or ()):
        r.tenant = tenant
    run = Run(env, None, requests)  # type: ignore[arg-type]
    run.replica = Replica(env, "r0", role, FakeCost(), kv_tokens, config,
                          lambda kind, r, t: run.events.append((kind, r.id, t)), tenants=table)
    for r in requests:
        call_at(env, r.arrival_s, lambda r=r: run.submit(r))
    probe_ids = requests[0].hash_ids if requests else None
    for tq in observe_at:
        call_at(env, tq, lambda: run.observations.append((
            run.replica.kv_blocks_used, run.replica.num_running, run.replica.num_waiting,
            run.replica.prefill_tokens_pending, run.replica.match_prefix_blocks(probe_ids),
            tuple(r.generated_tokens for r in requests), run.replica.last_progress_s, run.replica.busy,
            run.replica.kv_blocks_total)))
    if holder is not None:
        holder.append(run)
    for t, name, arg in actions:
        if on_action and name in on_action:
            call_at(env, t, on_action[name])
        else:
            call_at(env, t, lambda name=name, arg=arg: act(run, name, arg))
    env.run(until=until)
    return run


def act(run: Run, name: str, arg) -> None:
    """One lifecycle call: stall, resume, cancel (arg: (request index, resubmit delay or None, kv_ready)),
    kv (arg: new capacity in tokens), crash (arg: restart delay or None), restart (arg: capacity or None)."""
    rep, env = run.replica, run.env
    run.log.append((env.now, name, arg))
    if name == "stall":
        rep.stall()
    elif name == "resume":
        rep.resume()
    elif name == "cancel":
        i, delay, kv_ready = arg
        r = run.requests[i]
        if rep.cancel(r) and delay is not None:
            call_at(env, env.now + delay, lambda: run.submit(r, kv_ready))
    elif name == "kv":
        rep.set_kv_capacity(arg)
    elif name == "crash":
        run.resubmit(rep.crash())
        if arg is not None:
            call_at(env, env.now + arg, lambda: act(run, "restart", None))
    elif name == "restart":
        lost = rep.restart(kv_capacity_tokens=arg)
        parked, run.parked = run.parked, []
        run.resubmit(lost + parked)
    else:
        raise ValueError(name)



def simulate_disaggregated(specs, config: EngineConfig, kv_tokens: int, *, stepper: str,
                           transfer_s: float = 0.001, decode_kv_tokens: int | None = None,
                           tenants=None, table=None, observe=None) -> Run:
    """One prefill and one decode replica, as the simulation's hand-off does it: the decode replica
    reserves the KV first (queueing while it is full; the prefill side keeps holding it), the KV
    moves `transfer_s` after the reservation, then the prefill side releases it and decode admits it.
    `tenants` and `table` as in `simulate` (both replicas schedule by the table)."""
    config = config.model_copy(update={"stepper": stepper})
    env = simpy.Environment()
    requests = make_requests(specs)
    for r, tenant in zip(requests, tenants or ()):
        r.tenant = tenant
    run = Run(env, None, requests)  # type: ignore[arg-type]

    def send(r, t):
        def arrive():
            prefill.release(r)
            decode.submit_decode(r)
        call_at(env, t + transfer_s, arrive)

    def on_event(kind, r, t):
        run.events.append((kind, r.id, t))
        if observe is not None:
            observe(decode)
        if kind == "prefill_done":
            status = decode.reserve(r)
            if status == 1:
                send(r, t)
            elif status == -1:
                prefill.cancel(r)
                r.status = "failed"
        elif kind == "kv_reserved":
            send(r, t)

    prefill = Replica(env, "p0", "prefill", FakeCost(), kv_tokens, config, on_event, tenants=table)
    decode = Replica(env, "d0", "decode", FakeCost(), decode_kv_tokens or kv_tokens, config, on_event,
                     tenants=table)
    run.replica = decode
    for r in requests:
        call_at(env, r.arrival_s, lambda r=r: prefill.submit(r))
    env.run()
    return run
