"""Fault-list includes: `faults: [{include: file.yaml}]`, flattened in place, positions in the file
each fault was written in, errors at the include line."""
from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import InputError, ScenarioError
from chaos.scenario import Scenario, load_scenario, load_scenario_text, locate_error
from scenario_cases import DATA, VALID

WITH_INCLUDE = VALID + """\
faults:
  - {type: gpu_crash, at: 1m, target: {gpu: rack0/host0/gpu0}}
  - include: spike.faults.yaml
  - {type: traffic_spike, at: 4m, duration: 10s, factor: 3}
"""
INCLUDE_LINE = VALID.count("\n") + 3


def scenario_in(tmp_path: Path, faults: str, **files: str) -> Path:
    """A scenario file in tmp_path whose `faults:` block is `faults`, plus helper files."""
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    main = tmp_path / "main.yaml"
    main.write_text(VALID.replace("topology: h100-2x8.yaml", f"topology: {DATA / 'h100-2x8.yaml'}")
                    + "faults:\n" + faults)
    return main


def test_included_faults_are_flattened_in_place():
    s = load_scenario_text(WITH_INCLUDE, "scn.yaml", DATA)
    assert [(f.type, f.at) for f in s.faults] == [("gpu_crash", 60.0), ("traffic_spike", 120.0),
                                                  ("gpu_crash", 180.0), ("traffic_spike", 240.0)]
    resolved = s.resolved_dict()["faults"]
    assert len(resolved) == 4 and all("include" not in f for f in resolved)


def test_positions_point_into_the_file_each_fault_was_written_in():
    s = load_scenario_text(WITH_INCLUDE, "scn.yaml", DATA)
    assert s.locate("faults[0].at") == ("scn.yaml", INCLUDE_LINE - 1, 27)
    file, line, _ = s.locate("faults[1].factor")
    assert (Path(file).resolve(), line) == (DATA / "spike.faults.yaml", 3)
    file, line, _ = s.locate("faults[2].target.gpu")
    assert (Path(file).resolve(), line) == (DATA / "nested" / "crash.faults.yaml", 2)
    assert s.locate("faults[3].factor")[:2] == ("scn.yaml", INCLUDE_LINE + 1)


def test_semantic_error_in_included_fault_names_its_file_and_the_include():
    s = load_scenario_text(WITH_INCLUDE, "scn.yaml", DATA)
    err = locate_error(s, InputError("no element 'x'", field="faults[2].target.gpu"))
    assert Path(err.file).resolve() == DATA / "nested" / "crash.faults.yaml" and err.line == 2
    assert "faults[2] comes from" in err.message and "crash.faults.yaml" in err.message


def test_overrides_index_the_flattened_list():
    s = load_scenario_text(WITH_INCLUDE, "scn.yaml", DATA, ["faults[1].factor=5"])
    assert s.faults[1].factor == 5
    assert load_scenario_text(WITH_INCLUDE, "scn.yaml", DATA, ["faults=[]"]).faults == []


def test_set_faults_drops_a_broken_include_unread():
    text = WITH_INCLUDE.replace("spike.faults.yaml", "nowhere.yaml")
    assert load_scenario_text(text, "scn.yaml", DATA, ["faults=[]"]).faults == []


def test_include_given_with_set_resolves_against_the_scenario_folder():
    s = load_scenario_text(VALID, "scn.yaml", DATA, ["faults=[{include: spike.faults.yaml}]"])
    assert [f.type for f in s.faults] == ["traffic_spike", "gpu_crash"]


def test_paths_are_relative_to_the_including_file(tmp_path):
    main = scenario_in(tmp_path, "  - include: lib/a.yaml\n", **{
        "lib/a.yaml": "- include: b.yaml\n- include: deeper/c.yaml\n",
        "lib/b.yaml": "- {type: traffic_spike, at: 1m, duration: 1m, factor: 2}\n",
        "lib/deeper/c.yaml": "faults:\n  - include: ../b.yaml\n"})
    assert [f.at for f in load_scenario(main).faults] == [60.0, 60.0]  # b twice is no cycle


def test_empty_fault_lists_are_fine(tmp_path):
    main = scenario_in(tmp_path, "  - include: a.yaml\n  - include: b.yaml\n",
                       **{"a.yaml": "[]\n", "b.yaml": "faults:\n"})
    assert load_scenario(main).faults == []


INCLUDE_ERRORS = [
    ("missing-file", "  - include: nowhere.yaml\n", {}, "main.yaml", 20,
     ["faults[0].include", "included fault list", "nowhere.yaml", "not found"]),
    ("cycle", "  - include: a.yaml\n", {"a.yaml": "- include: b.yaml\n", "b.yaml": "- include: a.yaml\n"},
     "b.yaml", 1, ["include cycle: ", "main.yaml -> ", "a.yaml -> ", "b.yaml -> ", "a.yaml"]),
    ("self-cycle", "  - include: main.yaml\n", {}, "main.yaml", 20, ["include cycle", "main.yaml -> "]),
    ("extra-key", "  - {include: a.yaml, factor: 2}\n", {"a.yaml": "[]\n"}, "main.yaml", 20,
     ["only the key include", "'factor'"]),
    ("not-a-path", "  - include: [a.yaml]\n", {}, "main.yaml", 20, ["faults[0].include", "['a.yaml']"]),
    ("empty-path", "  - include: ''\n", {}, "main.yaml", 20, ["faults[0].include", "got ''"]),
    ("scalar-file", "  - include: a.yaml\n", {"a.yaml": "gpu_crash\n"}, "a.yaml", 1,
     ["top level of a fault list must be a list or a mapping"]),
    ("empty-file", "  - include: a.yaml\n", {"a.yaml": "# nothing\n"}, "a.yaml", 1, ["fault list file is empty"]),
    ("mapping-without-faults", "  - include: a.yaml\n", {"a.yaml": "description: x\n"}, "a.yaml", 1,
     ["faults: is missing"]),
    ("unknown-key-in-file", "  - include: a.yaml\n", {"a.yaml": "faults: []\nfault: []\n"}, "a.yaml", 2,
     ["unknown key 'fault'", "did you mean faults?", "allowed keys: description, faults"]),
    ("faults-not-a-list", "  - include: a.yaml\n", {"a.yaml": "faults: {type: gpu_crash}\n"}, "a.yaml", 1,
     ["expected a list of faults"]),
    ("syntax-error-in-file", "  - include: a.yaml\n", {"a.yaml": "- {type: gpu_crash\n"}, "a.yaml", 2,
     ["YAML syntax error"]),
    ("schema-error-in-file", "  - {type: gpu_crash, at: 1m, target: {gpu: rack0/host0/gpu0}}\n  - include: a.yaml\n",
     {"a.yaml": "# spikes\n- {type: traffic_spike, at: 1m, duration: 1m, factr: 2}\n"}, "a.yaml", 2,
     ["faults[1].factr", "did you mean factor?", "faults[1] comes from", "included at", "main.yaml:21"]),
]


@pytest.mark.parametrize("faults, files, where, line, parts", [c[1:] for c in INCLUDE_ERRORS],
                         ids=[c[0] for c in INCLUDE_ERRORS])
def test_include_errors(tmp_path, monkeypatch, faults, files, where, line, parts):
    monkeypatch.chdir(tmp_path)
    main = scenario_in(tmp_path, faults, **files)
    with pytest.raises(ScenarioError) as info:
        load_scenario(main.name)
    rendered = str(info.value)
    assert rendered.splitlines()[0].startswith(f"{where}:{line}:"), rendered
    for part in parts:
        assert part in rendered, f"{part!r} not in {rendered!r}"


def test_model_validate_refuses_an_unresolved_include():
    data = {"name": "x", "topology": {"name": "t", "gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1,
                                      "gpus_per_host": 8},
            "deployment": {"model": "m"}, "workload": {"trace": {"path": "t.jsonl"}},
            "faults": [{"include": "a.yaml"}]}
    with pytest.raises(ValueError, match="resolved by chaos.scenario.load_scenario"):
        Scenario.model_validate(data)


def test_json_schema_allows_include_items():
    items = Scenario.model_json_schema()["properties"]["faults"]["items"]
    assert {"type": "object", "properties": {"include": {"type": "string", "description": items["anyOf"][1][
        "properties"]["include"]["description"]}}, "required": ["include"],
            "additionalProperties": False} in items["anyOf"]


def test_bundled_include_example_loads():
    example = Path(__file__).parents[2] / "examples" / "includes" / "crash-and-spike.yaml"
    s = load_scenario(example)
    assert [f.type for f in s.faults] == ["gpu_crash", "traffic_spike"]
