"""Each fault moves the results the way physics demands, against its fault-free twin (same seed, same
arrivals); policies compare as they should; every request ends in exactly one state under any faults."""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from chaos.metrics import Status
from chaos.scenario import load_scenario_text
from chaos.sim import run

BASE = {
    "name": "fx",
    "seed": 4,
    "duration": "4m",
    "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 2, "gpus_per_host": 8},
    "deployment": {"model": "llama-3.1-70b", "replicas": 3, "tp": 4, "spares": 1},
    "workload": {"synthetic": {"arrival": "poisson", "rate": "10/s",
                               "input": {"dist": "lognormal", "median": 2000, "sigma": 0.7, "max": 16000},
                               "output": {"dist": "lognormal", "median": 250, "sigma": 0.6, "max": 2000}}},
    "router": {"policy": "least_outstanding"},
}
RESILIENT_ROUTER = {"policy": "least_outstanding", "health": {"interval": "5s", "timeout": "2s", "failures": 2},
                    "outlier": {"consecutive_errors": 3, "ejection_time": "30s"}, "retries": 3}


def scenario(**changes) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    for dotted, value in changes.items():
        node = doc
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return doc


def simulate(doc: dict, tmp_path):
    return run(load_scenario_text(yaml.safe_dump(doc, sort_keys=False), "fx.yaml", tmp_path))


def twin(doc: dict, tmp_path):
    """(faulted run, fault-free twin) of one scenario."""
    return simulate(doc, tmp_path), simulate({**doc, "faults": []}, tmp_path)


def base_rows(res, n: int):
    """The first n requests (the workload's own; a spike's extra requests come after them)."""
    return slice(0, n)


def window_mean(values: np.ndarray, times: np.ndarray, t0: float, t1: float) -> float:
    inside = (times >= t0) & (times < t1) & ~np.isnan(values)
    return float(values[inside].mean())


def tokens_done(res, t0: float, t1: float) -> int:
    log = res.log
    done = (log.status == int(Status.COMPLETED)) & (log.finish_s >= t0) & (log.finish_s < t1)
    return int(log.generated_tokens[done].sum())


def assert_same_arrivals(faulted, baseline) -> None:
    n = min(len(faulted.log.id), len(baseline.log.id))
    n_base = int(np.sum(baseline.log.arrival_s <= faulted.horizon_s))
    assert n >= n_base
    np.testing.assert_array_equal(faulted.log.arrival_s[:n_base], baseline.log.arrival_s[:n_base])
    np.testing.assert_array_equal(faulted.log.input_tokens[:n_base], baseline.log.input_tokens[:n_base])


def test_a_crash_lowers_capacity_and_raises_ttft_while_load_exceeds_the_rest(tmp_path):
    doc = scenario(faults=[{"type": "gpu_crash", "at": "60s", "target": {"replica": "aggregated-1"}}],
                   router=RESILIENT_ROUTER, **{"recovery": {"requests": "migrate"}})
    faulted, baseline = twin(doc, tmp_path)
    assert_same_arrivals(faulted, baseline)
    # 10 req/s is ~80% of three replicas' capacity; two cannot keep up
    after = (90.0, 240.0)
    assert tokens_done(faulted, *after) < 0.85 * tokens_done(baseline, *after)
    ttft_f = window_mean(faulted.log.ttft_s(), faulted.log.arrival_s, *after)
    ttft_b = window_mean(baseline.log.ttft_s(), baseline.log.arrival_s, *after)
    assert ttft_f > 3 * ttft_b
    before = (0.0, 55.0)
    np.testing.assert_allclose(window_mean(faulted.log.ttft_s(), faulted.log.arrival_s, *before),
                               window_mean(baseline.log.ttft_s(), baseline.log.arrival_s, *before), rtol=1e-9)
    assert faulted.log.counts()["failed"] == 0      # health checks, retries and migration lose nothing


def replicas_up(res) -> tuple[np.ndarray, np.ndarray]:
    fs = res.fleet_series.to_dict()
    return np.asarray(fs["t_s"]), np.asarray(fs["replicas_up"]["aggregated"])


def full_again_at(res, n: int, after_s: float) -> float:
    t, up = replicas_up(res)
    back = np.nonzero((t > after_s) & (up >= n))[0]
    return float(t[back[0]]) if len(back) else np.inf


def test_failover_to_a_spare_recovers_sooner_than_restart_when_loading_beats_repair(tmp_path):
    crash = [{"type": "gpu_crash", "at": "30s", "duration": "150s", "target": {"replica": "aggregated-0"}}]
    common = {"faults": crash, "router": RESILIENT_ROUTER, "recovery": {"requests": "migrate"}}
    restart = simulate(scenario(**common, controller={"policy": "restart", "restart_time": "60s"}), tmp_path)
    failover = simulate(scenario(**common, controller={"policy": ["failover_spare", "restart"],
                                                       "model_load_time": "60s", "restart_time": "60s"}), tmp_path)
    t_restart = full_again_at(restart, 3, 30.0)
    t_failover = full_again_at(failover, 3, 30.0)
    # failover: detection (liveness, <= 30 s) + 60 s load; restart: repair at 180 s + 60 s
    assert t_failover < 30 + 30 + 60 + 10
    assert t_restart >= 240
    window = (100.0, 240.0)
    assert tokens_done(failover, *window) > 1.1 * tokens_done(restart, *window)
    assert [a.action for a in failover.fleet.actions][:1] == ["failover"]


def test_health_aware_routing_loses_fewer_requests_than_plain_routing_under_a_crash(tmp_path):
    crash = [{"type": "gpu_crash", "at": "40s", "target": {"replica": "aggregated-2"}}]
    plain = simulate(scenario(faults=crash), tmp_path)
    aware = simulate(scenario(faults=crash, router=RESILIENT_ROUTER, recovery={"requests": "migrate"}), tmp_path)
    lost_plain = plain.log.counts()["failed"]
    lost_aware = aware.log.counts()["failed"]
    assert lost_plain > 20          # least-outstanding keeps sending to the dead replica: refused
    assert lost_aware < lost_plain / 10


def test_a_silent_stall_costs_more_than_a_detected_crash_of_the_same_length(tmp_path):
    """At a load the other replicas absorb: the crash is found and routed around within seconds, the
    silent stall keeps taking requests until each one times out."""
    common = {"router": RESILIENT_ROUTER | {"timeout": "20s"}, "recovery": {"requests": "migrate"},
              "controller": {"policy": "none"}, "workload.synthetic.rate": "5/s"}
    stall = simulate(scenario(**common, faults=[{"type": "scheduler_stall", "at": "60s", "duration": "90s",
                                                "silent": True, "target": {"replica": "aggregated-1"}}]), tmp_path)
    crash = simulate(scenario(**common, faults=[{"type": "gpu_crash", "at": "60s", "duration": "90s",
                                                "target": {"replica": "aggregated-1"}}],
                              **{"controller.restart_time": "0s"}), tmp_path)
    def during(res):
        inside = (res.log.arrival_s >= 60.0) & (res.log.arrival_s < 150.0)
        return res.log.ttft_s()[inside], res.log.e2e_s()[inside]

    ttft_stall, e2e_stall = during(stall)
    ttft_crash, e2e_crash = during(crash)
    # requests sent to the stalled replica wait for the 20 s timeout before a retry elsewhere
    assert np.nanpercentile(ttft_stall, 99) > 5 * np.nanpercentile(ttft_crash, 99)
    assert np.sum(ttft_stall > 10.0) >= 10 and np.sum(ttft_crash > 10.0) == 0
    assert np.nanmean(e2e_stall) > np.nanmean(e2e_crash)
    assert stall.stats["request_path"]["timeouts"] >= 10


EFFECTS = [
    # (id, faults, metric, direction)
    ("node_failure", [{"type": "node_failure", "at": "60s", "target": {"host": "rack0/host0"}}], "tokens", "down"),
    ("rack_failure", [{"type": "rack_failure", "at": "60s", "duration": "60s", "target": {"rack": "rack0"}}],
     "tokens", "down"),
    ("switch_failure", [{"type": "switch_failure", "at": "60s", "duration": "60s", "target": {"switch": "rack0/leaf"}}],
     "ttft", "up"),
    ("link_failure", [{"type": "link_failure", "at": "60s", "target": {"link": "rack0/host0/nic1--rack0/leaf"}}],
     "tokens", "down"),
    ("link_degradation", [{"type": "link_degradation", "at": "30s", "factor": 0.25,
                           "target": {"link": "rack0/host0/nic0--rack0/leaf"}}], "itl", "up"),
    ("scheduler_stall", [{"type": "scheduler_stall", "at": "60s", "duration": "60s", "silent": True,
                          "target": {"replica": "aggregated-0"}}], "ttft", "up"),
    ("straggler", [{"type": "straggler", "at": "30s", "factor": 2.0, "target": {"gpu": "rack0/host0/gpu1"}}],
     "itl", "up"),
    ("kv_capacity_loss", [{"type": "kv_capacity_loss", "at": "30s", "fraction": 0.97,
                           "target": {"role": "aggregated", "mode": "all"}}], "preemptions", "up"),
    ("traffic_spike", [{"type": "traffic_spike", "at": "60s", "duration": "60s", "factor": 2.5}], "ttft", "up"),
    ("network_partition", [{"type": "network_partition", "at": "60s", "duration": "60s",
                            "target": {"replica": "aggregated-0"}}], "ttft", "up"),
]


def measure(res, metric: str) -> float:
    log = res.log
    if metric == "tokens":
        return tokens_done(res, 60.0, 240.0)
    if metric == "ttft":
        return float(np.nanmean(log.ttft_s()))
    if metric == "itl":
        # every decode iteration, finished requests or not (a per-request TPOT would only see survivors)
        return float(res.summary.to_dict()["itl_s"]["mean"])
    if metric == "preemptions":
        return float(log.preemptions.sum())
    raise AssertionError(metric)


@pytest.mark.parametrize("faults,metric,direction", [e[1:] for e in EFFECTS], ids=[e[0] for e in EFFECTS])
def test_each_fault_type_moves_its_metric_the_way_physics_demands(tmp_path, faults, metric, direction):
    doc = scenario(faults=faults)
    if faults[0]["type"] in ("link_degradation", "link_failure"):
        # TP8 groups span both hosts' NICs only at TP16; use one TP16 replica over the scale-out fabric
        doc["deployment"] = {"model": "llama-3.1-70b", "replicas": 1, "tp": 16}
        doc["workload"]["synthetic"]["rate"] = "2/s"
    faulted, baseline = twin(doc, tmp_path)
    assert_same_arrivals(faulted, baseline)
    f, b = measure(faulted, metric), measure(baseline, metric)
    if direction == "up":
        assert f > 1.05 * b, (f, b)
    else:
        assert f < 0.95 * b, (f, b)
    counts = faulted.log.counts()
    assert sum(counts[k] for k in ("completed", "failed", "rejected", "in_flight")) == counts["arrived"]


def test_random_failures_strike_in_a_soak_and_nothing_goes_missing(tmp_path):
    doc = scenario(duration="20m", faults=[{"type": "random_failures", "acceleration": 20000,
                                             "repair": {"gpu": "2m", "host": "3m"}}],
                   router=RESILIENT_ROUTER, recovery={"requests": "migrate"},
                   controller={"policy": ["failover_spare", "restart"], "model_load_time": "30s"})
    doc["workload"]["synthetic"]["rate"] = "4/s"
    res = simulate(doc, tmp_path)
    assert len(res.supervision.planned) >= 2
    assert res.fleet.actions, "the controller acted on at least one failure"
    counts = res.log.counts()
    assert counts["completed"] + counts["failed"] + counts["rejected"] + counts["in_flight"] == counts["arrived"]


KINDS = ["gpu_crash", "node_failure", "scheduler_stall", "straggler", "kv_capacity_loss", "network_partition",
         "traffic_spike", "link_degradation"]


@st.composite
def fault_schedules(draw, roles=("aggregated",)):
    faults = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(KINDS))
        at = draw(st.integers(0, 170))
        fault = {"type": kind, "at": f"{at}s"}
        if draw(st.booleans()) or kind == "traffic_spike":
            fault["duration"] = f"{draw(st.integers(1, 80))}s"
        replica = {"role": draw(st.sampled_from(roles)), "mode": "one"}
        if kind == "gpu_crash":
            fault["target"] = replica
        elif kind == "node_failure":
            fault["target"] = {"host": f"rack0/host{draw(st.integers(0, 1))}"}
        elif kind == "scheduler_stall":
            fault |= {"target": replica, "silent": draw(st.booleans())}
        elif kind == "straggler":
            fault |= {"target": {"gpu": f"rack0/host0/gpu{draw(st.integers(0, 7))}"}, "factor": 3.0}
        elif kind == "kv_capacity_loss":
            fault |= {"target": replica, "fraction": 0.9}
        elif kind == "network_partition":
            fault["target"] = replica
        elif kind == "traffic_spike":
            fault["factor"] = 2.0
        else:
            fault |= {"target": {"link": "rack0/host0/nic0--rack0/leaf"}, "factor": 0.1}
        faults.append(fault)
    return faults


DISAGG = {"model": "llama-3.1-70b", "mode": "disaggregated", "prefill": {"replicas": 2, "tp": 4},
          "decode": {"replicas": 1, "tp": 4}, "spares": 1}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), disaggregated=st.booleans(), resilient=st.booleans(),
       fate=st.sampled_from(["fail", "retry", "migrate", "kv_replica"]),
       policy=st.sampled_from(["none", "restart", ["failover_spare", "restart"], ["restart", "rerole"]]),
       stepper=st.sampled_from(["fast", "reference"]))
def test_under_any_fault_schedule_every_request_ends_in_exactly_one_state(tmp_path, data, disaggregated, resilient,
                                                                          fate, policy, stepper):
    roles = ("prefill", "decode") if disaggregated else ("aggregated",)
    faults = data.draw(fault_schedules(roles), label="faults")
    doc = scenario(duration="3m", faults=faults, recovery={"requests": fate},
                   controller={"policy": policy, "restart_time": "20s", "model_load_time": "20s"},
                   engine={"stepper": stepper})
    if disaggregated:
        doc["deployment"] = DISAGG
    doc["workload"]["synthetic"]["rate"] = "5/s"
    if resilient:
        doc["router"] = RESILIENT_ROUTER | {"timeout": "15s", "watchdog": {"stall_after": "20s"}}
    res = simulate(doc, tmp_path)
    log = res.log
    counts = log.counts()
    assert len(set(log.id.tolist())) == len(log.id)                       # no request counted twice
    assert counts["completed"] + counts["failed"] + counts["rejected"] + counts["in_flight"] == counts["arrived"]
    done = log.status == int(Status.COMPLETED)
    assert np.all(log.generated_tokens[done] == log.output_tokens[done])
    assert np.all(log.finish_s[done] >= log.arrival_s[done])
    failed = log.status == int(Status.FAILED)
    assert all(reason for reason in log.reason[failed])                    # a failure always says why


def test_removing_every_fault_gives_exactly_the_baseline_twins_request_timings(tmp_path):
    from chaos.sim.experiment import run_experiment
    doc = scenario(faults=[{"type": "node_failure", "at": "60s", "duration": "60s", "target": {"host": "rack0/host0"}},
                           {"type": "traffic_spike", "at": "30s", "duration": "30s", "factor": 2}],
                   router=RESILIENT_ROUTER, recovery={"requests": "migrate"})
    sc = load_scenario_text(yaml.safe_dump(doc), "fx.yaml", tmp_path)
    experiment = run_experiment(sc)
    unfaulted = simulate({**doc, "faults": []}, tmp_path)
    twin = experiment.baseline
    for col in ("id", "arrival_s", "first_token_s", "finish_s", "input_tokens", "output_tokens", "status", "preemptions"):
        np.testing.assert_array_equal(getattr(twin.log, col), getattr(unfaulted.log, col))
    assert experiment.result.log.counts()["arrived"] > twin.log.counts()["arrived"]     # the spike's extra requests
