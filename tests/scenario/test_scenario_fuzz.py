"""Property: any YAML text gives a Scenario or an InputError, never another exception.

Random documents, random text, random `--set` overrides, and random mutations (delete, retype,
rename) of valid scenarios — one plain, one with faults (including a fault-list include), an SLO
and a steady-state hypothesis.
"""
from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaos.errors import InputError
from chaos.scenario import Scenario, load_scenario_text
import pytest

from scenario_cases import DATA, VALID, VALID_WITH_FAULTS

KEYS = ["name", "seed", "duration", "topology", "deployment", "engine", "workload", "router", "slo",
        "metrics", "catalog", "model", "mode", "replicas", "tp", "prefill", "decode", "synthetic",
        "trace", "rate", "arrival", "input", "output", "dist", "value", "policy", "window", "racks",
        "gpu", "max_num_seqs", "faults", "include", "steady_state", "probe", "max", "phases", "type",
        "at", "target", "x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["30s", "5m", "20/s", "h100-2x8.yaml", "aggregated", "disaggregated",
                                     "poisson", "fixed", "round_robin", "nowhere.yaml", "", "spike.faults.yaml",
                                     "nested/crash.faults.yaml", "basic.yaml", "gpu_crash", "ttft_p99",
                                     "before", "rack0/host0/gpu0"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6), st.integers(-3, 3)), inner,
                    max_size=5)), max_leaves=25)


def _check(text: str, overrides=()) -> None:
    try:
        result = load_scenario_text(text, "fuzz.yaml", DATA, overrides)
    except InputError as err:
        str(err)
        return
    assert isinstance(result, Scenario)
    result.resolved_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=st.dictionaries(st.sampled_from(KEYS), values, max_size=8))
def test_random_documents(doc):
    _check(yaml.safe_dump(doc, default_flow_style=None, allow_unicode=True))


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab:-[]{}#&*!|>'\"\t\n ,?%@`0123456789.")), max_size=60))
def test_random_text(text):
    _check(text)


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


BASES = {"plain": yaml.safe_load(VALID), "faults-includes-steady-state": yaml.safe_load(VALID_WITH_FAULTS)}
PATHS = {name: list(_paths(doc)) for name, doc in BASES.items()}
mutation = st.tuples(st.sampled_from(["delete", "retype", "rename"]), st.integers(0, 10**6),
                     scalars | values, st.text(min_size=1, max_size=8) | st.sampled_from(["include", "faults"]))


@pytest.mark.parametrize("base", sorted(BASES))
@settings(max_examples=300, deadline=None)
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_valid_scenario(base, mutations):
    doc = copy.deepcopy(BASES[base])
    paths = PATHS[base]
    for op, which, new_value, new_name in mutations:
        path = paths[which % len(paths)]
        parent = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            old = parent[key]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(parent, (dict, list)):    # an earlier mutation made this branch a string
            continue
        if op == "delete":
            del parent[key]
        elif op == "retype":
            parent[key] = new_value
        elif isinstance(parent, dict):
            parent[new_name] = parent.pop(key)
        else:
            parent[key] = old
    _check(yaml.safe_dump(doc, sort_keys=False))


@settings(max_examples=200, deadline=None)
@given(key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.[]0123456789", max_size=30), value=st.text(max_size=15))
def test_random_overrides(key, value):
    _check(VALID, [f"{key}={value}"])
