"""Fault-list files — what `{include: file}` pulls into a scenario's `faults:` — on their own.

`fleetchaos validate examples/includes/*.yaml` meets both scenarios and fault lists. A file is a
fault list when its top level is a list, or a mapping with `faults:` and none of the keys only a
scenario has (deployment, workload, topology); it is then validated as the include would read it
(its own includes followed, unknown top-level keys named with a did-you-mean) and each fault
against the fault schema, with the same file:line messages as a scenario. Targets are not resolved:
that needs the topology of the scenario that includes the file.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from chaos.faults.config import FaultsConfig
from chaos.scenario.load import _expand_fault_includes, _read
from chaos.scenario.translate import translate
from chaos.scenario.yamlpos import Position

SCENARIO_ONLY_KEYS = ("deployment", "workload", "topology")


class _FaultList(BaseModel):
    """A fault list file as validated: its faults (and the optional description)."""

    model_config = ConfigDict(extra="forbid")
    faults: FaultsConfig
    description: str | None = None


def is_fault_list(path: str | Path) -> bool:
    """True when `path` reads as a fault list rather than a scenario (see the module docstring); a
    file that does not parse is not one (the scenario loader then reports why)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if isinstance(data, list):
        return True
    return isinstance(data, dict) and "faults" in data and not any(k in data for k in SCENARIO_ONLY_KEYS)


def load_fault_list(path: str | Path) -> list:
    """Validate the fault list file at `path` as an include would read it; returns its faults.
    Raises ScenarioError with file:line:column, field and allowed values."""
    p = Path(path)
    _read(p, what="fault list file")
    source = "<fleetchaos validate>"
    data = {"faults": [{"include": p.name}]}
    positions = {("faults", 0, "include"): Position(str(p), None, None), ("faults", 0): Position(str(p), None, None)}
    _expand_fault_includes(data, positions, p.parent.expanduser().absolute(), (source,), {})
    try:
        model = _FaultList.model_validate({"faults": data["faults"]})
    except ValidationError as exc:
        raise translate(exc, data, positions, main_file=str(p)) from None
    return list(model.faults)
