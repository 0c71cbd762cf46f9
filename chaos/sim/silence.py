"""What the client gets of a stream when the network goes quiet: a mixin of the driver.

A replica that dies silently (its host gone, its ring hung) or is cut off from the router sends no
byte and no RST. Its attempts are *parked* (the router counts them as active on that replica, as
Envoy's per-host rq_active does), go *quiet* (what the client had is remembered), and end at the
first of: the router's connect timeout (a connection that never opened), first-token timeout, a
health check that takes the replica out (the proxy closes its connections to it), or the stream
idle timeout. Tokens produced behind the silence never reach the client: dropping the attempt takes
them back. The driver (chaos/sim/driver.py) owns the attempts and the request fate; this holds the
timers and the bookkeeping of silence.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.engine.events import UrgentTimeout
from chaos.engine.request import Request

if TYPE_CHECKING:
    from chaos.sim.driver import Attempt


class SilentStreams:
    """Mixin of `Driver`: parked attempts, quiet streams and the timeouts that end them."""

    def _connect_timeout(self, req: Request, attempt: Attempt, replica_id: str):
        timeout_s = self.router.config.connect_timeout
        yield UrgentTimeout(self.env, timeout_s)
        if self._attempt.get(req.id) is attempt and not attempt.submitted and attempt.quiet_since is None:
            self.stats.count("connect timeouts")
            self._error(req, replica_id, f"connect timeout: {replica_id} did not answer within {timeout_s:g}s",
                        kind="connect_timeout")

    def _drop_attempt(self, req: Request) -> Attempt | None:
        """Forget the request's current attempt: cancel it wherever it still sits, release its place in
        the network, and take back what its client never received."""
        attempt = self._attempt.pop(req.id, None)
        self.handoff.forget(req.id)              # a KV handoff waiting for decode blocks (sim/disagg.py)
        if attempt is None:
            return None
        for rid in attempt.replica_ids:
            replica = self.fleet.replicas[rid]
            if replica.alive:
                replica.cancel(req)      # wherever it still sits (a KV transfer that cannot start)
        self._unpark(attempt)
        if attempt.quiet_since is not None:
            # tokens produced behind the silence never reached the client: they are not output, and
            # the client's last token came when the stream went quiet (its next gap starts there)
            req.generated = attempt.delivered
            req.finish_s = float("nan")
            if req.id in self._started:
                req.last_token_s = attempt.quiet_since
            else:
                req.first_token_s = float("nan")
        return attempt

    def _park(self, attempt: Attempt, replica_id: str) -> None:
        if attempt.parked_on != replica_id:
            self._unpark(attempt)
            attempt.parked_on = replica_id
            self.fleet.replicas[replica_id].in_network += 1

    def _unpark(self, attempt: Attempt) -> None:
        if attempt.parked_on is not None:
            self.fleet.replicas[attempt.parked_on].in_network -= 1
            attempt.parked_on = None

    def _go_quiet(self, req: Request, attempt: Attempt, replica_id: str) -> None:
        """No byte of this attempt reaches the client from now on: remember what it had, and let the
        proxy's stream idle timeout (Envoy's, 5 min by default) reset it unless bytes flow again."""
        if attempt.quiet_since is not None:
            return
        attempt.quiet_since = self.env.now
        attempt.quiet_on = replica_id
        attempt.delivered = req.generated_tokens if req.id in self._started else 0
        self.env.process(self._stream_idle(req, attempt, attempt.quiet_gen))

    def _flowing(self, attempt: Attempt) -> None:
        """Bytes reach the client again (a partition healed before any timeout)."""
        if attempt.quiet_since is not None:
            attempt.quiet_since = None
            attempt.quiet_gen += 1

    def _stream_idle(self, req: Request, attempt: Attempt, gen: int):
        idle_s = self.router.config.stream_idle_timeout
        yield UrgentTimeout(self.env, idle_s)
        if self._attempt.get(req.id) is attempt and attempt.quiet_gen == gen and not self._final(req):
            self.stats.count("stream idle timeouts")
            self._reset_quiet(req, attempt, f"stream idle timeout: no byte from {attempt.quiet_on} for {idle_s:g}s")

    def _reset_quiet(self, req: Request, attempt: Attempt, reason: str) -> None:
        """The proxy resets a stream that went quiet: before its first token the router may retry it
        elsewhere; after it, the stream was started, so the request fate decides (`recovery:`)."""
        replica_id = attempt.quiet_on
        if req.id in self._started:
            self._lost_attempt(req, replica_id, reason)
        else:
            self._abandon(req, attempt)
            self._error(req, replica_id, reason, kind="timeout")

    def on_marked_down(self, replica_id: str) -> None:
        """The router's health checks took `replica_id` out: it closes the streams to it that have gone
        quiet (Envoy's close_connections_on_host_health_failure), so they are recovered per `recovery:`
        now instead of at the idle timeout. Streams still receiving bytes are left to finish."""
        for rid, attempt in list(self._attempt.items()):
            if attempt.quiet_since is not None and attempt.quiet_on == replica_id:
                req = self.requests[rid]
                if not self._final(req):
                    self.stats.count("streams closed on health failure")
                    self._reset_quiet(req, attempt, f"{replica_id} marked down by health checks: its "
                                                    f"silent stream was closed")
