"""The bundled fabrics build into graphs of the expected shape and numbers."""
from __future__ import annotations

import pytest

from chaos.errors import TopologyError
from chaos.topology import PCIE_GEN5_X16_BPS

# name: (nodes, edges, gpus, hosts, racks). Nodes = racks + hosts + 2 x GPUs (GPU + its NIC) + NVSwitches
# + leaves + spines; edges = 3 per GPU (NVLink, PCIe, NIC-leaf) + leaves x spines uplinks.
SHAPES = {
    "hgx-h100-8gpu": (1 + 1 + 16 + 1 + 1 + 0, 24, 8, 1, 1),
    "h100-4x8-ib": (1 + 4 + 64 + 4 + 1 + 2, 96 + 2, 32, 4, 1),
    "h200-4x8-ib": (1 + 4 + 64 + 4 + 1 + 2, 96 + 2, 32, 4, 1),
    "gb200-nvl72": (1 + 18 + 144 + 1 + 1 + 0, 216, 72, 18, 1),
    "h100-superpod-slice": (4 + 16 + 256 + 16 + 4 + 4, 384 + 16, 128, 16, 4),
}


@pytest.mark.parametrize("name", SHAPES)
def test_bundled_topology_shape(load_fabric, name):
    fabric = load_fabric(name)
    nodes, edges, gpus, hosts, racks = SHAPES[name]
    assert fabric.graph.number_of_nodes() == nodes
    assert fabric.graph.number_of_edges() == edges
    assert (len(fabric.gpus()), len(fabric.hosts()), len(fabric.racks())) == (gpus, hosts, racks)
    # failure-domain nodes carry no data links
    assert all(fabric.graph.degree(n) == 0 for n in fabric.hosts() + fabric.racks())


def test_edge_attributes_h100(h100_4x8):
    g = h100_4x8.graph
    nvl = g.edges["rack0/host1/gpu3", "rack0/host1/nvswitch"]
    assert (nvl["kind"], nvl["bandwidth_Bps"], nvl["latency_s"]) == ("nvlink", 450e9, 0.5e-6)
    pcie = g.edges["rack0/host1/gpu3", "rack0/host1/nic3"]
    assert (pcie["kind"], pcie["bandwidth_Bps"]) == ("pcie", PCIE_GEN5_X16_BPS)
    nic = g.edges["rack0/host1/nic3", "rack0/leaf"]
    assert (nic["kind"], nic["bandwidth_Bps"], nic["latency_s"]) == ("scale_out", 50e9, 1e-6)
    uplink = g.edges["rack0/leaf", "spine1"]
    assert uplink["bandwidth_Bps"] == 32 * 50e9 / 2  # non-blocking: 800 GB/s to each of 2 spines
    assert g.nodes["rack0/host1/gpu3"] | {} == {"kind": "gpu", "rack": "rack0", "host": "rack0/host1",
                                                "domain": "rack0/host1/nvswitch", "nic": "rack0/host1/nic3",
                                                "index": 3}


def test_nvl72_one_domain(nvl72):
    assert list(nvl72.domains()) == ["rack0/nvswitch"]
    assert nvl72.nvlink_domain("rack0/host17/gpu3") == "rack0/nvswitch"
    assert len(nvl72.gpus_of("rack0/nvswitch")) == 72
    assert nvl72.graph.edges["rack0/host5/gpu0", "rack0/nvswitch"]["bandwidth_Bps"] == 900e9


def test_membership(superpod):
    assert superpod.gpus_of("rack2/host1") == [f"rack2/host1/gpu{i}" for i in range(8)]
    assert len(superpod.gpus_of("rack3")) == 32
    members = set(superpod.members("rack1"))
    assert {"rack1", "rack1/leaf", "rack1/host3", "rack1/host3/nvswitch", "rack1/host3/nic7"} <= members
    assert "spine0" not in members and "rack2/leaf" not in members
    assert len(superpod.members("rack1/host0")) == 1 + 8 + 8 + 1


@pytest.mark.parametrize("element, match", [
    ("rack0/host1/gpu9", "did you mean rack0/host1/gpu"),
    ("spine9", "did you mean spine"),
    ("rack0/leaf--spine9", "no link"),
], ids=["gpu-index", "spine-index", "link"])
def test_unknown_element(h100_4x8, element, match):
    with pytest.raises(TopologyError, match=match):
        h100_4x8.kind_of(element)


def test_kind_of(h100_4x8):
    assert h100_4x8.kind_of("spine0--rack0/leaf") == "link"
    assert h100_4x8.kind_of("rack0/host0/nic0") == "nic"
    with pytest.raises(TopologyError, match="is a nic, expected a gpu"):
        h100_4x8.nvlink_domain("rack0/host0/nic0")


def test_every_bundled_file_is_tested_and_sourced():
    from pathlib import Path
    files = sorted(Path(__file__).resolve().parents[2].glob("topologies/*.yaml"))
    assert sorted(f.stem for f in files) == sorted(SHAPES)
    for f in files:
        header = f.read_text().split("\nname:")[0]
        assert header.startswith("# ") and "Sources:" in header, f.name
