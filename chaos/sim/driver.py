"""The request path of a run: arrivals, routing, disaggregated hand-off with KV transfer, closed loop.

The driver owns every Request of the run (ids belong to the run) and is the engines' `on_event`
callback. It never reads engine internals beyond the router views.
"""
from __future__ import annotations

import numpy as np
import simpy

from chaos.engine.request import Request
from chaos.perf import kv_transfer_time
from chaos.routing import Router
from chaos.engine.events import UrgentTimeout
from chaos.topology import path as fabric_path
from chaos.workload import Workload


class Driver:
    """Feeds the workload into the fleet and follows each request to its end."""

    def __init__(self, env: simpy.Environment, workload: Workload, horizon_s: float | None) -> None:
        self.env = env
        self.workload = workload
        self.horizon_s = horizon_s
        self.requests: list[Request] = []
        self.finished = 0
        self.last_finish_s = 0.0
        self.all_done = env.event()
        self.fleet = None
        self.router: Router | None = None
        self._decode_of: dict[int, object] = {}
        self._transfer_cache: dict[tuple[str, str], tuple[float, float]] = {}
        # how many requests end the run when there is no duration (a closed loop without a request
        # count runs to the horizon)
        cl = workload.closed_loop
        self._expected = len(workload.arrival_s) if cl is None else cl.max_requests

    # --- wiring -------------------------------------------------------------------------------
    def attach(self, fleet, router: Router) -> None:
        self.fleet = fleet
        self.router = router
        if self.workload.closed_loop is not None:
            cl = self.workload.closed_loop
            for _ in range(cl.concurrency):
                self._new_closed_loop_request(0.0)
        else:
            self.env.process(self._arrivals())

    def _make_request(self, arrival_s: float, input_tokens: int, output_tokens: int, hash_ids) -> Request:
        req = Request(id=len(self.requests), arrival_s=float(arrival_s), input_tokens=int(input_tokens),
                      output_tokens=int(output_tokens), hash_ids=hash_ids,
                      hash_block_tokens=self.workload.hash_block_tokens)
        self.requests.append(req)
        return req

    def _arrivals(self):
        wl = self.workload
        arrival = wl.arrival_s
        inputs = wl.input_tokens
        outputs = wl.output_tokens
        hashes = wl.hash_ids
        horizon = self.horizon_s if self.horizon_s is not None else np.inf
        env = self.env
        for i in range(len(arrival)):
            t = float(arrival[i])
            if t > horizon:
                break
            if t > env.now:
                yield UrgentTimeout(env, t - env.now)
            req = self._make_request(t, inputs[i], outputs[i], hashes[i] if hashes is not None else None)
            self._dispatch(req)

    def _new_closed_loop_request(self, delay_s: float) -> None:
        cl = self.workload.closed_loop
        if cl.max_requests is not None and len(self.requests) >= cl.max_requests:
            return
        if delay_s > 0:
            def later():
                yield UrgentTimeout(self.env, delay_s)
                self._new_closed_loop_request(0.0)
            self.env.process(later())
            return
        if self.horizon_s is not None and self.env.now > self.horizon_s:
            return
        drawn = cl.next_request(self.env.now)
        if drawn is None:
            return
        input_tokens, output_tokens, hash_ids = drawn
        self._dispatch(self._make_request(self.env.now, input_tokens, output_tokens, hash_ids))

    def _dispatch(self, req: Request) -> None:
        pools = self.fleet.pools
        if self.fleet.disaggregated:
            prefill, decode = self.router.route_disaggregated(req, pools["prefill"], pools["decode"])
            self._decode_of[req.id] = decode
            prefill.submit(req)
        else:
            self.router.route(req, pools["aggregated"]).submit(req)

    # --- engine callbacks ---------------------------------------------------------------------
    def on_event(self, kind: str, req: Request, t: float) -> None:
        if kind in ("finished", "rejected", "failed"):
            # every final state counts: a rejected request must not keep a run waiting for it
            self.finished += 1
            self.last_finish_s = max(self.last_finish_s, t)
            self._decode_of.pop(req.id, None)
            if self.workload.closed_loop is not None:
                self._new_closed_loop_request(self.workload.closed_loop.think_time_s)
            if self.finished == self._expected and not self.all_done.triggered:
                self.all_done.succeed()
        elif kind == "prefill_done":
            decode = self._decode_of.pop(req.id)
            self.env.process(self._transfer(req, decode))

    def _transfer(self, req: Request, decode):
        """Move the prompt's KV from the prefill replica to the chosen decode replica over the fabric."""
        prefill_id = req.replicas[-1]
        key = (prefill_id, decode.replica_id)
        if key not in self._transfer_cache:
            placements = self.fleet.placements
            self._transfer_cache[key] = fabric_path(self.fleet.fabric, placements[prefill_id], placements[decode.replica_id])
        bandwidth_Bps, latency_s = self._transfer_cache[key]
        delay = kv_transfer_time(self.fleet.model, req.input_tokens, bandwidth_Bps, latency_s)
        yield UrgentTimeout(self.env, delay)   # lands before same-instant iteration ends (engine.events)
        self.fleet.replicas[prefill_id].release(req)
        decode.submit_decode(req)

