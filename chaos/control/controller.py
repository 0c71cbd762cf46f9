"""The Controller: the one object the simulation calls; it dispatches detection to the policies.

Semantics of the policies (each module says more):
* none - no automation: a replica whose hardware was lost comes back only when the hardware is
  repaired, restart_time after the repair (the node's supervisor restarts the pod); a stalled engine
  stays stalled until the stall ends. It is the implicit last resort of every list.
* restart - on detection, restart the replica: a stall or software fault (hardware ok) -> serving
  again restart_time after the detection; lost hardware -> restarted as soon as repaired, serving
  restart_time after the repair.
* failover_spare - on detection, a free spare takes over after model_load_time; the broken group
  becomes a spare once repaired; no free spare -> the next policy of the list (or none).
* reshard - lost hardware: rebuild a smaller power-of-two TP replica on the surviving GPUs when the
  model fits there (the plane's perf capacity check), serving after model_load_time; none fits, or
  hardware ok -> the next policy of the list (or none).
* rerole - after a loss (or a return) in a disaggregated deployment, move replicas from the pool
  with slack to the starved one, decided from observed load and capacity (planner formula); each
  drains first, then serves in its new role after rerole_time.
* autoscale (Dynamo-planner style) - every autoscale.interval, from observed load and capacity,
  choose prefill and decode (or aggregated) counts within min/max; activate spares (cold start =
  model_load_time) or deactivate (drain) replicas.
Every action is journaled through plane.record at the instant it is decided.

Composition: `policy: [failover_spare, reshard, restart]` - for each replica marked down, the
recovery policies are tried in that order until one acts (`none` last, implicitly); rebalancing
policies in the list (rerole, autoscale) always run alongside. Down events for a replica already held
down, not active (a spare, failed over, deactivated), or whose recovery is still under way (until it
is due to serve) are ignored, so a health check and the watchdog reporting the same failure cause one action.

What the simulation must do: build `Controller(config, plane)`, call `start()` once before the run,
call `on_replica_down(id, reason, t)` / `on_replica_up(id, t)` from the HealthMonitor and
ProgressWatchdog callbacks (and from any other detection it models), nothing else.
"""
from __future__ import annotations

from chaos.control.config import ControllerConfig
from chaos.control.plane import ControlPlane
from chaos.control.policies import CONTROLLERS, ControlState, NoControl, Policy


class Controller:
    """Facade over the configured policies; one per run."""

    def __init__(self, config: ControllerConfig, plane: ControlPlane) -> None:
        self.config = config
        self.plane = plane
        self.state = ControlState()
        built = [CONTROLLERS.get(name)(config, plane, self.state) for name in config.policies]
        self.recovery: list[Policy] = [p for p in built if p.kind == "recovery"]
        if not any(isinstance(p, NoControl) for p in self.recovery):
            self.recovery.append(NoControl(config, plane, self.state))
        self.rebalance: list[Policy] = [p for p in built if p.kind != "recovery"]
        self._started = False

    @property
    def policies(self) -> list[Policy]:
        return self.recovery + self.rebalance

    @property
    def down(self) -> frozenset[str]:
        """Replica ids the controller believes down right now."""
        return frozenset(self.state.down)

    def start(self, env=None) -> None:
        """Start periodic policies (autoscale ticks); call once before running. `env` defaults to plane.env."""
        if self._started:
            return
        self._started = True
        env = env if env is not None else self.plane.env
        for p in self.policies:
            p.start()
            if p.tick_interval:
                env.process(self._ticks(env, p))

    def on_replica_down(self, replica_id: str, reason: str, t: float | None = None) -> None:
        """Detection says the replica is down (reason: "health check", "no progress", ...)."""
        now = self.plane.env.now if t is None else t
        state = self.state
        if replica_id in state.down or replica_id not in self.plane.replicas():
            return                      # already held down, or not active (a spare, failed over, removed)
        state.down[replica_id] = reason
        if state.in_recovery(replica_id, now):
            return
        for p in self.recovery:
            if p.on_down(replica_id, reason, now):
                break
        for p in self.rebalance:
            p.on_down(replica_id, reason, now)

    def on_replica_up(self, replica_id: str, t: float | None = None) -> None:
        """Detection says the replica serves again."""
        now = self.plane.env.now if t is None else t
        if self.state.down.pop(replica_id, None) is None:
            return
        for p in self.rebalance:
            p.on_up(replica_id, now)

    @staticmethod
    def _ticks(env, policy: Policy):
        while True:
            yield env.timeout(policy.tick_interval)
            policy.tick(env.now)


def build_controller(config: ControllerConfig, plane: ControlPlane) -> Controller:
    """The Controller for a scenario's `controller:` section."""
    return Controller(config, plane)
