"""User catalog files checked like scenarios (issue #17 item 5): every mistake at once, unknown
fields with a did-you-mean, file:line; files in a catalog folder that are not catalogs are skipped."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chaos.catalog import load_catalog
from chaos.cli import app
from chaos.errors import CatalogError

ROOT = Path(__file__).resolve().parents[2]

GOOD_GPU = """\
gpus:
  x1:
    bf16_flops: 1e15
    fp8_flops: 2e15
    hbm: 80GB
    hbm_bandwidth: 3TB/s
    nvlink_bandwidth: 450GB/s
    nic_bandwidth: 400Gbps
    source: a datasheet
"""


def test_the_bundled_example_catalog_loads():
    cat = load_catalog([ROOT / "examples" / "catalog"])
    assert cat.gpu("h100-sxm-500w").bf16_flops == 840e12


def test_a_misspelt_field_is_named_with_a_suggestion_not_as_missing(tmp_path):
    (tmp_path / "c.yaml").write_text(GOOD_GPU.replace("hbm_bandwidth", "hbm_bandwith"))
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'c.yaml'}:6: gpus.x1.hbm_bandwith: unknown field")
    assert "(did you mean hbm_bandwidth?)" in msg and "missing required field" not in msg


def test_every_mistake_of_a_file_is_reported(tmp_path):
    text = GOOD_GPU.replace("bf16_flops: 1e15", "bf16_flop: 1e15").replace("hbm: 80GB", "hbm: lots")
    (tmp_path / "c.yaml").write_text(text.replace("    source: a datasheet\n", ""))
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    msg = str(info.value)
    assert "(and 2 more)" in msg
    for needle in ("gpus.x1.bf16_flop: unknown field", "gpus.x1.hbm:", "gpus.x1.source: missing required field"):
        assert needle in msg


def test_a_folder_with_a_scenario_reads_only_the_catalogs(tmp_path):
    (tmp_path / "c.yaml").write_text(GOOD_GPU)
    shutil.copy(ROOT / "faults" / "gpu-crash.yaml", tmp_path / "scenario.yaml")
    assert "x1" in load_catalog([tmp_path]).gpus


def test_a_missing_catalog_folder_points_at_the_scenario_line(tmp_path):
    scenario = (ROOT / "examples" / "fleet-small.yaml").read_text().replace(
        "seed: 3\n", "seed: 3\ncatalog: [my-catalog/]\n")
    (tmp_path / "s.yaml").write_text(scenario)
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "s.yaml")])
    assert res.exit_code == 2
    assert f"{tmp_path / 's.yaml'}:" in res.output and "catalog[0]: catalog folder or file" in res.output
