"""Request fate on failure (`recovery.requests`): what happens to a request whose replica died under it.

  fail        the client gets an error; the request ends failed.
  retry       prefill again elsewhere from scratch (tokens streamed so far are discarded and regenerated).
  migrate     keep the tokens already generated; another replica recomputes their KV (prompt = input +
              generated) and continues, as Dynamo's request migration does.
  kv_replica  resume on the replica that holds a replicated copy of the KV (DejaVu): no recompute; the
              replication's fabric cost is charged on every iteration in normal operation (chaos.perf);
              when the peer is gone too, fall back to migrate.
Each request is recovered at most `max_attempts` times; then it fails with the reason.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decision:
    action: str                 # fail | retry | migrate | kv_replica
    target: str | None = None   # kv_replica: the replica that holds the KV
    why: str = ""


@dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    """The scenario's `recovery:` section as the driver uses it."""

    requests: str = "fail"
    max_attempts: int = 3

    def decide(self, req, fleet, failed_replica: str) -> Decision:
        if self.requests == "fail":
            return Decision("fail")
        if req.retries >= self.max_attempts:
            return Decision("fail", why=f"recovery gave up after {self.max_attempts} attempts")
        if self.requests == "kv_replica":
            if fleet.role_of(failed_replica) == "prefill":
                return Decision("migrate", why="prefill KV is not replicated")
            peer = fleet.kv_peer(failed_replica)
            if peer is not None and fleet.accepting(peer) and fleet.reachable(peer):
                return Decision("kv_replica", target=peer)
            return Decision("migrate", why="KV replica unavailable")
        return Decision(self.requests)


class FateStats(Counter):
    """Counts of what happened on the request path (retries, timeouts, refusals, recoveries)."""

    def count(self, what: str) -> None:
        self[what] += 1
