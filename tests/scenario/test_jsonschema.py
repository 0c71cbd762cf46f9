"""`fleetchaos schema` accepts what the loader accepts for units: editors must not flag `interval: 5s`."""
from __future__ import annotations

import pytest

from chaos.scenario.jsonschema import scenario_json_schema, widen_units

jsonschema = pytest.importorskip("jsonschema")

VALID = {
    "name": "units", "topology": {"gpu": "h100-sxm", "racks": 1, "hosts_per_rack": 1, "gpus_per_host": 8},
    "deployment": {"model": "llama-3.1-8b", "replicas": 2, "tp": 1},
    "workload": {"synthetic": {"arrival": "poisson", "rate": "6/s", "requests": 10,
                               "input": {"dist": "fixed", "value": 100}, "output": {"dist": "fixed", "value": 10}}},
    "router": {"policy": "round_robin", "health": {"interval": "2s", "timeout": "500ms", "failures": 2},
               "connect_timeout": "1s"},
    "controller": {"policy": "restart", "restart_time": "30s"},
    "slo": {"ttft_p99": "2s", "tpot_p99": "50ms"},
}


def test_unit_strings_validate():
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    assert [e.message for e in validator.iter_errors(VALID)] == []
    bad = {**VALID, "deployment": {**VALID["deployment"], "replicas": "two"}}
    assert list(validator.iter_errors(bad))          # a count is still a number
    for spill in ("on", True, False, "auto"):         # YAML reads a bare on/off as a boolean
        assert not list(validator.iter_errors({**VALID, "metrics": {"spill": spill}})), spill
    assert list(validator.iter_errors({**VALID, "metrics": {"spill": "sometimes"}}))


def test_widen_only_numeric_unit_keys():
    schema = {"properties": {"interval": {"type": "number"}, "replicas": {"type": "integer"},
                             "timeout": {"anyOf": [{"type": "number"}, {"type": "string"}]}}}
    out = widen_units(schema)["properties"]
    assert {"type": "string"} in [{"type": s.get("type")} for s in out["interval"]["anyOf"]]
    assert out["replicas"] == {"type": "integer"} and out["timeout"] == schema["properties"]["timeout"]
