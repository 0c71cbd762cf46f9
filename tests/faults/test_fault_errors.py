"""Bad fault input: each case names the field (with the fault's index), the bad value and what is allowed."""
from __future__ import annotations

import pytest
import yaml

from chaos.errors import InputError, TopologyError
from chaos.faults import FaultError, load_faults, plan

OK = "target: {gpu: rack0/host1/gpu3}"

CASES = [
    # (id, yaml list, field, fragments of the message, error class)
    ("unknown-type", "- {type: gpu_crsh, at: 1m}", "faults[0].type",
     ["expected one of cost_shift, gpu_crash, kv_capacity_loss", "'gpu_crsh'", "did you mean gpu_crash?"], FaultError),
    ("missing-type", "- {at: 1m}", "faults[0].type", ["missing", "node_failure"], FaultError),
    ("not-a-mapping", "- 3", "faults[0]", ["expected a fault mapping", "got 3"], FaultError),
    ("unknown-key", f"- {{type: gpu_crash, {OK}, factor: 2}}", "faults[0].factor", ["unknown key 'factor'"], FaultError),
    ("bad-at", f"- {{type: gpu_crash, at: 1x, {OK}}}", "faults[0].at", ["expected a duration", "'1x'"], FaultError),
    ("unknown-gpu", "- {type: gpu_crash, at: 1m, target: {gpu: rack0/host1/gpu33}}", "faults[0].target.gpu",
     ["no element 'rack0/host1/gpu33'", "did you mean rack0/host1/gpu3?"], TopologyError),
    ("unknown-gpu-2nd", "- {type: gpu_crash, at: 1m, target: {gpu: rack0/host1/gpu3}}\n"
                        "- {type: node_failure, at: 1m, target: {host: [rack0/host1, rack0/hots2]}}",
     "faults[1].target.host[1]", ["no element 'rack0/hots2'", "did you mean rack0/host2?"], TopologyError),
    ("wrong-kind", "- {type: gpu_crash, at: 1m, target: {gpu: rack0/host1}}", "faults[0].target.gpu",
     ["'rack0/host1' is a host", "takes a gpu id"], TopologyError),
    ("unknown-link", '- {type: link_failure, at: 1m, target: {link: "rack0/leaf--spine7"}}', "faults[0].target.link",
     ["no link 'rack0/leaf--spine7'", "did you mean"], TopologyError),
    ("unknown-replica", "- {type: scheduler_stall, at: 1m, target: {replica: decod-0}}", "faults[0].target.replica",
     ["no replica 'decod-0'", "did you mean decode-0?", "replicas are prefill-0"], TopologyError),
    ("unknown-rack-filter", "- {type: gpu_crash, at: 1m, target: {role: decode, rack: rack9}}", "faults[0].target.rack",
     ["no element 'rack9'", "did you mean rack0?"], TopologyError),
    ("target-kind-not-taken", "- {type: gpu_crash, at: 1m, target: {link: a--b}}", "faults[0].target.link",
     ["gpu_crash does not take link ids", "gpu:, replica: or a selector"], FaultError),
    ("missing-target", "- {type: node_failure, at: 1m}", "faults[0].target", ["node_failure needs a target"], FaultError),
    ("spike-target", "- {type: traffic_spike, at: 1m, duration: 1m, factor: 2, target: {role: decode}}",
     "faults[0].target", ["acts on the whole fleet and takes no target"], FaultError),
    ("ids-and-selector", "- {type: gpu_crash, at: 1m, target: {gpu: rack0/host1/gpu3, mode: all}}",
     "faults[0].target.gpu", ["explicit ids do not combine with selector keys (mode)"], FaultError),
    ("bad-role", "- {type: gpu_crash, at: 1m, target: {role: prefil}}", "faults[0].target.role",
     ["expected one of aggregated, decode, prefill, spare", "did you mean prefill?"], FaultError),
    ("bad-mode", "- {type: gpu_crash, at: 1m, target: {mode: onee}}", "faults[0].target.mode",
     ["expected one of all, fixed, fixed-percent, one, random-max-percent", "did you mean one?"], FaultError),
    ("fixed-no-value", "- {type: gpu_crash, at: 1m, target: {mode: fixed}}", "faults[0].target.value",
     ["mode fixed needs value", "got nothing"], FaultError),
    ("percent-over-100", "- {type: gpu_crash, at: 1m, target: {mode: fixed-percent, value: 150}}",
     "faults[0].target.value", ["percentage in (0, 100]", "150"], FaultError),
    ("one-with-value", "- {type: gpu_crash, at: 1m, target: {mode: one, value: 2}}", "faults[0].target.value",
     ["mode one takes no value"], FaultError),
    ("empty-selection", "- {type: gpu_crash, at: 1m, target: {role: spare}}", "faults[0].target",
     ["picks nothing", "there are no spare replicas", "roles aggregated, decode, prefill", "on_empty: skip"], FaultError),
    ("empty-by-percent", "- {type: gpu_crash, at: 1m, target: {role: prefill, mode: fixed-percent, value: 10}}",
     "faults[0].target", ["mode fixed-percent 10 of the 2 prefill replicas selects none"], FaultError),
    ("at-after-end", f"- {{type: gpu_crash, at: 2h, {OK}}}", "faults[0].at",
     ["starts at 2h00m", "end of the run at 1h00m"], FaultError),
    ("repeat-after-end", f"- {{type: gpu_crash, at: 1m, duration: 1m, repeat: 3, every: 30m, {OK}}}", "faults[0].repeat",
     ["occurrence 3 would start at 1h01m", "only 2 fit"], FaultError),
    ("repeat-no-every", f"- {{type: gpu_crash, at: 1m, duration: 1m, repeat: 3, {OK}}}", "faults[0].every",
     ["repeat: 3 needs every"], FaultError),
    ("overlap", f"- {{type: gpu_crash, at: 1m, duration: 2m, repeat: 2, every: 1m, {OK}}}", "faults[0].every",
     ["would overlap", "every (1m00s) is shorter than duration (2m00s)"], FaultError),
    ("permanent-repeat", f"- {{type: gpu_crash, at: 1m, every: 5m, {OK}}}", "faults[0].duration",
     ["cannot repeat"], FaultError),
    ("mtbf-and-duration", f"- {{type: gpu_crash, mtbf: 1h, duration: 1m, {OK}}}", "faults[0].duration",
     ["set how long each failure lasts with repair:"], FaultError),
    ("repair-without-mtbf", f"- {{type: gpu_crash, at: 1m, repair: 1h, {OK}}}", "faults[0].repair",
     ["applies to an mtbf failure process"], FaultError),
    ("mtbf-bad-dist", f"- {{type: gpu_crash, mtbf: {{dist: weibul, mean: 1h}}, {OK}}}", "faults[0].mtbf.dist",
     ["expected one of exponential, weibull", "did you mean weibull?"], FaultError),
    ("weibull-no-shape", f"- {{type: gpu_crash, mtbf: {{dist: weibull, mean: 1h}}, {OK}}}", "faults[0].mtbf",
     ["dist weibull needs shape"], FaultError),
    ("spike-mtbf", "- {type: traffic_spike, factor: 2, mtbf: 1h}", "faults[0].mtbf",
     ["traffic_spike is not a failure process"], FaultError),
    ("degrade-zero", "- {type: link_degradation, at: 1m, factor: 0, target: {link: rack0/leaf--spine0}}",
     "faults[0].factor", ["0 < factor <= 1", "got 0", "link_failure"], FaultError),
    ("degrade-over-1", "- {type: link_degradation, at: 1m, factor: 1.5, target: {link: rack0/leaf--spine0}}",
     "faults[0].factor", ["0 < factor <= 1", "got 1.5"], FaultError),
    ("straggler-under-1", f"- {{type: straggler, at: 1m, factor: 0.5, {OK}}}", "faults[0].factor",
     ["factor >= 1", "got 0.5"], FaultError),
    ("spike-under-1", "- {type: traffic_spike, at: 1m, duration: 1m, factor: 0.5}", "faults[0].factor",
     ["factor >= 1", "got 0.5"], FaultError),
    ("kv-fraction-1", "- {type: kv_capacity_loss, at: 1m, fraction: 1, target: {replica: decode-0}}",
     "faults[0].fraction", ["0 < fraction < 1", "got 1"], FaultError),
    ("kv-fraction-0", "- {type: kv_capacity_loss, at: 1m, fraction: 0, target: {replica: decode-0}}",
     "faults[0].fraction", ["0 < fraction < 1", "got 0"], FaultError),
    ("spike-ramps", "- {type: traffic_spike, at: 1m, duration: 1m, factor: 2, ramp_up: 40s, ramp_down: 40s}",
     "faults[0].ramp_up", ["ramp_up + ramp_down (1m20s) exceeds duration (1m00s)"], FaultError),
    ("stall-silent", "- {type: scheduler_stall, at: 1m, silent: maybe, target: {replica: decode-0}}",
     "faults[0].silent", ["expected true or false", "'maybe'"], FaultError),
    ("random-cause", "- {type: random_failures, mix: {gpu: 1, disk: 1}}", "faults[0].mix.disk",
     ["unknown cause", "expected one of gpu, hbm, host, network, software"], FaultError),
    ("random-software-repair", "- {type: random_failures, repair: {software: 1h}}", "faults[0].repair.software",
     ["a software crash has no repair"], FaultError),
    ("random-acceleration", "- {type: random_failures, acceleration: 0}", "faults[0].acceleration",
     ["positive rate multiplier", "got 0"], FaultError),
    ("gpu-without-replica", "- {type: kv_capacity_loss, at: 1m, fraction: 0.5, target: {gpu: rack0/host3/gpu7}}",
     "faults[0].target.gpu", ["GPU rack0/host3/gpu7 holds no replica"], FaultError),
]


@pytest.fixture
def partial(h100_4x8):
    """decode-0 (tp16) on hosts 0-1, prefill-0/1 (tp4) on host 2, aggregated-0 (tp4) on half of host 3:
    rack0/host3/gpu4..7 hold no replica."""
    from chaos.topology import place
    return h100_4x8, place(h100_4x8, [("prefill", 2, 4), ("decode", 1, 16), ("aggregated", 1, 4)])


@pytest.mark.parametrize("text, field, fragments, cls", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(partial, text, field, fragments, cls):
    fabric, ps = partial
    with pytest.raises(InputError) as info:
        plan(load_faults(yaml.safe_load(text)), fabric=fabric, placements=ps, seed=0, horizon_s=3600)
    err = info.value
    assert type(err) is cls and isinstance(err, ValueError)
    assert err.field == field, str(err)
    for fragment in fragments:
        assert fragment in err.message, str(err)
    assert str(err).startswith(f"{field}: ")


def test_horizon_needed_by_open_ended_faults(mixed):
    fabric, ps = mixed
    for text, field in [("- {type: gpu_crash, mtbf: 1h, target: {gpu: rack0/host2/gpu0}}", "faults[0].mtbf"),
                        ("- {type: traffic_spike, at: 1m, factor: 2}", "faults[0].duration"),
                        ("- {type: random_failures}", "faults[0].duration"),
                        ("- {type: straggler, factor: 2, duration: 1m, every: 5m, target: {gpu: rack0/host2/gpu0}}",
                         "faults[0].every")]:
        with pytest.raises(FaultError) as info:
            plan(load_faults(yaml.safe_load(text)), fabric=fabric, placements=ps, seed=0, horizon_s=None)
        assert info.value.field == field and "no duration" in info.value.message
