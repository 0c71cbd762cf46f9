"""The prefill -> decode hand-off of a disaggregated request: reserve decode KV, move it, admit it.

  1. the prefill replica finished the prompt ("prefill_done") and holds its KV;
  2. the decode replica chosen at dispatch reserves the blocks the context will take (engine
     reservation.py); while it cannot, the request waits in its pre-allocation queue and the prefill
     replica keeps holding the KV - a full decode pool pushes back on prefill;
  3. once reserved, the KV crosses the fabric as a shared flow (chaos/sim/fabricshare.py): setup
     (`engine.kv_transfer_setup`) and path latency, then bytes at the fair share of the links;
  4. at the end the prefill replica frees its copy and the decode replica admits the request, whose
     first decode iteration streams the client's first token (TTFT).
A crash, timeout or abandon of the attempt cancels the reservation and the transfer (`forget`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.engine.request import Request
from chaos.engine.reservation import GRANTED, NEVER
from chaos.perf import kv_bytes_per_token

if TYPE_CHECKING:
    from chaos.sim.driver import Attempt, Driver


class KVHandoff:
    """Steps 2-4 above for every disaggregated request of a run."""

    def __init__(self, driver: "Driver") -> None:
        self.driver = driver
        self._moving: dict[int, "Attempt"] = {}     # request id -> attempt with a reservation or transfer

    def prefill_done(self, req: Request, attempt: "Attempt") -> None:
        d, fleet = self.driver, self.driver.fleet
        prefill_id, decode_id = attempt.replica_ids
        decode = fleet.replicas[decode_id]
        if not decode.alive or fleet.incarnation(decode_id) != attempt.incarnations[1]:
            d._lost_attempt(req, decode_id, f"{decode_id} unavailable for KV transfer")
            return
        status = decode.reserve(req)
        if status == NEVER:
            fleet.replicas[prefill_id].cancel(req)
            d._attempt.pop(req.id, None)
            d._end(req, "failed", f"context of {req.input_tokens + 1} tokens needs more KV blocks than "
                                  f"{decode_id} has")
            return
        self._moving[req.id] = attempt
        if status == GRANTED:
            self._send(req, attempt)
        else:
            d.stats.count("kv transfers waiting for decode KV")

    def reserved(self, req: Request) -> None:
        """The decode replica granted a queued reservation ("kv_reserved")."""
        attempt = self._moving.get(req.id)
        if attempt is None or self.driver._attempt.get(req.id) is not attempt:
            return                                   # forgotten meanwhile (cancel gave the blocks back)
        self._send(req, attempt)

    def forget(self, req_id: int) -> None:
        """The attempt ended (lost, abandoned, finished elsewhere): stop its transfer."""
        if self._moving.pop(req_id, None) is not None:
            self.driver.fleet.share.cancel(req_id)

    def _send(self, req: Request, attempt: "Attempt") -> None:
        d, fleet = self.driver, self.driver.fleet
        prefill_id, decode_id = attempt.replica_ids
        bandwidth_Bps, latency_s = fleet.transfer_path(prefill_id, decode_id)
        if bandwidth_Bps <= 0:
            # the end that is gone takes the blame (and the outlier count): usually the decode peer
            culprit = decode_id if not fleet.accepting(decode_id) or fleet.accepting(prefill_id) else prefill_id
            d._lost_attempt(req, culprit, f"no fabric route from {prefill_id} to {decode_id} for KV")
            return
        src, dst = fleet.state[prefill_id].placement, fleet.state[decode_id].placement
        nbytes = req.input_tokens * kv_bytes_per_token(fleet.model)
        fleet.share.start_transfer(req.id, src.gpus, dst.gpus, bandwidth_Bps, nbytes,
                                   fleet.engine_config.kv_transfer_setup + latency_s,
                                   lambda: self._arrived(req, attempt))

    def _arrived(self, req: Request, attempt: "Attempt") -> None:
        d, fleet = self.driver, self.driver.fleet
        if self._moving.get(req.id) is attempt:
            del self._moving[req.id]
        if d._attempt.get(req.id) is not attempt:
            return                                   # the attempt died meanwhile (crash, timeout)
        prefill_id, decode_id = attempt.replica_ids
        if fleet.incarnation(prefill_id) != attempt.incarnations[0]:
            d._lost_attempt(req, prefill_id, f"{prefill_id} lost during KV transfer")
            return
        fleet.replicas[prefill_id].release(req)
        decode = fleet.replicas[decode_id]
        if not decode.alive or fleet.incarnation(decode_id) != attempt.incarnations[1]:
            d._lost_attempt(req, decode_id, f"{decode_id} unavailable for KV transfer")
            return
        decode.submit_decode(req)
