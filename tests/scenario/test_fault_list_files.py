"""Fault list files (include targets) validated on their own (issue #17 item 6)."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.cli import app
from chaos.errors import ScenarioError
from chaos.scenario import is_fault_list, load_fault_list

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_validate_accepts_the_bundled_include_folder():
    files = sorted(str(p) for p in (ROOT / "examples" / "includes").glob("*.yaml"))
    res = runner.invoke(app, ["validate", *files])
    assert res.exit_code == 0, res.output
    assert "spike.faults.yaml: ok (a fault list of 1 fault" in res.output


@pytest.mark.parametrize("text, expected", [
    pytest.param("- {type: gpu_crash, at: 1m, target: {gpu: rack0/host0/gpu0}}\n", True, id="list"),
    pytest.param("faults: []\ndescription: none\n", True, id="mapping"),
    pytest.param("name: x\ndeployment: {model: m}\nworkload: {}\nfaults: []\n", False, id="scenario"),
    pytest.param("topology: t.yaml\nfaults: []\n", False, id="scenario-without-deployment"),
    pytest.param("faults: [\n", False, id="not-yaml"),
])
def test_what_counts_as_a_fault_list(tmp_path, text, expected):
    p = tmp_path / "f.yaml"
    p.write_text(text)
    assert is_fault_list(p) is expected


@pytest.mark.parametrize("text, where, needle", [
    pytest.param("- {type: traffic_spike, at: 2m, duration: 1m, factr: 2}\n", ":1:",
                 "faults[0].factr: unknown key 'factr' (did you mean factor?)", id="typo-in-list"),
    pytest.param("faults:\n  - {type: gpu_crsh, at: 1m}\n", ":2:", "did you mean gpu_crash?", id="bad-type"),
    pytest.param("faults: []\ndescripton: x\n", ":2:", "unknown key 'descripton' in a fault list file (did you mean description?)",
                 id="top-level-typo"),
    pytest.param("- {include: missing.yaml}\n", "", "not found", id="missing-include"),
])
def test_one_located_message_per_mistake(tmp_path, text, where, needle):
    p = tmp_path / "bad.faults.yaml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_fault_list(p)
    msg = str(info.value)
    assert needle in msg and str(p) in msg and where in msg
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 2 and res.output.count("error:") == 1 and "missing required key" not in res.output


def test_nested_include_is_followed(tmp_path):
    (tmp_path / "inner.yaml").write_text("- {type: traffic_spike, at: 2m, duration: 1m, factor: 2}\n")
    (tmp_path / "outer.yaml").write_text("faults:\n  - include: inner.yaml\n  - {type: traffic_spike, at: 5m, "
                                         "duration: 1m, factor: 3}\n")
    assert [f.factor for f in load_fault_list(tmp_path / "outer.yaml")] == [2, 3]
