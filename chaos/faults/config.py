"""The `faults:` section: a list of fault models discriminated by `type`.

`FaultConfig` is the union of every type registered in FAULTS (built when this module is imported,
after the built-in types register); an unknown `type` is rejected before the union runs, with the
registered names and a did-you-mean. `FaultsConfig` is the list type the Scenario schema uses
(`faults: FaultsConfig = Field(default_factory=list)`); `load_faults(data)` validates a raw list on
its own and raises FaultError naming `faults[i].<field>`.
"""
from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BeforeValidator, Field, TypeAdapter, ValidationError

from chaos.errors import expected_one_of
from chaos.faults import (elements, link_degradation, random_failures, replica_faults, straggler,  # noqa: F401
                          tenant_faults, traffic_spike)  # (register)
from chaos.faults.base import FAULTS, FaultBase
from chaos.faults.errors import FaultError


def _known_type(value: Any) -> Any:
    if isinstance(value, FaultBase):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"expected a fault mapping like {{type: gpu_crash, at: 10m, target: {{gpu: ...}}}} "
                         f"but got {value!r}")
    if "type" not in value:
        raise ValueError(f"type: missing; expected one of {', '.join(FAULTS.names())}")
    if not isinstance(value["type"], str) or value["type"] not in FAULTS:
        raise ValueError(f"type: {expected_one_of(value['type'], FAULTS.names())}")
    return value


FaultConfig = Annotated[Union[tuple(FAULTS.get(name) for name in FAULTS.names())],  # type: ignore[misc]
                        Field(discriminator="type"), BeforeValidator(_known_type)]
"""One item of `faults:` — the model registered under its `type`."""

FaultsConfig = list[FaultConfig]
"""The `faults:` list of a scenario."""

_ADAPTER: TypeAdapter = TypeAdapter(FaultsConfig)


def load_faults(data: Any, field: str = "faults") -> list[FaultBase]:
    """Validate a parsed `faults:` list; the first problem becomes a FaultError naming `faults[i].<field>`."""
    if data is None:
        return []
    try:
        return list(_ADAPTER.validate_python(data))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [p for i, p in enumerate(err["loc"]) if not (i == 1 and p in FAULTS)]
        path = field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        cause = (err.get("ctx") or {}).get("error")
        message = str(cause.message if hasattr(cause, "message") else cause) if cause is not None else err["msg"]
        head, sep, rest = message.partition(": ")
        if sep and head.replace(".", "").replace("_", "").isalnum() and " " not in head:
            path, message = f"{path}.{head}", rest
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif err["type"] == "missing":
            message = f"missing required key {loc[-1]!r}"
        elif cause is None and "input" in err:
            message += f" but got {err['input']!r}"
        raise FaultError(message, field=path) from None
