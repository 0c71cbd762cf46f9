"""The request path under faults, mechanism by mechanism: hedging, partitions, KV-replica recovery,
and the controller's reshard, rerole and autoscale acting on a live fleet."""
from __future__ import annotations

import numpy as np
import pytest

from chaos.errors import InputError
from chaos.metrics import Status

from test_faults_effects import RESILIENT_ROUTER, scenario, simulate, tokens_done, twin

STALL = [{"type": "scheduler_stall", "at": "30s", "duration": "150s", "silent": True,
          "target": {"replica": "aggregated-0"}}]


def test_hedging_rescues_requests_stuck_on_a_silently_stalled_replica(tmp_path):
    light = {"workload.synthetic.rate": "4/s", "faults": STALL}
    plain = simulate(scenario(**light), tmp_path)
    hedged = simulate(scenario(**light, router={"policy": "least_outstanding", "hedging": {"delay": "2s"}}), tmp_path)
    stuck = (plain.log.arrival_s > 30) & (plain.log.arrival_s < 170)
    assert np.nanmax(plain.log.ttft_s()[stuck]) > 100      # waited out the stall
    assert np.nanmax(hedged.log.ttft_s()[stuck]) < 2 + 3   # the copy got a first token elsewhere
    assert hedged.stats["request_path"]["hedges"] >= 10
    counts = hedged.log.counts()
    assert counts["completed"] + counts["in_flight"] == counts["arrived"]
    assert len(set(hedged.log.id.tolist())) == len(hedged.log.id)


def test_hedging_is_refused_for_disaggregated_deployments(tmp_path):
    doc = scenario(router={"policy": "least_outstanding", "hedging": {"delay": "1s"}})
    doc["deployment"] = {"model": "llama-3.1-70b", "mode": "disaggregated", "prefill": {"replicas": 1, "tp": 4},
                         "decode": {"replicas": 1, "tp": 4}}
    with pytest.raises(InputError, match="hedging is built for aggregated"):
        simulate(doc, tmp_path)


def test_a_partition_holds_tokens_back_until_it_heals_and_new_connections_time_out(tmp_path):
    doc = scenario(**{"workload.synthetic.rate": "3/s"},
                   faults=[{"type": "network_partition", "at": "60s", "duration": "30s",
                            "target": {"replica": "aggregated-1"}}])
    faulted, baseline = twin(doc, tmp_path)
    # what the replica finished during the partition (shorter than the 5 min stream idle timeout)
    # reaches the client exactly when it heals
    held = np.nonzero(faulted.log.finish_s == 90.0)[0]
    assert len(held) >= 3
    assert set(faulted.log.replica[held]) == {"aggregated-1"}
    # new connections to it get no answer: they fail after Envoy's 5 s connect timeout (no retries here)
    timed_out = [i for i, r in enumerate(faulted.log.reason) if str(r).startswith("connect timeout")]
    assert len(timed_out) >= 5
    assert np.allclose(faulted.log.finish_s[timed_out] - faulted.log.arrival_s[timed_out], 5.0)
    assert np.all((faulted.log.arrival_s[timed_out] >= 60) & (faulted.log.arrival_s[timed_out] < 90))
    assert np.nanmax(faulted.log.ttft_s()) > 5 > np.nanmax(baseline.log.ttft_s())


def test_kv_replica_resumes_without_recompute_and_pays_replication_in_normal_operation(tmp_path):
    crash = [{"type": "gpu_crash", "at": "60s", "target": {"replica": "aggregated-0"}}]
    common = {"router": RESILIENT_ROUTER, "faults": crash, "workload.synthetic.rate": "5/s"}
    migrate = simulate(scenario(**common, recovery={"requests": "migrate"}), tmp_path)
    replica = simulate(scenario(**common, recovery={"requests": "kv_replica"}), tmp_path)
    assert replica.stats["request_path"].get("recovered by kv_replica", 0) > 0
    # replication ships every new token's KV to a peer: a healthy iteration costs more
    assert replica.fleet.replicas["aggregated-1"].cost.kv_replication_s_per_token > 0
    assert migrate.fleet.replicas["aggregated-1"].cost.kv_replication_s_per_token == 0
    lost_m = migrate.log.retries > 0
    lost_r = replica.log.retries > 0
    # resumed requests need no prefill of input + generated tokens: they finish sooner after the crash
    assert np.nanmean(replica.log.finish_s[lost_r] - 60) < np.nanmean(migrate.log.finish_s[lost_m] - 60)
    for res in (migrate, replica):
        assert res.log.counts()["failed"] == 0


def test_reshard_rebuilds_a_smaller_replica_on_the_surviving_gpus(tmp_path):
    doc = scenario(router=RESILIENT_ROUTER, recovery={"requests": "migrate"},
                   controller={"policy": "reshard", "model_load_time": "30s"},
                   faults=[{"type": "gpu_crash", "at": "30s", "target": {"gpu": "rack0/host0/gpu7"}}])
    doc["deployment"] = {"model": "llama-3.1-70b", "replicas": 2, "tp": 8}
    doc["workload"]["synthetic"]["rate"] = "4/s"
    res = simulate(doc, tmp_path)
    actions = [(a.action, a.replicas) for a in res.fleet.actions]
    assert ("reshard", ("aggregated-0",)) in actions
    placement = res.fleet.state["aggregated-0"].placement
    assert placement.tp == 4 and "rack0/host0/gpu7" not in placement.gpus
    assert res.fleet.replicas["aggregated-0"].alive
    t, up = np.asarray(res.fleet_series.to_dict()["t_s"]), np.asarray(res.fleet_series.to_dict()["replicas_up"]["aggregated"])
    assert up[-1] == 2 and up[(t > 31) & (t < 60)].min() == 1


def test_rerole_moves_prefill_capacity_to_a_starved_decode_pool(tmp_path):
    doc = scenario(router=RESILIENT_ROUTER, recovery={"requests": "migrate"},
                   controller={"policy": ["restart", "rerole"], "rerole_time": "20s",
                               "autoscale": {"window": "30s"}},
                   faults=[{"type": "node_failure", "at": "30s", "target": {"host": "rack0/host0"}}],
                   duration="6m")
    doc["deployment"] = {"model": "llama-3.1-70b", "mode": "disaggregated", "prefill": {"replicas": 2, "tp": 4},
                         "decode": {"replicas": 1, "tp": 8}}
    doc["workload"]["synthetic"]["rate"] = "3/s"
    res = simulate(doc, tmp_path)
    reroles = [a for a in res.fleet.actions if a.action == "rerole"]
    assert reroles, [a.action for a in res.fleet.actions]
    moved = reroles[0].replicas[0]
    assert res.fleet.role_of(moved) == "decode"
    assert res.log.counts()["completed"] > 0.8 * res.log.counts()["arrived"]


def test_autoscale_brings_spares_in_under_a_traffic_spike(tmp_path):
    doc = scenario(duration="8m", router=RESILIENT_ROUTER,
                   controller={"policy": "autoscale", "model_load_time": "30s",
                               "autoscale": {"interval": "20s", "window": "20s", "aggregated": {"min": 1, "max": 4}}},
                   faults=[{"type": "traffic_spike", "at": "2m", "duration": "3m", "factor": 3, "ramp_up": "10s"}])
    doc["deployment"] = {"model": "llama-3.1-70b", "replicas": 1, "tp": 4, "spares": 3}
    # 1.5/s: with the vLLM profile's calibrated factors one 70B TP4 replica absorbs a 3x spike of 1/s
    # for a minute longer than with the generic 2 ms-overhead roofline
    doc["workload"]["synthetic"]["rate"] = "1.5/s"
    res = simulate(doc, tmp_path)
    ups = [a for a in res.fleet.actions if a.action == "scale_up"]
    assert ups and 120 <= ups[0].t_s <= 200
    t = np.asarray(res.fleet_series.to_dict()["t_s"])
    up = np.asarray(res.fleet_series.to_dict()["replicas_up"]["aggregated"])
    assert up[(t > 200) & (t < 300)].max() >= 2
