"""The scenario's JSON Schema for editors (`fleetchaos schema`), accepting what the loader accepts.

Pydantic describes a field by its Python type, so a duration validated from "30s" into seconds reads
as `number` and every editor would flag `interval: 30s` in a valid file. Fields named as the units
module names durations (DURATION_KEYS, DURATION_KEYS_IN), rates (`rate`: "6/s") and bandwidths
(`*_bandwidth`: "400Gbps") take a string too; the loader still checks the string and reports file:line
when it is wrong. Known gap: fault targets written as a single string and `random_failures`' per-kind
repair and `acceleration` keys are still narrower in the schema than in the loader.
"""
from __future__ import annotations

from typing import Any

from chaos.units import DURATION_KEYS, DURATION_KEYS_IN

RATE_KEYS = frozenset({"rate", "rate_limit"})
_UNIT_STRING = {"type": "string", "description": 'a value with its unit: "30s", "250ms", "6/s", "80GB"'}


def _numeric(schema: dict) -> bool:
    if schema.get("type") in ("number", "integer"):
        return True
    return any(_numeric(s) for s in schema.get("anyOf", ()) if isinstance(s, dict))


def _accepts_string(schema: dict) -> bool:
    return schema.get("type") == "string" or any(_accepts_string(s) for s in schema.get("anyOf", ())
                                                  if isinstance(s, dict))


def _unit_key(name: str, parent: str) -> bool:
    return (name in DURATION_KEYS or name in RATE_KEYS or name in DURATION_KEYS_IN.get(parent, ())
            or name.endswith("_bandwidth"))


def widen_units(schema: Any, parent: str = "") -> Any:
    """Walk a JSON schema; a numeric property named like a duration or rate also accepts a string."""
    if isinstance(schema, list):
        return [widen_units(s, parent) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict):
            props = {}
            for name, sub in value.items():
                sub = widen_units(sub, name)
                if isinstance(sub, dict) and _unit_key(name, parent) and _numeric(sub) and not _accepts_string(sub):
                    sub = {"anyOf": [sub, _UNIT_STRING],
                           **({"description": sub["description"]} if "description" in sub else {})}
                props[name] = sub
            out[key] = props
        else:
            out[key] = widen_units(value, parent)
    return out


def scenario_json_schema() -> dict:
    """`fleetchaos schema`: the Scenario model's JSON Schema with unit strings allowed (see above)."""
    from chaos.scenario import Scenario
    schema = Scenario.model_json_schema()
    defs = schema.get("$defs", {})
    # a $defs entry is named by its model, not by the key that holds it: widen inside each by its own keys
    schema = widen_units({k: v for k, v in schema.items() if k != "$defs"})
    if defs:
        schema["$defs"] = {name: widen_units(d, _parent_of(name)) for name, d in defs.items()}
    return schema


def _parent_of(model_name: str) -> str:
    """`backoff`/`repair`/`mtbf` sections are models named like BackoffConfig: their parent key."""
    low = model_name.lower()
    return next((p for p in DURATION_KEYS_IN if low.startswith(p)), "")
