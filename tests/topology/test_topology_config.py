"""FabricSpec: unit strings become SI floats, bad values name themselves and the allowed forms."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from chaos.errors import TopologyError
from chaos.topology import FabricSpec, build_fabric, load_fabric_spec

BASE = {"name": "t", "gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 2, "gpus_per_host": 8}


def test_units_parse_to_si():
    spec = FabricSpec.model_validate({**BASE, "nvlink_bandwidth": "900GB/s",
                                      "scale_out": {"nic_bandwidth": "400Gbps", "leaf_uplink_bandwidth": "3200Gbps",
                                                    "nvlink_latency": "500ns", "network_latency": "3us"}})
    assert spec.nvlink_bandwidth == 900e9
    assert spec.scale_out.nic_bandwidth == 50e9
    assert spec.scale_out.leaf_uplink_bandwidth == 400e9
    assert spec.scale_out.nvlink_latency == pytest.approx(0.5e-6)
    assert spec.scale_out.network_latency == pytest.approx(3e-6)


def test_interface_aliases_leaf_uplink_and_latency():
    spec = FabricSpec.model_validate({**BASE, "scale_out": {"leaf_uplink": "3200Gbps", "latency": "5us"}})
    assert spec.scale_out.leaf_uplink_bandwidth == 400e9
    assert spec.scale_out.network_latency == pytest.approx(5e-6)


def test_defaults():
    spec = FabricSpec.model_validate(BASE)
    assert (spec.nvlink_domain, spec.nvlink_bandwidth, spec.scale_out.spines) == ("host", None, 2)
    assert (spec.scale_out.nvlink_latency, spec.scale_out.network_latency) == (1e-6, 2e-6)
    assert (spec.n_gpus, spec.gpus_per_rack, spec.domain_size) == (16, 16, 8)


@pytest.mark.parametrize("patch, match", [
    ({"racks": 0}, "greater than or equal to 1"),
    ({"gpus_per_host": -1}, "greater than or equal to 1"),
    ({"nvlink_domain": "pod"}, "'host' or 'rack'"),
    ({"nvlink_bandwidth": "fast"}, "expected a bandwidth like .* but got 'fast'"),
    ({"nvlink_bandwidth": "0GB/s"}, "positive bandwidth"),
    ({"scale_out": {"nic_bandwidth": "400Gs"}}, "but got '400Gs'"),
    ({"scale_out": {"network_latency": "2 parsecs"}}, "expected a duration"),
    ({"scale_out": {"spines": -1}}, "greater than or equal to 0"),
    ({"racks": 2, "scale_out": {"spines": 0}}, "spines: 0 means one leaf"),
    ({"gpus": 8}, "Extra inputs are not permitted"),
    ({"hosts_per_rack": True}, "expected a whole number but got True"),
    ({"scale_out": {"spines": False}}, "expected a whole number but got False"),
], ids=["racks-0", "gpus-negative", "domain-unknown", "nvlink-garbage", "nvlink-zero", "nic-bad-unit",
        "latency-bad-unit", "spines-negative", "no-spine-multi-rack", "extra-field",
        "bool-hosts", "bool-spines"])
def test_bad_fabric(patch, match):
    with pytest.raises(ValidationError, match=match):
        FabricSpec.model_validate({**BASE, **patch})


@pytest.mark.parametrize("patch, field, match", [
    ({"gpu_per_host": 8}, "gpu_per_host", "did you mean gpus_per_host"),
    ({"scale_out": {"spine": 2}}, "scale_out.spine", "did you mean spines"),
    ({"scale_out": {"nic_bandwidth": "lots"}}, "scale_out.nic_bandwidth", "but got 'lots'"),
], ids=["top-level-typo", "scale-out-typo", "bad-unit"])
def test_load_fabric_spec_names_field(patch, field, match):
    with pytest.raises(TopologyError, match=match) as info:
        load_fabric_spec({**BASE, **patch})
    assert info.value.field == field


def test_build_needs_bandwidth_from_spec_or_catalog():
    spec = FabricSpec.model_validate(BASE)
    with pytest.raises(TopologyError, match="no bandwidth for h100-sxm"):
        build_fabric(spec)
    override = FabricSpec.model_validate({**BASE, "nvlink_bandwidth": "100GB/s"})
    fabric = build_fabric(override, nvlink_Bps=450e9, nic_Bps=50e9)
    assert fabric.nvlink_Bps == 100e9 and fabric.nic_Bps == 50e9
