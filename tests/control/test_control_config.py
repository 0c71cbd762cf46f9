"""Config models of the control room: defaults, durations, bounds, policy names with did-you-mean."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from chaos.control import CONTROLLERS, AutoscaleConfig, ControllerConfig, HealthConfig, WatchdogConfig


def test_registered_policies():
    assert CONTROLLERS.names() == ["autoscale", "failover_spare", "none", "rerole", "reshard", "restart"]
    assert {CONTROLLERS.get(n).kind for n in ("none", "restart", "failover_spare", "reshard")} == {"recovery"}
    assert {CONTROLLERS.get(n).kind for n in ("rerole", "autoscale")} == {"rebalance"}


def test_defaults_and_durations():
    h = HealthConfig()
    assert (h.interval, h.timeout, h.failures, h.successes) == (5.0, 3.0, 2, 1)
    assert HealthConfig(interval="10s", timeout="250ms").timeout == 0.25
    w = WatchdogConfig(stall_after="1m")
    assert (w.stall_after, w.interval) == (60.0, 5.0)
    c = ControllerConfig(policy=["failover_spare", "restart"], restart_time="2m", autoscale={"interval": "1m"})
    assert c.policies == ("failover_spare", "restart")
    assert (c.restart_time, c.model_load_time, c.rerole_time) == (120.0, 90.0, 30.0)
    assert c.autoscale.interval == 60.0 and c.autoscale.window_s == 60.0
    assert c.autoscale.target_utilization == 0.7
    assert ControllerConfig().policies == ("none",)
    assert AutoscaleConfig(window="2m", decode={"min": 2, "max": 6}).bounds("decode").max == 6


@pytest.mark.parametrize("model, data, match", [
    (ControllerConfig, {"policy": "restrat"}, r"expected one of autoscale, failover_spare, none, rerole, "
                                              r"reshard, restart but got 'restrat' \(did you mean restart\?\)"),
    (ControllerConfig, {"policy": ["failover_spare", "rehsard"]}, r"1: .*got 'rehsard' \(did you mean reshard\?\)"),
    (ControllerConfig, {"policy": "failover"}, r"did you mean failover_spare\?"),
    (ControllerConfig, {"policy": []}, r"non-empty list"),
    (ControllerConfig, {"policy": ["restart", "restart"]}, r"'restart' is listed twice"),
    (ControllerConfig, {"policy": ["none", "restart"]}, r"'none' always acts"),
    (ControllerConfig, {"restart_time": "soon"}, r'expected a duration like "250ms"'),
    (ControllerConfig, {"restart_time": -1}, r"non-negative duration"),
    (ControllerConfig, {"restrat_time": 5}, r"Extra inputs are not permitted"),
    (ControllerConfig, {"autoscale": {"target_utilization": 1.5}}, r"less than or equal to 1"),
    (ControllerConfig, {"autoscale": {"decode": {"min": 3, "max": 2}}}, r"max \(2\) must be at least min \(3\)"),
    (HealthConfig, {"failures": 0}, r"greater than or equal to 1"),
    (HealthConfig, {"successes": 0}, r"greater than or equal to 1"),
    (HealthConfig, {"timeout": "6s"}, r"timeout \(6s\) must not exceed interval \(5s\)"),
    (HealthConfig, {"interval": 0}, r"greater than 0"),
    (HealthConfig, {"interval": "5 parsecs"}, r"expected a duration"),
    (HealthConfig, {"probes": 3}, r"Extra inputs are not permitted"),
    (WatchdogConfig, {"stall_after": "0s"}, r"greater than 0"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input(model, data, match):
    with pytest.raises(ValidationError, match=match):
        model.model_validate(data)


def test_rebalancers_may_follow_none():
    assert ControllerConfig(policy=["none", "autoscale"]).policies == ("none", "autoscale")


def test_node_lifecycle_defaults_follow_kubernetes_and_reject_bad_durations():
    node = ControllerConfig().node
    # kubelet nodeStatusUpdateFrequency 10s, --node-monitor-period 5s, grace 40s, tolerationSeconds 300s
    assert (node.status_update_interval, node.monitor_period, node.grace_period, node.eviction_timeout) == \
        (10.0, 5.0, 40.0, 300.0)
    assert ControllerConfig(node={"grace_period": "50s", "eviction_timeout": 0}).node.grace_period == 50.0
    for bad in ({"grace_period": 0}, {"monitor_period": "-5s"}, {"eviction_timeout": "soon"}, {"grace": "40s"}):
        with pytest.raises(ValidationError):
            ControllerConfig(node=bad)
