"""Failure detection with its real delays: active health probes and a progress watchdog.

Neither reads a fault's truth. The health monitor sees only what a probe would see (the sim supplies
`probe(id)`: would the replica answer now - alive, reachable from the router, not in a non-silent
stall); the watchdog sees only the engine's public progress views (`busy`, `last_progress_s`).

HealthMonitor timing. Replica i of the n given at construction sends its first probe at
`start + interval * i / n` (evenly staggered, deterministic) and then every `interval`; a replica
added later (`add`) starts at `now + interval * frac(crc32(id) / 2**32)`, so its phase depends on its
id only. A passing probe is known at once; a failing one `timeout` after it was sent (`timeout <=
interval`, so results arrive in the order the probes were sent). Probes are NORMAL-priority SimPy
timeouts, so a fault scheduled URGENT at the same instant is seen by the probe.

Detection delay bounds: from a healthy steady state, a replica that stops answering at t is declared
down between

    t + (failures - 1) * interval + timeout   and   t + failures * interval + timeout

(the first failing probe is sent in [t, t + interval); the `failures`-th one `(failures - 1) *
interval` later, and its failure is known `timeout` after that). A replica that answers again at t is
declared up between t + (successes - 1) * interval and t + successes * interval (passes are known at
once). A single missed probe never ejects a replica when failures >= 2.

ProgressWatchdog: every `interval` it looks at each replica; a busy, alive replica whose reference
time is `stall_after` or more in the past is declared down ("no progress"). The reference time is
max(last_progress_s, last check at which the watchdog saw the replica idle), so an idle spell before
new work never counts as a stall. A flagged replica is declared up once its last_progress_s moves past
the value seen when it was flagged, or once it is alive and idle (nothing left to be stuck on; a
restarted engine is idle). A silent stall starting at t with work queued is flagged between
t + stall_after and t + stall_after + interval.

Callbacks `on_change(replica_id, healthy, reason, t)` fire only on state changes. Several detectors
may watch one replica: `CombinedDetection` merges them (down while any holds it down, up when none
does), so one detector's "up" never clears another's "down".
"""
from __future__ import annotations

import zlib
from typing import Callable, Iterable, Protocol, Sequence

import simpy

from chaos.control.config import HealthConfig, WatchdogConfig
from chaos.errors import SimulationError

OnChange = Callable[[str, bool, str, float], None]
"""on_change(replica_id, healthy, reason, t)."""

HEALTH_REASON = "health check"
WATCHDOG_REASON = "no progress"


class _ProbeState:
    __slots__ = ("healthy", "fails", "passes", "token")

    def __init__(self, healthy: bool) -> None:
        self.healthy = healthy
        self.fails = 0
        self.passes = 0
        self.token = object()      # identifies the probe loop; a removed or re-added replica gets a new one


class HealthMonitor:
    """Periodic probes of every replica it knows; `failures` consecutive failures -> down, `successes`
    consecutive passes while down -> up. Replicas start healthy."""

    def __init__(self, env: simpy.Environment, replica_ids: Sequence[str], probe: Callable[[str], bool],
                 config: HealthConfig, on_change: OnChange) -> None:
        self.env = env
        self.probe = probe
        self.config = config
        self.on_change = on_change
        self._state: dict[str, _ProbeState] = {}
        n = len(replica_ids)
        for i, rid in enumerate(replica_ids):
            self._start(rid, config.interval * i / n, healthy=True)

    # ---- public ------------------------------------------------------------------------------------
    def add(self, replica_id: str, healthy: bool = True) -> None:
        """Start probing a replica (a spare taking over, an autoscaled one); its phase depends on its id."""
        if replica_id in self._state:
            raise SimulationError(f"health monitor: replica {replica_id!r} is already probed")
        phase = (zlib.crc32(replica_id.encode("utf-8")) / 2**32) * self.config.interval
        self._start(replica_id, phase, healthy)

    def remove(self, replica_id: str) -> None:
        """Stop probing a replica (failed over, deactivated); a probe in flight is forgotten. No callback."""
        self._state.pop(replica_id, None)

    def healthy(self, replica_id: str) -> bool:
        """The monitor's current belief (not the truth)."""
        return self._state[replica_id].healthy

    @property
    def replica_ids(self) -> list[str]:
        return list(self._state)

    # ---- internals ---------------------------------------------------------------------------------
    def _start(self, replica_id: str, phase_s: float, healthy: bool) -> None:
        st = _ProbeState(healthy)
        self._state[replica_id] = st
        self.env.process(self._loop(replica_id, st.token, phase_s))

    def _current(self, replica_id: str, token: object) -> _ProbeState | None:
        st = self._state.get(replica_id)
        return st if st is not None and st.token is token else None

    def _loop(self, replica_id: str, token: object, phase_s: float):
        env, cfg = self.env, self.config
        yield env.timeout(phase_s)
        while self._current(replica_id, token) is not None:
            if self.probe(replica_id):
                self._result(replica_id, token, True)
            else:
                late = env.timeout(cfg.timeout)
                late.callbacks.append(lambda _ev, rid=replica_id, tok=token: self._result(rid, tok, False))
            yield env.timeout(cfg.interval)

    def _result(self, replica_id: str, token: object, passed: bool) -> None:
        st = self._current(replica_id, token)
        if st is None:
            return
        if passed:
            st.fails = 0
            st.passes += 1
            if not st.healthy and st.passes >= self.config.successes:
                st.healthy = True
                self.on_change(replica_id, True, HEALTH_REASON, self.env.now)
        else:
            st.passes = 0
            st.fails += 1
            if st.healthy and st.fails >= self.config.failures:
                st.healthy = False
                self.on_change(replica_id, False, HEALTH_REASON, self.env.now)


class ProgressView(Protocol):
    """What the watchdog reads from a replica (chaos.engine.Replica provides it; tests use fakes)."""

    replica_id: str
    alive: bool

    @property
    def busy(self) -> bool: ...
    @property
    def last_progress_s(self) -> float: ...


class ProgressWatchdog:
    """Marks busy replicas that make no progress for `stall_after` down, and up again when they move."""

    def __init__(self, env: simpy.Environment, replicas: Callable[[], Iterable[ProgressView]],
                 config: WatchdogConfig, on_change: OnChange) -> None:
        self.env = env
        self.replicas = replicas
        self.config = config
        self.on_change = on_change
        self._idle_seen: dict[str, float] = {}      # last check at which a replica was idle
        self._flagged: dict[str, float] = {}        # replica id -> last_progress_s when flagged
        self._proc = env.process(self._loop())

    def flagged(self, replica_id: str) -> bool:
        """True while the watchdog holds the replica down."""
        return replica_id in self._flagged

    def _loop(self):
        while True:
            yield self.env.timeout(self.config.interval)
            self.check()

    def check(self) -> None:
        """One look at every replica (the process calls it every interval)."""
        now = self.env.now
        seen = set()
        for r in self.replicas():
            rid = r.replica_id
            seen.add(rid)
            alive = getattr(r, "alive", True)
            busy = alive and r.busy
            progress = r.last_progress_s
            if rid in self._flagged:
                if progress > self._flagged[rid] or (alive and not busy):
                    del self._flagged[rid]
                    self.on_change(rid, True, WATCHDOG_REASON, now)
            elif busy:
                ref = max(progress, self._idle_seen.get(rid, float("-inf")))
                if now - ref >= self.config.stall_after:
                    self._flagged[rid] = progress
                    self.on_change(rid, False, WATCHDOG_REASON, now)
            if not busy:
                self._idle_seen[rid] = now
        for rid in [k for k in self._flagged if k not in seen]:
            del self._flagged[rid]                  # replica left the fleet: forget it silently
        for rid in [k for k in self._idle_seen if k not in seen]:
            del self._idle_seen[rid]


class CombinedDetection:
    """Merges several detectors' verdicts, keyed by their reason ("health check", "no progress", ...).

    Use the instance as the `on_change` of every detector; it calls `on_change` once when a replica
    goes from no detector holding it down to one (with that detector's reason), and once when the last
    detector releases it (with the reason of the one that released it last).
    """

    def __init__(self, on_change: OnChange) -> None:
        self.on_change = on_change
        self._holding: dict[str, set[str]] = {}

    def __call__(self, replica_id: str, healthy: bool, reason: str, t: float) -> None:
        held = self._holding.setdefault(replica_id, set())
        if healthy:
            if reason in held:
                held.discard(reason)
                if not held:
                    self.on_change(replica_id, True, reason, t)
        elif reason not in held:
            held.add(reason)
            if len(held) == 1:
                self.on_change(replica_id, False, reason, t)

    def down(self, replica_id: str) -> set[str]:
        """The reasons holding a replica down (empty when none)."""
        return set(self._holding.get(replica_id, ()))

    def forget(self, replica_id: str) -> None:
        """The replica left the fleet: drop its verdicts silently."""
        self._holding.pop(replica_id, None)
