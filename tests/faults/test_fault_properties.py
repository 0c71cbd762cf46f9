"""Invariants: plans are deterministic under a seed, every end >= start, targets exist; the registry is documented."""
from __future__ import annotations

import inspect
import math
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chaos.faults as faults_pkg
from chaos.faults import FAULTS, load_faults, plan
from chaos.topology import place
from fault_helpers import load_fabric

FABRIC = load_fabric("h100-4x8-ib")
PLACEMENTS = place(FABRIC, [("prefill", 2, 4), ("decode", 1, 16), ("aggregated", 1, 8)])
HORIZON_S = 3600.0
GPUS = FABRIC.gpus()

durations = st.integers(1, 1200).map(lambda s: f"{s}s")
selector = st.fixed_dictionaries(
    {"mode": st.sampled_from(["one", "all"])},
    optional={"role": st.sampled_from(["prefill", "decode", "aggregated"])},
).map(lambda d: {**d, "on_empty": "skip"}) | st.fixed_dictionaries(
    {"mode": st.sampled_from(["fixed", "fixed-percent", "random-max-percent"]), "value": st.integers(1, 100),
     "on_empty": st.just("skip")})
timing = st.one_of(
    st.fixed_dictionaries({"at": durations}, optional={"duration": durations}),
    st.builds(lambda at, d, n: {"at": at, "duration": f"{d}s", "repeat": n, "every": f"{d + 30}s"},
              st.integers(0, 600).map(lambda s: f"{s}s"), st.integers(1, 300), st.integers(1, 5)),
    st.fixed_dictionaries({"mtbf": st.sampled_from(["10m", "1h", {"dist": "weibull", "mean": "30m", "shape": 0.7}])},
                          optional={"repair": st.sampled_from(["0s", "5m", {"dist": "exponential", "mean": "2m"}])}),
)
fault = st.one_of(
    st.builds(lambda t, tm: {"type": "gpu_crash", "target": t, **tm},
              st.sampled_from(GPUS).map(lambda g: {"gpu": g}) | selector, timing),
    st.builds(lambda t, tm: {"type": "node_failure", "target": t, **tm},
              st.sampled_from(FABRIC.hosts()).map(lambda h: {"host": h}) | selector, timing),
    st.builds(lambda t, tm, f: {"type": "link_degradation", "factor": f, "target": t, **tm},
              selector, timing, st.floats(0.01, 1.0)),
    st.builds(lambda t, tm, s: {"type": "scheduler_stall", "silent": s, "target": t, **tm}, selector, timing,
              st.booleans()),
    st.builds(lambda t, tm, f: {"type": "straggler", "factor": f, "target": t, **tm}, selector, timing,
              st.floats(1.0, 4.0)),
    st.builds(lambda t, tm, f: {"type": "kv_capacity_loss", "fraction": f, "target": t, **tm}, selector, timing,
              st.floats(0.01, 0.99)),
    st.builds(lambda at, d, f: {"type": "traffic_spike", "at": at, "duration": d, "factor": f},
              st.integers(0, 3000).map(lambda s: f"{s}s"), durations, st.floats(1.0, 5.0)),
    st.builds(lambda a: {"type": "random_failures", "acceleration": a}, st.sampled_from([1, 1e3, 1e4])),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(fault, max_size=5), st.integers(0, 2**31 - 1))
def test_plans_are_deterministic_and_well_formed(items, seed):
    fs = load_faults(items)
    a = plan(fs, fabric=FABRIC, placements=PLACEMENTS, seed=seed, horizon_s=HORIZON_S)
    b = plan(load_faults(items), fabric=FABRIC, placements=PLACEMENTS, seed=seed, horizon_s=HORIZON_S)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    replicas = {p.replica_id for p in PLACEMENTS}
    for p in a:
        assert p.end_s >= p.start_s and 0 <= p.start_s < HORIZON_S
        assert not math.isnan(p.end_s)
        for t in p.targets:
            assert t in replicas or FABRIC.kind_of(t)
        assert set(p.replicas_affected) <= replicas
    assert [(p.start_s, p.index) for p in a] == sorted((p.start_s, p.index) for p in a)


def test_every_registered_type_is_exported_and_has_a_working_yaml_example():
    """The registry, the package exports and the examples in each type's docstring agree."""
    fabric = load_fabric("h100-superpod-slice")
    ps = place(fabric, [("prefill", 8, 4), ("decode", 4, 16)])      # decode-2/3 on rack1, prefill on rack2
    exported = [getattr(faults_pkg, n) for n in faults_pkg.__all__]
    for name in FAULTS.names():
        cls = FAULTS.get(name)
        assert cls in exported, name
        example = re.search(r"`(\{type: " + name + r".*?\})`", inspect.getdoc(cls), re.S)
        assert example, f"{name}: no YAML example in its docstring"
        planned = plan(load_faults([yaml.safe_load(example.group(1))]), fabric=fabric, placements=ps, seed=0, horizon_s=HORIZON_S)
        assert all(p.type == name for p in planned)
