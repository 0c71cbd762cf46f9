"""Every YAML block of the README is checked (issue #17 item 4): the scenario block and the blocks
after it paste together into one valid scenario, as a reader would assemble them."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT.parent / "shared" / "traces"
BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


CATALOG_KEYS = {"gpus", "models"}


def readme_blocks() -> list[dict]:
    return [yaml.safe_load(b) for b in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))]


def is_sweep(block: dict) -> bool:
    """A sweep file (chaos.sweep): a base scenario and axes over it, not a scenario fragment."""
    return "base" in block and bool({"axes", "zip"} & set(block))


def scenario_blocks() -> list[dict]:
    return [b for b in readme_blocks() if not set(b) <= CATALOG_KEYS and not is_sweep(b)]


def test_sweep_blocks_are_valid_sweep_files():
    from chaos.sweep.load import check_axis_paths, parse_sweep_text
    texts = [t for t in BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8")) if is_sweep(yaml.safe_load(t))]
    assert texts, "the README documents the sweep file with an example"
    for text in texts:
        spec, positions, source = parse_sweep_text(text, "README.md")
        check_axis_paths(spec, positions, source)


def test_catalog_blocks_are_valid_catalogs_and_match_the_example(tmp_path):
    from chaos.catalog import load_catalog
    catalogs = [b for b in readme_blocks() if set(b) <= CATALOG_KEYS]
    assert catalogs, "the README documents the catalog format with an example"
    for i, block in enumerate(catalogs):
        (tmp_path / f"c{i}.yaml").write_text(yaml.safe_dump(block))
    load_catalog([tmp_path])
    assert catalogs[0] == yaml.safe_load((ROOT / "examples" / "catalog" / "my-gpu.yaml").read_text())


def test_every_block_is_yaml_mapping():
    blocks = readme_blocks()
    assert len(blocks) >= 3
    assert all(isinstance(b, dict) and b for b in blocks)


@pytest.mark.skipif(not TRACES.exists(), reason=f"traces folder {TRACES} is absent")
def test_scenario_and_fragment_blocks_paste_into_one_valid_scenario(tmp_path):
    from chaos.scenario import load_scenario
    from chaos.sim.build import check_scenario, scenario_catalog

    blocks = scenario_blocks()
    first = next(i for i, b in enumerate(blocks) if "name" in b and "deployment" in b)
    merged = dict(blocks[first])
    for fragment in blocks[first + 1:]:
        merged.update(fragment)
    # the README's relative paths as seen from a file in examples/
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "topologies").symlink_to(ROOT / "topologies")
    (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    (tmp_path / "repo" / "examples").mkdir()
    path = tmp_path / "repo" / "examples" / "readme.yaml"
    path.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    sc = load_scenario(path)
    check_scenario(sc, scenario_catalog(sc, []))
    assert sc.faults and sc.steady_state
    # the Tenants block (last) is checked too: its tenants, tenant faults and per-tenant probe validated
    assert [t.name for t in sc.tenants] == ["premium", "batch"]
    assert {f.type for f in sc.faults} == {"tenant_spike", "cost_shift"}
    assert any(p.tenant == "premium" for p in sc.steady_state)
