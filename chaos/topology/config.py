"""The fabric section of a scenario (`topology:`): racks, hosts, GPUs, NVLink domain and scale-out network.

Quantities accept unit strings ("400Gbps", "2us") and are stored as SI floats (bytes/s, seconds).
Bandwidths left unset come from the GPU's catalog entry when `build_fabric` is called.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chaos.errors import TopologyError, expected_one_of
from chaos.units import parse_bandwidth, parse_duration


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # YAML `yes`/`true` would otherwise count as 1
        raise ValueError(f"expected a whole number but got {value!r}")
    return value


def _bandwidth_or_none(value: Any) -> float | None:
    if value is None:
        return None
    parsed = parse_bandwidth(value)  # UnitError is a ValueError: pydantic reports it as a field error
    if parsed <= 0:
        raise ValueError(f'expected a positive bandwidth like "400Gbps" or "900GB/s" but got {value!r}')
    return parsed


class ScaleOutSpec(BaseModel):
    """The network between hosts: one NIC per GPU, one leaf switch per rack, `spines` spine switches."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    nic_bandwidth: float | None = None
    """Bytes/s of each GPU's NIC, one direction; None = the GPU's catalog value."""
    leaf_uplink_bandwidth: float | None = Field(
        default=None, validation_alias=AliasChoices("leaf_uplink_bandwidth", "leaf_uplink"))
    """Bytes/s from each leaf to each spine; None = non-blocking (gpus_per_rack * nic / spines)."""
    spines: int = Field(default=2, ge=0)
    """Spine switches; 0 = a single leaf and no spine tier (only with racks: 1)."""
    nvlink_latency: float = 1e-6
    """Seconds GPU to GPU through the NVSwitch (one switch traversal)."""
    network_latency: float = Field(default=2e-6, validation_alias=AliasChoices("network_latency", "latency"))
    """Seconds per switch traversal on the scale-out network, NIC and PCIe included."""

    @field_validator("nic_bandwidth", "leaf_uplink_bandwidth", mode="before")
    @classmethod
    def _bandwidth(cls, value: Any) -> float | None:
        return _bandwidth_or_none(value)

    _spines_not_bool = field_validator("spines", mode="before")(_no_bool)

    @field_validator("nvlink_latency", "network_latency", mode="before")
    @classmethod
    def _latency(cls, value: Any) -> float:
        return parse_duration(value)


class FabricSpec(BaseModel):
    """A fleet fabric: `racks` x `hosts_per_rack` x `gpus_per_host` GPUs of one type.

    `nvlink_domain: host` gives each host its own NVSwitch (HGX boards); `rack` puts every GPU of a
    rack on one NVSwitch domain (GB200 NVL72).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("fabric", min_length=1)
    gpu: str = Field(min_length=1)
    """Catalog key ("h100-sxm"); checked against the catalog by the simulation wiring, not here."""
    racks: int = Field(ge=1)
    hosts_per_rack: int = Field(ge=1)
    gpus_per_host: int = Field(ge=1)
    nvlink_domain: Literal["host", "rack"] = "host"
    nvlink_bandwidth: float | None = None
    """Bytes/s per GPU into its NVSwitch, one direction; None = the GPU's catalog value."""
    scale_out: ScaleOutSpec = Field(default_factory=ScaleOutSpec)

    _counts_not_bool = field_validator("racks", "hosts_per_rack", "gpus_per_host", mode="before")(_no_bool)

    @field_validator("nvlink_bandwidth", mode="before")
    @classmethod
    def _bandwidth(cls, value: Any) -> float | None:
        return _bandwidth_or_none(value)

    @model_validator(mode="after")
    def _spine_tier(self) -> "FabricSpec":
        if self.scale_out.spines == 0 and self.racks > 1:
            raise ValueError(
                f"scale_out.spines: 0 means one leaf and no spine tier, which only connects racks: 1 "
                f"but racks is {self.racks}: set spines to 1 or more")
        return self

    @property
    def gpus_per_rack(self) -> int:
        return self.hosts_per_rack * self.gpus_per_host

    @property
    def n_gpus(self) -> int:
        return self.racks * self.gpus_per_rack

    @property
    def domain_size(self) -> int:
        """GPUs per NVLink domain."""
        return self.gpus_per_host if self.nvlink_domain == "host" else self.gpus_per_rack


def load_fabric_spec(data: Any) -> FabricSpec:
    """Validate a parsed fabric mapping; the first problem becomes a TopologyError naming its field.

    File reading and file:line locations are the scenario loader's job.
    """
    try:
        return FabricSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            model = ScaleOutSpec if len(err["loc"]) > 1 else FabricSpec
            allowed = [f.validation_alias.choices[0] if isinstance(f.validation_alias, AliasChoices) else n
                       for n, f in model.model_fields.items()]
            message = f"unknown field: {expected_one_of(err['loc'][-1], allowed)}"
        raise TopologyError(message, field=field) from None
