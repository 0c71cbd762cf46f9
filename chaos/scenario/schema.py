"""The `Scenario` model: one pydantic schema composing every room's config section.

Each room owns its own section model (`chaos/<room>/config.py`); this module only composes them and
adds the scenario-level fields (name, seed, duration, deployment, metrics). Loading YAML, resolving
the topology file, `--set` overrides and file:line errors live in `chaos.scenario.load`.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, WithJsonSchema,
                      field_validator, model_validator)

from chaos.errors import ScenarioError, expected_one_of
from chaos.topology.config import FabricSpec
from chaos.units import parse_duration
from chaos.workload.config import WorkloadConfig
from chaos.workload.tenants import DEFAULT_TENANT, TenantConfig, check_tenants

from chaos.control.config import ControllerConfig, HealthConfig, WatchdogConfig
from chaos.engine.config import EngineConfig
from chaos.faults.base import FAULTS
from chaos.faults.config import FaultsConfig
from chaos.metrics.config import HypothesisConfig, ProbeConfig, ResilienceConfig, SloConfig
from chaos.perf.config import EfficiencyConfig, LatencyConfig
from chaos.metrics.probes import PROBES
from chaos.routing.config import RouterConfig

from chaos.scenario.yamlpos import Position, PositionMap, dotted

_DURATION_SCHEMA = {"anyOf": [{"type": "string", "examples": ["250ms", "30s", "10m", "2h"]},
                              {"type": "number", "minimum": 0}],
                    "description": 'a duration like "30s" or "10m", or a number of seconds'}

Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
"""Seconds; YAML accepts "250ms", "30s", "10m", "2h" or a bare number of seconds."""

_SLUG = re.compile(r"^[A-Za-z0-9._-]+$")
DEFAULT_ROUTER_POLICY = "least_outstanding"


class _TopologySchema:
    """JSON schema of `topology:`: a path to a fabric YAML file, or the fabric mapping inline."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        inline = handler(core_schema)
        return {"anyOf": [{"type": "string", "description": "path to a fabric YAML file, relative to "
                                                            "the scenario file"}, inline]}


def _topology_input(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(f"the topology file path {value!r} is resolved by chaos.scenario.load_scenario; "
                         f"Scenario.model_validate needs the fabric mapping inline")
    if not isinstance(value, (dict, FabricSpec)):
        raise ValueError(f"expected a path to a fabric YAML file or an inline fabric mapping but got {value!r}")
    return value


Topology = Annotated[FabricSpec, BeforeValidator(_topology_input), _TopologySchema()]

_INCLUDE_SCHEMA = {"type": "object", "properties": {"include": {
    "type": "string", "description": "path of a fault list YAML file (a list of faults, or a mapping with "
                                     "a faults: list), relative to the including file"}},
                   "required": ["include"], "additionalProperties": False}


class _FaultsSchema:
    """JSON schema of `faults:`: each item is a fault or an `{include: file}` item."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        schema = dict(handler(core_schema))
        if "items" in schema:
            schema["items"] = {"anyOf": [schema["items"], _INCLUDE_SCHEMA]}
        return schema


def _name_key(items: Any, key: str, names: list[str]) -> None:
    """A list item's `key` (a registry name) must be a string before the item's own validators look it up."""
    if isinstance(items, list):
        for i, item in enumerate(items):
            if isinstance(item, dict) and key in item and not isinstance(item[key], str):
                raise ScenarioError(expected_one_of(item[key], names), field=f"[{i}].{key}")


def _faults_input(value: Any) -> Any:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict) and "include" in item:
                raise ScenarioError(f"the fault list include {item['include']!r} is resolved by "
                                    f"chaos.scenario.load_scenario; Scenario.model_validate needs the faults "
                                    f"inline", field=f"[{i}].include")
    _name_key(value, "type", FAULTS.names())
    return value


def _steady_state_input(value: Any) -> Any:
    _name_key(value, "probe", sorted(PROBES))
    return value


Faults = Annotated[FaultsConfig, BeforeValidator(_faults_input), _FaultsSchema()]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PoolConfig(_Section):
    """One pool of a disaggregated deployment: `replicas` engine instances of `tp` GPUs each."""
    replicas: int = Field(1, ge=1)
    tp: int = Field(1, ge=1)


class DeploymentConfig(_Section):
    """`deployment:` — which model runs, and how it is cut into tensor-parallel replicas.

    aggregated: `replicas` x `tp` (both default 1). disaggregated: `prefill: {replicas, tp}` and
    `decode: {replicas, tp}`, both required. `spares` idle TP groups wait for failover.
    """
    model: str = Field(min_length=1)
    """Catalog key ("llama-3.1-70b"); checked against the catalog by the simulation wiring."""
    mode: Literal["aggregated", "disaggregated"] = "aggregated"
    replicas: Optional[int] = Field(None, ge=1, description="aggregated only; default 1")
    tp: Optional[int] = Field(None, ge=1, description="aggregated only; default 1")
    prefill: Optional[PoolConfig] = None
    decode: Optional[PoolConfig] = None
    spares: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _pools_match_mode(self) -> "DeploymentConfig":
        if self.mode == "disaggregated":
            for key in ("replicas", "tp"):
                if getattr(self, key) is not None:
                    raise ScenarioError(
                        f"{key} at the top of deployment applies to mode: aggregated only; with mode: "
                        f"disaggregated set it per pool: prefill: {{replicas, tp}} and decode: {{replicas, tp}}",
                        field=key)
            for key in ("prefill", "decode"):
                if getattr(self, key) is None:
                    raise ScenarioError(
                        f"mode: disaggregated needs both prefill: {{replicas, tp}} and decode: "
                        f"{{replicas, tp}}, but {key}: is missing", field=key)
        else:
            for key in ("prefill", "decode"):
                if getattr(self, key) is not None:
                    raise ScenarioError(
                        f"{key}: applies to mode: disaggregated only; set mode: disaggregated, or use "
                        f"replicas and tp for an aggregated deployment", field=key)
            self.replicas = 1 if self.replicas is None else self.replicas
            self.tp = 1 if self.tp is None else self.tp
        return self

    def groups(self) -> list[tuple[str, int, int]]:
        """(role, replicas, tp) per pool, in placement order (the shape `topology.place` takes)."""
        if self.mode == "disaggregated":
            assert self.prefill is not None and self.decode is not None
            return [("prefill", self.prefill.replicas, self.prefill.tp),
                    ("decode", self.decode.replicas, self.decode.tp)]
        return [("aggregated", int(self.replicas or 1), int(self.tp or 1))]


class ScenarioRouterConfig(RouterConfig):
    """`router:` — the routing policy and its resilience layer (chaos.routing), plus how the router
    detects failures: `health:` probes and the progress `watchdog:` (chaos.control)."""
    health: Optional[HealthConfig] = None
    """Health probes; omitted = the router learns of failures only from errors and timeouts."""
    watchdog: Optional[WatchdogConfig] = None
    """Progress watchdog that finds silent stalls; omitted = off."""


class ScenarioTenantConfig(TenantConfig):
    """One entry of `tenants:` (chaos.workload.tenants) plus its own `slo:` targets (chaos.metrics)."""
    slo: Optional[SloConfig] = None
    """The tenant's per-request targets; omitted = the scenario's slo:."""


# keys added after journal v2 that a scenario without them must not gain in resolved_dict (same hash)
_NEW_WHEN_DEFAULT = ((("tenants",), None), (("engine", "scheduling"), "fcfs"),
                     (("engine", "fair"), {"input_weight": 1.0, "output_weight": 2.0}),
                     (("router", "shedding"), None))


class RecoveryConfig(_Section):
    """`recovery:` — what happens to the requests on a replica that fails (see chaos.sim.fate)."""
    requests: Literal["fail", "retry", "migrate", "kv_replica"] = "fail"
    max_attempts: int = Field(3, ge=1)
    """How many times one request may be recovered before it fails."""


class MetricsConfig(_Section):
    """`metrics:` — how results are aggregated over time."""
    window: Duration = 10.0
    """Seconds per time-series window."""
    spill: Annotated[Literal["auto", "on", "off"], WithJsonSchema(
        {"anyOf": [{"enum": ["auto", "on", "off"]}, {"type": "boolean"}]})] = "auto"
    """Where a run keeps what is finished (request rows, closed ITL windows): "off" = in memory; "on" =
    written to temporary files as the run goes and memory-mapped at the end, so a long run's memory
    stays flat; "auto" = "on" once a run passes 200,000 requests or ITL bins (chaos.metrics.spill).
    Results are identical either way. YAML's bare on/off (booleans) are accepted."""

    @field_validator("spill", mode="before")
    @classmethod
    def _on_off(cls, v: Any) -> Any:
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    @field_validator("window")
    @classmethod
    def _positive(cls, v: float) -> float:
        if not v > 0:
            raise ValueError(f'expected a positive duration like "10s" but got {v!r}')
        return v


class ExperimentConfig(_Section):
    """`experiment:` — how a run and its fault-free twin are executed (chaos.sim.experiment)."""
    parallel_twin: bool = True
    """Run the twin in a second process while the faulted run goes on, when this process may use two
    cores or more (results are byte-identical to running them one after the other); false = one process."""


class Scenario(_Section):
    """A validated scenario. Build it with `chaos.scenario.load_scenario(path)` so paths resolve
    against the scenario file and errors carry file:line.

    Reuse: `topology:` may be the path of a fabric file, and an item of `faults:` may include the
    faults of another file::

        faults:
          - {type: gpu_crash, at: 3m, target: {gpu: rack0/host1/gpu2}}
          - include: spike.faults.yaml          # relative to this file

    The included file is either a plain list of faults or a mapping `{description: ..., faults: [...]}`,
    and may itself include other files (relative to itself); a cycle is an error naming the chain.
    The loader flattens the list: `faults[i]` in errors, `--set faults[i].at=...` and
    `resolved_dict()` all count the included faults in place of the include item, and an error in
    an included fault points at that file's line. `--set faults=[]` drops them all.
    """
    name: str
    seed: int = Field(0, ge=0)
    duration: Optional[Duration] = None
    """Seconds of simulated time; None = until the workload is done."""
    description: str = ""
    catalog: list[str] = Field(default_factory=list)
    """Extra catalog directories (GPU/model YAML), relative to the scenario file."""
    topology: Topology
    deployment: DeploymentConfig
    engine: EngineConfig = Field(default_factory=EngineConfig)
    efficiency: EfficiencyConfig = Field(default_factory=EfficiencyConfig)
    """Overrides of single efficiency factors of the backend profile (engine.backend)."""
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    """Where iteration latencies come from: the profile's roofline (default), a measured table, aiconfigurator."""
    workload: WorkloadConfig
    router: ScenarioRouterConfig = Field(default_factory=lambda: ScenarioRouterConfig(policy=DEFAULT_ROUTER_POLICY))
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)
    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    faults: Faults = Field(default_factory=list)
    """The faults, in order. An item `{include: path.yaml}` is replaced by the faults of that file
    (see the class docstring); the loader resolves it."""
    slo: Optional[SloConfig] = None
    steady_state: Annotated[list[ProbeConfig], BeforeValidator(_steady_state_input)] = Field(default_factory=list)
    """The steady-state hypothesis: probes with tolerances, evaluated per phase (chaos.metrics.steady)."""
    hypothesis: HypothesisConfig = Field(default_factory=HypothesisConfig)
    resilience: Optional[ResilienceConfig] = None
    """Resilience analysis settings; omitted = defaults with the metrics window."""
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    tenants: Optional[list[ScenarioTenantConfig]] = None
    """Who sends which requests (chaos.workload.tenants); omitted = one tenant, "default"."""
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)

    _source_file: Optional[str] = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _positions: PositionMap = PrivateAttr(default_factory=dict)
    _fault_notes: dict = PrivateAttr(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"expected a name of letters, digits, '-', '_' and '.' (no spaces) but got {v!r}")
        return v

    @field_validator("duration")
    @classmethod
    def _positive_duration(cls, v: Optional[float]) -> Optional[float]:
        if v is not None and not v > 0:
            raise ValueError(f'expected a positive duration like "30m" but got {v!r}')
        return v

    @model_validator(mode="after")
    def _tenants_consistent(self) -> "Scenario":
        tenants = self.tenants or []
        if self.tenants is not None:
            if not tenants:
                raise ScenarioError("expected at least one tenant (drop tenants: for a single-tenant run)",
                                    field="tenants")
            for field, message in check_tenants(tenants):
                raise ScenarioError(message, field=field)
        names = self.tenant_names()
        for i, fault in enumerate(self.faults):
            tenant = getattr(fault, "tenant", None)
            if tenant is not None and tenant not in names:
                raise ScenarioError(f"unknown tenant: {expected_one_of(tenant, names)}", field=f"faults[{i}].tenant")
        for i, probe in enumerate(self.steady_state):
            if probe.tenant is not None and probe.tenant not in names:
                raise ScenarioError(f"unknown tenant: {expected_one_of(probe.tenant, names)}",
                                    field=f"steady_state[{i}].tenant")
        return self

    def tenant_names(self) -> list[str]:
        """Tenant names by id: the `tenants:` names, or ["default"] without them."""
        return [t.name for t in self.tenants] if self.tenants else [DEFAULT_TENANT]

    # -- where it came from ---------------------------------------------------------------------
    @property
    def source_file(self) -> Optional[str]:
        """The scenario file as given to the loader (or the source name of a text), None if built in code."""
        return self._source_file

    @property
    def base_dir(self) -> Path:
        """The folder relative paths (topology, catalog, traces) resolve against."""
        return self._base_dir

    @property
    def positions(self) -> PositionMap:
        """Field path tuple -> Position in the file it came from."""
        return self._positions

    def resolve_path(self, p: str | Path) -> Path:
        """`p` relative to the scenario file's folder (absolute paths stay as they are)."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else self._base_dir / p

    def locate(self, field_path: str) -> tuple[str, int, int] | None:
        """(file, line, column) of the value at `field_path` ("deployment.model", "faults[2].type"),
        or of its nearest ancestor written in the file; None when nothing on the path was written."""
        path = parse_field_path(field_path)
        pos = find_position(self._positions, path)
        if pos is None or pos.file is None:
            return None
        line_col = pos.best(prefer_key=self._positions.get(path) is not pos)  # an ancestor: its key line
        if line_col is None:
            return None
        return pos.file, line_col[0], line_col[1]

    # -- journal ----------------------------------------------------------------------------------
    def resolved_dict(self) -> dict:
        """JSON-ready dict of the validated scenario: defaults filled in, quantities as SI floats."""
        out = self.model_dump(mode="json")
        for path, default in _NEW_WHEN_DEFAULT:
            parent = out
            for key in path[:-1]:
                parent = parent.get(key) if isinstance(parent, dict) else None
            if isinstance(parent, dict) and path[-1] in parent and parent[path[-1]] == default:
                del parent[path[-1]]
        for probe in out.get("steady_state", []):
            if probe.get("tenant", 0) is None:
                del probe["tenant"]
        return out

    def scenario_hash(self) -> str:
        """sha256 hex of the canonical JSON of `resolved_dict()` (sorted keys, no whitespace)."""
        text = json.dumps(self.resolved_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_field_path(field_path: str) -> tuple:
    """'faults[2].type' or 'faults.2.type' -> ('faults', 2, 'type')."""
    out: list = []
    for name, index in _SEGMENT.findall(field_path or ""):
        if index:
            out.append(int(index))
        elif name.isdigit():
            out.append(int(name))
        else:
            out.append(name)
    return tuple(out)


def find_position(positions: PositionMap, path: tuple) -> Position | None:
    """The position of `path`, or of its nearest ancestor other than the document root."""
    for n in range(len(path), 0, -1):
        pos = positions.get(path[:n])
        if pos is not None:
            return pos
    return None


__all__ = ["Scenario", "DeploymentConfig", "ExperimentConfig", "PoolConfig", "MetricsConfig", "Duration", "dotted",
           "parse_field_path", "find_position"]
