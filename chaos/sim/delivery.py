"""What reaches the client: the one place a token after a gap is delivered, and the ITL the client sees.

The client's view of a stream is what `vllm bench serve` and AIPerf measure: TTFT is when the first
token arrives, ITL the gap between consecutive tokens as they arrive (queueing, preemption, KV
transfer and network stalls included). The simulation gets it from two sources:
  * an uninterrupted decode segment on one replica streams one token per engine iteration, so its
    gaps are that replica's iteration latencies - the engine's ITL samples (weight = decoders), with
    no per-token Python work;
  * every token that follows a gap in the stream comes here through `ClientStreams.deliver`: the
    first token (for a disaggregated request, the decode replica's first iteration for it), the first
    token after a preemption's recompute, after a KV transfer or a move to another replica, and a
    token the network held back (the driver delivers it when the partition heals). Its gap runs from
    the previous token's arrival and is recorded as a sample of weight 1.
The driver calls `deliver` with the client's arrival time; a later change of what the network lets
through (tokens behind a partition) hooks in there. Samples are binned per metrics window with the
engine's (ItlSamples.compact), so memory grows with distinct gaps, not tokens.
"""
from __future__ import annotations

import math

from chaos.engine.itl import ITLRecorder
from chaos.engine.request import Request


class ClientStreams:
    """Client-side token arrivals of one run: TTFT as the client sees it and the gaps after stalls."""

    __slots__ = ("gaps", "by_tenant", "_last", "_bin_s")

    def __init__(self) -> None:
        self.gaps = ITLRecorder()            # (arrival s, gap s, weight 1) per token after a stall
        self.by_tenant: dict[int, ITLRecorder] = {}   # the same samples split by the request's tenant
        self._last: dict[int, float] = {}    # request id -> arrival of its latest token after a gap
        self._bin_s: float | None = None

    def bin_by(self, window_s: float) -> None:
        """Keep the gaps (all and by tenant) as histograms per metrics window (ITLRecorder.bin_by)."""
        self._bin_s = float(window_s)
        for rec in (self.gaps, *self.by_tenant.values()):
            rec.bin_by(window_s)

    def deliver(self, req: Request, kind: str, t_client_s: float, prev_token_s: float) -> None:
        """A token of `req` reaches the client at `t_client_s`. kind "first_token" sets the client's
        TTFT; "token" records the gap from the previous token's arrival: the later of when the engine
        produced it (`prev_token_s`) and when a token of this stream last got through here."""
        if kind == "first_token":
            req.first_token_s = t_client_s
        else:
            prev = self._last.get(req.id, -math.inf)
            if prev_token_s == prev_token_s and prev_token_s > prev:   # NaN-safe max
                prev = prev_token_s
            if prev > -math.inf:
                gap = max(0.0, t_client_s - prev)
                self.gaps.add(t_client_s, gap, 1)
                rec = self.by_tenant.get(req.tenant)
                if rec is None:
                    rec = self.by_tenant[req.tenant] = ITLRecorder()
                    if self._bin_s is not None:
                        rec.bin_by(self._bin_s)
                rec.add(t_client_s, gap, 1)
        self._last[req.id] = t_client_s

    def close(self, request_id: int) -> None:
        """The request ended: forget its stream."""
        self._last.pop(request_id, None)

    @property
    def tokens(self) -> int:
        """Gaps recorded here (tokens that followed a stall)."""
        return self.gaps.tokens
