"""A fake ControlPlane that records every call and plays the plane's contract on a simpy clock."""
from __future__ import annotations

from typing import Callable

import simpy

from chaos.control import LoadSnapshot


class FakePlane:
    """Replicas by role, spares, hardware status and repair events; every call logged as (t, name, args).

    capacity(kind, tp) = per_gpu[kind] * tp tokens/s; load comes from `load_fn(now)`.
    """

    def __init__(self, env: simpy.Environment, roles: dict[str, str], spares=(), tp: int = 8,
                 per_gpu: dict[str, float] | None = None) -> None:
        self.env = env
        self.active = dict(roles)
        self.spares = list(spares)
        self.tps = {r: tp for r in [*roles, *spares]}
        self.hw = {r: True for r in self.tps}
        self._repaired = {r: env.event() for r in self.tps}
        for ev in self._repaired.values():
            ev.succeed()
        self.gpus = {r: [f"{r}/gpu{i}" for i in range(tp)] for r in self.tps}
        self.dead_gpus: set[str] = set()
        self.fits: Callable[[int], bool] = lambda tp: True
        self.per_gpu = per_gpu or {"prefill": 1250.0, "decode": 125.0}
        self.load_fn: Callable[[float], LoadSnapshot] = lambda now: LoadSnapshot(60.0, 0.0, 0.0, 0.0)
        self.outstanding: dict[str, int] = {}
        self.calls: list[tuple] = []
        self.records: list[tuple] = []
        self.serving_at: dict[str, float] = {}

    # ---- test controls -----------------------------------------------------------------------------
    def lose_gpus(self, replica_id: str, n: int = 1) -> None:
        self.hw[replica_id] = False
        self.dead_gpus |= set(self.gpus[replica_id][:n])
        self._repaired[replica_id] = self.env.event()

    def repair(self, replica_id: str) -> None:
        self.hw[replica_id] = True
        self.dead_gpus -= set(self.gpus[replica_id])
        self._repaired[replica_id].succeed()

    def actions(self) -> list[tuple[float, str, tuple[str, ...]]]:
        return [(t, a, ids) for t, a, ids, _ in self.records]

    def called(self, name: str) -> list[tuple]:
        return [(t, args) for t, n, args in self.calls if n == name]

    # ---- ControlPlane ------------------------------------------------------------------------------
    def _log(self, name, *args):
        self.calls.append((self.env.now, name, args))

    def replicas(self, role=None):
        return sorted(r for r, ro in self.active.items() if role is None or ro == role)

    def role_of(self, replica_id):
        return self.active[replica_id]

    def tp_of(self, replica_id):
        return self.tps[replica_id]

    def hardware_ok(self, replica_id):
        return self.hw[replica_id]

    def hardware_repaired(self, replica_id):
        return self._repaired[replica_id]

    def restart(self, replica_id, delay_s):
        assert self.hw[replica_id], "restart on lost hardware"
        self._log("restart", replica_id, delay_s)
        self.serving_at[replica_id] = self.env.now + delay_s

    def eviction_delay(self, replica_id):
        return self.evict_in.get(replica_id, 0.0) if hasattr(self, "evict_in") else 0.0

    def free_spares(self):
        return [s for s in self.spares if self.hw[s]]

    def failover(self, replica_id, spare_id, delay_s):
        self._log("failover", replica_id, spare_id, delay_s)
        self.spares.remove(spare_id)
        self.active[spare_id] = self.active.pop(replica_id)
        self.serving_at[spare_id] = self.env.now + delay_s

    def surviving_gpus(self, replica_id):
        return [g for g in self.gpus[replica_id] if g not in self.dead_gpus]

    def reshard(self, replica_id, tp, delay_s):
        self._log("reshard_try", replica_id, tp)
        if not self.fits(tp):
            return False
        self._log("reshard", replica_id, tp, delay_s)
        self.tps[replica_id] = tp
        self.serving_at[replica_id] = self.env.now + delay_s
        return True

    def rerole(self, replica_id, role, delay_s):
        self._log("rerole", replica_id, role, delay_s)

        def switch():
            yield self.env.timeout(delay_s)          # drained at once in this fake
            self.active[replica_id] = role
        self.env.process(switch())

    def activate_spare(self, spare_id, role, delay_s):
        self._log("activate_spare", spare_id, role, delay_s)
        self.spares.remove(spare_id)
        self.active[spare_id] = role
        self.serving_at[spare_id] = self.env.now + delay_s

    def deactivate(self, replica_id):
        self._log("deactivate", replica_id)
        del self.active[replica_id]
        self.spares.append(replica_id)

    def load(self, window_s):
        snap = self.load_fn(self.env.now)
        return LoadSnapshot(window_s, snap.arrival_rate_per_s, snap.mean_input_tokens, snap.mean_output_tokens,
                            snap.queued, dict(self.outstanding))

    def capacity(self, role, tp):
        return self.per_gpu[role] * tp

    def record(self, action, replica_ids, detail=""):
        self.records.append((self.env.now, action, tuple(replica_ids), detail))
