"""Config models of the control room: health probes, the progress watchdog and the controller.

YAML forms (durations accept "250ms", "30s", "5m" or a number of seconds):

    router:
      health:   {interval: 5s, timeout: 3s, failures: 2, successes: 1}
      watchdog: {stall_after: 30s, interval: 5s}
    controller:
      policy: [failover_spare, restart]          # or one name: none | restart | failover_spare | reshard
                                                 #                | rerole | autoscale
      restart_time: 60s
      model_load_time: 90s
      rerole_time: 30s
      node: {status_update_interval: 10s, monitor_period: 5s, grace_period: 40s, eviction_timeout: 300s}
      autoscale: {interval: 30s, window: 60s, target_utilization: 0.7, scale_down_delay: 60s,
                  prefill: {min: 1, max: 8}, decode: {min: 1, max: 8}, aggregated: {min: 1}}

`HealthConfig` and `WatchdogConfig` live here (not in chaos/routing/config.py) so the scenario can
compose them under `router:` without the routing room importing the control room.
"""
from __future__ import annotations

from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import RegistryError, expected_one_of
from chaos.units import parse_duration


def _duration(value: object) -> float:
    return parse_duration(value)


class HealthConfig(BaseModel):
    """Active health probes from the router: one every `interval` per replica.

    A probe that passes is known at once; one that fails is known `timeout` after it was sent.
    `failures` consecutive failures mark a replica down; while down, `successes` consecutive passes
    mark it up again. `timeout` may not exceed `interval` (a probe's answer, or its timeout, is known
    before the next probe is sent, as with a kubelet probe worker).
    """

    model_config = ConfigDict(extra="forbid")

    interval: float = Field(5.0, gt=0, description="seconds between probes of one replica")
    timeout: float = Field(3.0, gt=0, description="seconds until an unanswered probe counts as failed")
    failures: int = Field(2, ge=1, description="consecutive failed probes before a replica is marked down")
    successes: int = Field(1, ge=1, description="consecutive passed probes before a down replica is marked up")

    @field_validator("interval", "timeout", mode="before")
    @classmethod
    def _durations(cls, value: object) -> float:
        return _duration(value)

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> "HealthConfig":
        if self.timeout > self.interval:
            raise ValueError(f"timeout ({self.timeout:g}s) must not exceed interval ({self.interval:g}s): "
                             f"a probe's answer is known before the next one is sent; raise interval "
                             f"or lower timeout")
        return self


class WatchdogConfig(BaseModel):
    """Progress watchdog: every `interval`, a busy replica whose engine completed no iteration for
    `stall_after` seconds is marked down ("no progress"); it is marked up once progress resumes."""

    model_config = ConfigDict(extra="forbid")

    stall_after: float = Field(30.0, gt=0, description="seconds without a completed iteration while busy")
    interval: float = Field(5.0, gt=0, description="seconds between watchdog checks")

    @field_validator("stall_after", "interval", mode="before")
    @classmethod
    def _durations(cls, value: object) -> float:
        return _duration(value)


class NodeLifecycleConfig(BaseModel):
    """How the orchestrator learns that a node died or came back (Kubernetes' node lifecycle).

    The kubelet posts its node's status every `status_update_interval` (kubelet
    nodeStatusUpdateFrequency, default 10s); the node lifecycle controller looks every `monitor_period`
    (kube-controller-manager --node-monitor-period, default 5s) and marks a node NotReady once its last
    post is older than `grace_period` (--node-monitor-grace-period: 40s by default, 50s since Kubernetes
    1.32). Pods on a NotReady node are evicted `eviction_timeout` later (the not-ready/unreachable
    tolerationSeconds the DefaultTolerationSeconds admission plugin adds, 300s), and only then can a
    replacement (a failover to a spare) be scheduled. A repair is learnt from the node's first status
    post after it, seen at the controller's next look. Sources: kubernetes.io/docs "Nodes" (node
    heartbeats, node controller), kube-controller-manager and kubelet reference, "Taints and
    Tolerations" (taint-based evictions).
    """

    model_config = ConfigDict(extra="forbid")

    status_update_interval: float = Field(10.0, gt=0, description="seconds between the kubelet's node status posts")
    monitor_period: float = Field(5.0, gt=0, description="seconds between the node controller's checks")
    grace_period: float = Field(40.0, gt=0, description="seconds without a status post before a node is NotReady")
    eviction_timeout: float = Field(300.0, ge=0, description="seconds a pod tolerates a NotReady node before "
                                                             "it is evicted and can be replaced")

    @field_validator("status_update_interval", "monitor_period", "grace_period", "eviction_timeout", mode="before")
    @classmethod
    def _durations(cls, value: object) -> float:
        return _duration(value)


class PoolBounds(BaseModel):
    """Replica count bounds of one pool for autoscale (and rerole: a donor pool never drops below min)."""

    model_config = ConfigDict(extra="forbid")

    min: int = Field(1, ge=0, description="fewest healthy replicas autoscale keeps")
    max: Optional[int] = Field(None, ge=0, description="most replicas; omitted = limited by free spares only")

    @model_validator(mode="after")
    def _ordered(self) -> "PoolBounds":
        if self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class AutoscaleConfig(BaseModel):
    """Dynamo-planner-style sizing: every `interval`, from the load observed over `window` and the
    perf model's per-replica capacity, the replicas each pool needs at `target_utilization`.

    `window` and `target_utilization` are also what `rerole` uses to judge which pool is starved.
    Scale-down is stabilised like the Kubernetes HPA: a pool shrinks only to the largest count
    recommended over the last `scale_down_delay` seconds; scale-up acts at once.
    """

    model_config = ConfigDict(extra="forbid")

    interval: float = Field(30.0, gt=0, description="seconds between planning decisions")
    window: Optional[float] = Field(None, gt=0, description="seconds of observed load; omitted = interval")
    target_utilization: float = Field(0.7, gt=0, le=1, description="fraction of capacity to plan for")
    scale_down_delay: float = Field(60.0, ge=0, description="stabilisation window for scale-down, seconds")
    prefill: PoolBounds = Field(default_factory=PoolBounds)
    decode: PoolBounds = Field(default_factory=PoolBounds)
    aggregated: PoolBounds = Field(default_factory=PoolBounds)

    @field_validator("interval", "window", "scale_down_delay", mode="before")
    @classmethod
    def _durations(cls, value: object) -> object:
        return None if value is None else _duration(value)

    @property
    def window_s(self) -> float:
        return self.window if self.window is not None else self.interval

    def bounds(self, pool: str) -> PoolBounds:
        return getattr(self, pool)


class ControllerConfig(BaseModel):
    """The `controller:` section: which policies react to detected failures, and their timings.

    `policy` is one name or a list. Recovery policies (none, restart, failover_spare, reshard) are
    tried in order for each replica marked down until one acts; `none` is the implicit last resort.
    Rebalancing policies (rerole, autoscale) run alongside whatever recovers the replica.
    """

    model_config = ConfigDict(extra="forbid")

    policy: Union[str, list[str]] = Field("none", description="none | restart | failover_spare | reshard | "
                                                               "rerole | autoscale, or a list tried in order")
    restart_time: float = Field(60.0, ge=0, description="seconds from a restart decision until the engine serves")
    model_load_time: float = Field(90.0, ge=0, description="seconds to load weights on a spare or resharded group")
    rerole_time: float = Field(30.0, ge=0, description="seconds to switch a drained replica's role")
    autoscale: AutoscaleConfig = Field(default_factory=AutoscaleConfig)
    liveness: HealthConfig = Field(default_factory=lambda: HealthConfig(interval=10.0, timeout=1.0, failures=3),
                                   description="the orchestrator's own liveness probe of each engine (node-local, "
                                               "so a network partition does not fail it); Kubernetes defaults")
    node: NodeLifecycleConfig = Field(default_factory=NodeLifecycleConfig,
                                      description="how a node's death and return are learnt (Kubernetes node "
                                                  "lifecycle defaults)")

    @field_validator("restart_time", "model_load_time", "rerole_time", mode="before")
    @classmethod
    def _durations(cls, value: object) -> float:
        return _duration(value)

    @field_validator("policy")
    @classmethod
    def _known_policies(cls, value: Union[str, list[str]]) -> Union[str, list[str]]:
        from chaos.control.policies import CONTROLLERS
        names = [value] if isinstance(value, str) else list(value)
        if not names:
            raise ValueError(f"expected a policy name or a non-empty list of names "
                             f"({', '.join(CONTROLLERS.names())}) but got []")
        for i, name in enumerate(names):
            if name not in CONTROLLERS:
                raise RegistryError(expected_one_of(name, CONTROLLERS.names()),
                                    field=None if isinstance(value, str) else str(i))
        seen = [n for i, n in enumerate(names) if n in names[:i]]
        if seen:
            raise ValueError(f"{seen[0]!r} is listed twice in {names!r}")
        if "none" in names and names[-1] != "none" and any(
                CONTROLLERS.get(n).kind == "recovery" for n in names[names.index("none") + 1:]):
            raise ValueError(f"'none' always acts, so the policies after it in {names!r} would never run; "
                             f"put it last or drop it (it is the implicit last resort)")
        return value

    @property
    def policies(self) -> tuple[str, ...]:
        """The policy names in order."""
        return (self.policy,) if isinstance(self.policy, str) else tuple(self.policy)
