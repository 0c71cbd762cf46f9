"""Broken scenarios: each gives one ScenarioError naming the line, the field path and the bad value."""
from __future__ import annotations

import pytest

from chaos.errors import InputError, ScenarioError
from chaos.scenario import load_scenario, load_scenario_text
from scenario_cases import DATA, VALID


def edit(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


DISAGG_NO_DECODE = edit("  replicas: 4\n  tp: 2\n", "  mode: disaggregated\n  prefill: {replicas: 2, tp: 4}\n")
DISAGG_WITH_REPLICAS = edit("  tp: 2\n", "  tp: 2\n  mode: disaggregated\n  prefill: {replicas: 1}\n"
                                        "  decode: {replicas: 1}\n")

# (id, text, overrides, line, substrings that must all be in str(err))
CASES = [
    ("yaml-syntax", edit("rate: 20/s", "rate: [20/s"), (), 16, ["YAML syntax error", "expected ','"]),
    ("tab-indent", edit("  max_num_seqs: 128", "\tmax_num_seqs: 128"), (), 10, ["'\\t'", "tabs"]),
    ("duplicate-key", edit("  tp: 2\n", "  tp: 2\n  tp: 4\n"), (), 9,
     ["deployment.tp", "duplicate key 'tp'", "first on line 8, again on line 9"]),
    ("unknown-top-key", VALID + "controler: {policy: restart}\n", (), 19,
     ["controler", "unknown key 'controler'", "allowed keys:"]),
    ("unknown-top-key-did-you-mean", VALID + "wrkload: {}\n", (), 19,
     ["unknown key 'wrkload' (did you mean workload?)"]),
    ("unknown-nested-key", edit("max_num_seqs: 128", "max_num_seq: 128"), (), 10,
     ["engine.max_num_seq", "unknown key 'max_num_seq' (did you mean max_num_seqs?)"]),
    ("string-for-int", edit("max_num_seqs: 128", "max_num_seqs: lots"), (), 10,
     ["engine.max_num_seqs", "expected an integer", "'lots'"]),
    ("negative-seed", edit("seed: 7", "seed: -3"), (), 2, ["seed", ">= 0", "-3"]),
    ("bad-duration", edit("duration: 5m", "duration: 5 minutes"), (), 3,
     ["duration", "'5 minutes'", '"30s"']),
    ("bad-name", edit("name: basic-aggregated", "name: basic aggregated"), (), 1,
     ["name", "'basic aggregated'", "letters, digits"]),
    ("missing-workload", VALID.split("workload:")[0] + "router: {policy: round_robin}\n", (), 1,
     ["workload", "missing required key 'workload'"]),
    ("trace-and-synthetic", edit("workload:\n", "workload:\n  trace: {path: t.jsonl}\n"), (), 12,
     ["workload", "exactly one of trace: or synthetic:"]),
    ("bad-rate", edit("rate: 20/s", "rate: fast"), (), 15, ["workload.synthetic.rate", "'fast'"]),
    ("disagg-without-decode", DISAGG_NO_DECODE, (), 5,
     ["deployment.decode", "mode: disaggregated needs both", "decode: is missing"]),
    ("disagg-with-top-replicas", DISAGG_WITH_REPLICAS, (), 7,
     ["deployment.replicas", "aggregated only", "prefill: {replicas, tp}"]),
    ("replicas-zero", edit("replicas: 4", "replicas: 0"), (), 7, ["deployment.replicas", ">= 1", "got 0"]),
    ("bad-mode", edit("  tp: 2\n", "  tp: 2\n  mode: disagregated\n"), (), 9,
     ["deployment.mode", "'disagregated'", "aggregated, disaggregated", "did you mean disaggregated?"]),
    ("bad-router-policy", edit("policy: round_robin", "policy: round_robbin"), (), 18,
     ["router.policy", "'round_robbin'", "did you mean round_robin?"]),
    ("list-for-mapping", edit("engine:\n  max_num_seqs: 128\n  block_size: 16\n", "engine: [1, 2]\n"), (), 9,
     ["engine", "expected a mapping", "[1, 2]"]),
    ("list-for-int", edit("block_size: 16", "block_size: [16]"), (), 11, ["engine.block_size", "[16]"]),
    ("missing-topology-file", edit("topology: h100-2x8.yaml", "topology: nowhere.yaml"), (), 4,
     ["topology", "nowhere.yaml", "not found"]),
    ("error-in-topology-file", edit("topology: h100-2x8.yaml", "topology: bad-fabric.yaml"), (), 4,
     ["bad-fabric.yaml:4:", "topology.hosts_per_rack", "'two'"]),
    ("unknown-key-in-inline-topology", edit("topology: h100-2x8.yaml",
                                            "topology: {name: x, gpu: h100-sxm, racks: 1, hosts_per_rack: 1,"
                                            " gpus_per_host: 8, nvlink_domian: host}"), (), 4,
     ["topology.nvlink_domian", "did you mean nvlink_domain?"]),
    ("slo-bad-duration-in-renamed-key", VALID + "slo: {ttft_p99: fast}\n", (), 19,
     ["slo.ttft_p99: expected a duration", "'fast'", '"30s"']),
    ("prefix-groups-zero", edit("    output: {dist: fixed, value: 128}\n",
                                "    output: {dist: fixed, value: 128}\n    prefix: {groups: 0, tokens: 100}\n"),
     (), 18, ["workload.synthetic.prefix.groups: expected >= 1", "got 0"]),
    ("topology-spines-zero", edit("topology: h100-2x8.yaml", "topology: {name: x, gpu: g, racks: 2, "
                                  "hosts_per_rack: 1, gpus_per_host: 8, scale_out: {spines: 0}}"), (), 4,
     ["topology.scale_out.spines: 0 means", "racks is 2"]),
    ("top-level-list", "- name: x\n- seed: 1\n", (), 1, ["top level", "a list"]),
    ("top-level-scalar", "just a string\n", (), 1, ["top level", "single value"]),
    ("empty-file", "", (), 1, ["empty"]),
    ("comments-only", "# nothing here\n", (), 1, ["empty"]),
    ("bad-override-path", VALID, ("engine.max_num_seq=64",), None,
     ["--set engine.max_num_seq=64", "unknown key 'max_num_seq' in engine", "did you mean max_num_seqs?"]),
    ("bad-override-top-path", VALID, ("sed=3",), None, ["unknown key 'sed'", "did you mean seed?"]),
    ("bad-override-value", VALID, ("engine.max_num_seqs=many",), None,
     ["--set engine.max_num_seqs=many", "engine.max_num_seqs", "expected an integer", "'many'"]),
    ("override-without-equals", VALID, ("engine.max_num_seqs",), None, ["expected key.path=value"]),
    ("override-into-scalar", VALID, ("seed.x=1",), None, ["seed", "not a mapping"]),
    ("several-errors", edit("seed: 7", "seed: -1").replace("block_size: 16", "block_size: x"), (), 2,
     ["seed", "(and 1 more)", ":11:", "engine.block_size"]),
]


@pytest.mark.parametrize("text, overrides, line, parts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_scenario(text, overrides, line, parts):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "scn.yaml", DATA, overrides)
    err = info.value
    assert isinstance(err, InputError)
    rendered = str(err)
    if line is not None:
        assert err.line == line, rendered
        first = rendered.splitlines()[0]
        assert f":{line}:" in first, rendered
    for part in parts:
        assert part in rendered, f"{part!r} not in {rendered!r}"


def test_missing_scenario_file_names_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError, match="nope.yaml"):
        load_scenario(missing)


def test_error_in_topology_file_names_that_file():
    text = edit("topology: h100-2x8.yaml", "topology: bad-fabric.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "scn.yaml", DATA)
    assert info.value.file.endswith("bad-fabric.yaml")
    assert (info.value.line, info.value.column) == (4, 17)


def test_missing_topology_file_points_at_topology_line():
    text = edit("topology: h100-2x8.yaml", "topology: nowhere.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "scn.yaml", DATA)
    assert (info.value.file, info.value.line, info.value.column) == ("scn.yaml", 4, 11)


def test_missing_field_points_at_enclosing_mapping():
    text = edit("  model: llama-3.1-8b\n", "")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "scn.yaml", DATA)
    assert info.value.line == 5  # `deployment:`
    assert "deployment.model: missing required key 'model'" in str(info.value)


def test_section_level_error_points_at_section_key():
    text = edit("    rate: 20/s\n", "")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "scn.yaml", DATA)
    assert info.value.line == 13  # `synthetic:`
    assert "workload.synthetic" in str(info.value)


def test_syntax_error_has_no_traceback_noise():
    with pytest.raises(ScenarioError) as info:
        load_scenario_text("a: [1\n", "scn.yaml", DATA)
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("section, line", [
    ("faults:\n  - {type: [gpu_crash], at: 1m}\n", 20),
    ("steady_state:\n  - {probe: [ttft_p99], max: 1s}\n", 20),
], ids=["fault-type-list", "probe-name-list"])
def test_registry_name_that_is_not_a_string(section, line):
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(VALID + section, "scn.yaml", DATA)
    assert info.value.line == line and "expected one of" in str(info.value) and "['" in str(info.value)
