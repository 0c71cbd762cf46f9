"""Fabrics built from the bundled topologies/ files with their GPUs' catalog numbers (bytes/s, one direction)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaos.topology import Fabric, build_fabric, load_fabric_spec

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
H100_NVLINK_BPS = 450e9   # NVLink 4: 900 GB/s bidirectional
GB200_NVLINK_BPS = 900e9  # NVLink 5: 1.8 TB/s bidirectional
NIC_400G_BPS = 50e9       # ConnectX-7 400 Gb/s
NVLINK_BPS = {"h100-sxm": H100_NVLINK_BPS, "h200-sxm": H100_NVLINK_BPS, "gb200": GB200_NVLINK_BPS}


def load(name: str) -> Fabric:
    spec = load_fabric_spec(yaml.safe_load((TOPOLOGIES / f"{name}.yaml").read_text()))
    return build_fabric(spec, nvlink_Bps=NVLINK_BPS[spec.gpu], nic_Bps=NIC_400G_BPS)


@pytest.fixture
def load_fabric():
    """The loader itself, for tests parametrized over topology names."""
    return load


@pytest.fixture
def hgx() -> Fabric:
    return load("hgx-h100-8gpu")


@pytest.fixture
def h100_4x8() -> Fabric:
    return load("h100-4x8-ib")


@pytest.fixture
def nvl72() -> Fabric:
    return load("gb200-nvl72")


@pytest.fixture
def superpod() -> Fabric:
    return load("h100-superpod-slice")
