"""Valid scenarios: defaults, SI values, topology files, overrides, positions, hashes, JSON schema."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.errors import InputError
from chaos.scenario import Scenario, load_scenario, load_scenario_text, locate_error, resolve_path, scenario_hash
from chaos.scenario.schema import DEFAULT_ROUTER_POLICY
from scenario_cases import DATA, VALID


def test_valid_scenario_from_text():
    s = load_scenario_text(VALID, "scn.yaml", DATA)
    assert s.name == "basic-aggregated" and s.seed == 7
    assert s.duration == 300.0
    assert s.topology.hosts_per_rack == 2 and s.topology.scale_out.nic_bandwidth == 400e9 / 8
    assert s.deployment.groups() == [("aggregated", 4, 2)]
    assert s.engine.max_num_seqs == 128
    assert s.workload.synthetic.rate == 20.0
    assert s.router.policy == "round_robin"
    assert s.metrics.window == 10.0 and s.slo is None
    assert s.source_file == "scn.yaml" and s.base_dir == DATA


def test_base_dir_is_absolute_so_runs_survive_a_chdir(monkeypatch):
    monkeypatch.chdir(DATA.parent)
    s = load_scenario("data/basic.yaml")
    assert s.source_file == "data/basic.yaml"
    assert s.base_dir.is_absolute() and s.resolve_path("x.jsonl") == DATA / "x.jsonl"


def test_defaults():
    text = "\n".join(line for line in VALID.splitlines()
                     if not line.startswith(("seed", "duration", "engine", "  max_num", "  block", "router"))
                     and "replicas" not in line and "tp:" not in line)
    s = load_scenario_text(text, "scn.yaml", DATA)
    assert s.seed == 0 and s.duration is None and s.description == "" and s.catalog == []
    assert s.deployment.replicas == 1 and s.deployment.tp == 1 and s.deployment.spares == 0
    assert s.router.policy == DEFAULT_ROUTER_POLICY
    assert s.engine.max_num_seqs == 256


def test_disaggregated_inline_topology_from_file():
    s = load_scenario(DATA / "disagg.yaml")
    assert s.deployment.mode == "disaggregated"
    assert s.deployment.replicas is None and s.deployment.tp is None
    assert s.deployment.groups() == [("prefill", 1, 4), ("decode", 1, 4)]
    assert s.topology.name == "inline-1x8"
    assert s.duration == 90.0
    assert resolve_path(s, s.catalog[0]) == DATA / "my-catalog"
    assert s.resolve_path(s.workload.trace.path) == DATA / "traces/conv.jsonl"
    assert s.locate("deployment.decode.tp") == (str(DATA / "disagg.yaml"), 14, 29)


def test_locate_in_topology_file_and_fallbacks():
    s = load_scenario_text(VALID, "scn.yaml", DATA)
    assert s.locate("deployment.model") == ("scn.yaml", 6, 10)
    file, line, column = s.locate("topology.gpu")
    assert (Path(file).resolve(), line, column) == (DATA / "h100-2x8.yaml", 2, 6)
    assert s.locate("engine.stepper") == ("scn.yaml", 9, 1)  # not written: the section's key
    assert s.locate("workload.synthetic.input.value") == ("scn.yaml", 16, 33)
    assert s.locate("faults[0].type") is None


def test_locate_error_fills_location():
    s = load_scenario_text(VALID, "scn.yaml", DATA)
    err = locate_error(s, InputError("unknown model 'llama-9b'", field="deployment.model"))
    assert str(err) == "scn.yaml:6:10: deployment.model: unknown model 'llama-9b'"
    err = locate_error(s, InputError("no such thing", field="faults[0]"))
    assert str(err) == "scn.yaml: faults[0]: no such thing"


def test_overrides_are_typed_and_located():
    s = load_scenario_text(VALID, "scn.yaml", DATA, ["engine.max_num_seqs=64", "duration=10m",
                                                     "topology.racks=2", "deployment.spares=1",
                                                     "slo.ttft_p99=1s", "router={policy: kv_aware}"])
    assert s.engine.max_num_seqs == 64 and s.duration == 600.0 and s.topology.racks == 2
    assert s.deployment.spares == 1 and s.router.policy == "kv_aware"
    assert s.topology.hosts_per_rack == 2  # the rest of the topology file is kept
    err = locate_error(s, InputError("too big", field="engine.max_num_seqs"))
    assert str(err).startswith("--set engine.max_num_seqs=64: engine.max_num_seqs: too big")


def test_override_replaces_topology_file():
    s = load_scenario_text(VALID, "scn.yaml", DATA, ["topology=h100-1x8.yaml", "topology.racks=3"])
    assert s.topology.name == "h100-1x8" and s.topology.racks == 3
    file, line, column = s.locate("topology.gpu")
    assert (Path(file).resolve(), line, column) == (DATA / "h100-1x8.yaml", 2, 6)
    with pytest.raises(InputError, match="nowhere.yaml"):
        load_scenario_text(VALID, "scn.yaml", DATA, ["topology=nowhere.yaml"])


def test_resolved_dict_is_json_and_hash_is_stable():
    a = load_scenario_text(VALID, "a.yaml", DATA)
    b = load_scenario_text(VALID.replace("duration: 5m", "duration: 300s"), "b.yaml", DATA)
    d = a.resolved_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["duration"] == 300.0 and d["workload"]["synthetic"]["rate"] == 20.0
    assert a.scenario_hash() == b.scenario_hash() == scenario_hash(a)
    assert len(a.scenario_hash()) == 64
    c = load_scenario_text(VALID, "a.yaml", DATA, ["seed=8"])
    assert c.scenario_hash() != a.scenario_hash()


def test_json_schema_types_durations_as_string_or_number():
    schema = Scenario.model_json_schema()
    json.dumps(schema)
    duration = schema["properties"]["duration"]
    kinds = json.dumps(duration)
    assert '"string"' in kinds and '"number"' in kinds
    topology = schema["properties"]["topology"]
    assert any(alt.get("type") == "string" for alt in topology["anyOf"])
    assert set(schema["required"]) >= {"name", "topology", "deployment", "workload"}


def test_yaml_anchors_and_merge_keys():
    text = VALID.replace("engine:\n  max_num_seqs: 128\n  block_size: 16\n",
                         "engine:\n  <<: {max_num_seqs: 100, block_size: 32}\n  max_num_seqs: 128\n")
    s = load_scenario_text(text, "scn.yaml", DATA)
    assert s.engine.max_num_seqs == 128 and s.engine.block_size == 32
