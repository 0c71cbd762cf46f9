"""Metrics sections of a scenario.

`slo:` `{ttft_p99: 2s, tpot_p99: 100ms}` (`ttft`/`tpot` accepted too) -> SloConfig
`steady_state:` a list of probes `{probe: ttft_p99, window: 30s, max: 2s, phases: [before, after]}`
                -> list[ProbeConfig]; HypothesisConfig holds the evaluation's settle/warmup times
ResilienceConfig: windows, tolerances and cliff thresholds of the resilience analysis.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from chaos.errors import expected_one_of
from chaos.metrics.probes import PROBES
from chaos.metrics.summary import Slo
from chaos.units import parse_duration, parse_rate

_ALIASES = {"ttft_p99": "ttft", "tpot_p99": "tpot", "ttft": "ttft", "tpot": "tpot"}


def _slo_aliases_in_schema(schema: dict) -> None:
    """The JSON schema accepts what the validator accepts: durations as text and the `_p99` spellings."""
    props = schema.get("properties", {})
    for name in ("ttft", "tpot"):
        if name in props:        # a duration like "2s" or a number of seconds (the validator parses both)
            props[name] = {"anyOf": [{"type": "string", "examples": ["250ms", "2s"]}, {"type": "number", "minimum": 0},
                                     {"type": "null"}], "default": None}
            props[f"{name}_p99"] = dict(props[name])


class SloConfig(BaseModel):
    """Per-request latency targets in seconds (None = no target). A request meets the SLO when its
    TTFT and TPOT are within them; `_p99` in the key is the usual name, the check is per request."""
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_slo_aliases_in_schema)

    ttft: Optional[float] = None
    tpot: Optional[float] = None

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping like {{ttft_p99: 2s, tpot_p99: 100ms}} but got {data!r}")
        out: dict[str, object] = {}
        for key, value in data.items():
            name = _ALIASES.get(key)
            if name is None:
                out[key] = value  # let extra="forbid" name it
                continue
            if name in out:
                raise ValueError(f"{key}: the {name} target is given twice (use one of {name}, {name}_p99)")
            out[name] = None if value is None else parse_duration(value)
        return out

    def to_slo(self) -> Slo:
        return Slo(ttft_s=self.ttft, tpot_s=self.tpot)


# ---------------------------------------------------------------------------------------------------
# steady_state: probes with tolerances, evaluated per phase and window (chaos.metrics.steady)

PHASES = ("before", "during", "after")
_NUMBER_OR_TEXT = {"anyOf": [{"type": "number"}, {"type": "string"}]}


def _parse_fraction(value: object) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100.0
        except ValueError:
            number = math.nan
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise ValueError(f'expected a fraction between 0 and 1 like 0.95 or "95%" but got {value!r}')
    return number


def _parse_count(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
        raise ValueError(f"expected a whole number of requests >= 0 but got {value!r}")
    return float(value)


def _parse_gauge(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a number >= 0 but got {value!r}")
    return float(value)


def _parse_ratio(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"expected a positive ratio to the baseline like 0.7 or 1.5 but got {value!r}")
    return float(value)


_PARSE_BY_KIND = {"latency": parse_duration, "rate": parse_rate, "fraction": _parse_fraction,
                  "count": _parse_count, "gauge": _parse_gauge}
_EXAMPLE_BY_KIND = {"latency": '"2s" or "250ms"', "rate": '"5000/s" or 5000', "fraction": '0.95 or "95%"',
                    "count": "0", "gauge": "100"}
_BOUNDS = ("max", "min", "range")
_RATIOS = ("max_ratio_to_baseline", "min_ratio_to_baseline")


class ProbeConfig(BaseModel):
    """One entry of `steady_state:` — a probe, where and how often it is checked, and its tolerance.

    `{probe: ttft_p99, window: 30s, max: 2s, phases: [before, after]}`
      probe    one of chaos.metrics.probes.PROBES (ttft_p99, throughput_tok_s, requests_failed, ...)
      window   check the probe on back-to-back windows of this length inside each phase span;
               omitted = one check over the whole span (one per fault window for `during`)
      phases   subset of before, during, after (default all three)
    Tolerance: absolute bounds (`max`, `min`, both, or `range: [lo, hi]`) or bounds relative to the
    baseline twin's value in the same window (`max_ratio_to_baseline`, `min_ratio_to_baseline`, or
    both), not a mix. Bounds are in the probe's unit: durations for latencies ("2s"), rates for
    throughputs ("5000/s" or a number per second), 0..1 or "95%" for slo_attainment, whole numbers
    for request counts. Bounds are inclusive and stored in SI units; `lower`/`upper` give the
    effective absolute bounds whichever way they were written.
    """
    model_config = ConfigDict(extra="forbid", frozen=True)

    probe: Annotated[str, WithJsonSchema({"type": "string", "enum": sorted(PROBES)})]
    window: Optional[Annotated[float, WithJsonSchema(
        {"anyOf": [{"type": "string", "examples": ["10s", "30s", "1m"]}, {"type": "number", "exclusiveMinimum": 0}],
         "description": "window length, a duration like \"30s\" (default: the whole phase)"})]] = None
    phases: tuple[Literal["before", "during", "after"], ...] = PHASES
    max: Optional[Annotated[float, WithJsonSchema(_NUMBER_OR_TEXT)]] = None
    min: Optional[Annotated[float, WithJsonSchema(_NUMBER_OR_TEXT)]] = None
    range: Optional[Annotated[tuple[float, float], WithJsonSchema(
        {"type": "array", "items": _NUMBER_OR_TEXT, "minItems": 2, "maxItems": 2})]] = None
    max_ratio_to_baseline: Optional[Annotated[float, Field(gt=0)]] = None
    min_ratio_to_baseline: Optional[Annotated[float, Field(gt=0)]] = None
    tenant: Optional[str] = None
    """Judge only this tenant's requests (a name from tenants:), with its own slo:."""

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: object) -> object:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping like {{probe: ttft_p99, window: 30s, max: 2s}} but got {data!r}")
        name = data.get("probe")
        if name is None:
            raise ValueError(f"probe: missing; expected one of {', '.join(sorted(PROBES))}")
        if not isinstance(name, str) or name not in PROBES:
            raise ValueError(f"probe: {expected_one_of(name, PROBES)}")
        kind = PROBES[name].kind
        parse = _PARSE_BY_KIND[kind]
        out = dict(data)
        for key in ("max", "min"):
            if out.get(key) is not None:
                out[key] = _keyed(key, parse, out[key], kind)
        if out.get("range") is not None:
            rng = out["range"]
            if not isinstance(rng, (list, tuple)) or len(rng) != 2:
                raise ValueError(f"range: expected [lo, hi] like [{_EXAMPLE_BY_KIND[kind]}, ...] but got {rng!r}")
            out["range"] = (_keyed("range[0]", parse, rng[0], kind), _keyed("range[1]", parse, rng[1], kind))
        for key in _RATIOS:
            if out.get(key) is not None:
                out[key] = _keyed(key, lambda v: _parse_ratio(v), out[key], kind)
        if out.get("window") is not None:
            window = _keyed("window", parse_duration, out["window"], "latency")
            if not window > 0:
                raise ValueError(f'window: expected a positive duration like "30s" but got {out["window"]!r}')
            out["window"] = window
        if isinstance(out.get("phases"), str):
            out["phases"] = [out["phases"]]
        return out

    @model_validator(mode="after")
    def _one_kind(self) -> "ProbeConfig":
        absolute = [k for k in _BOUNDS if getattr(self, k) is not None]
        ratio = [k for k in _RATIOS if getattr(self, k) is not None]
        if not absolute and not ratio:
            raise ValueError(f"probe {self.probe} has no tolerance; give one of max, min, range, "
                             f"max_ratio_to_baseline, min_ratio_to_baseline")
        if absolute and ratio:
            raise ValueError(f"{ratio[0]}: a probe takes absolute bounds ({', '.join(absolute)}) or bounds "
                             f"relative to the baseline, not both; write two probes")
        if self.range is not None and (self.min is not None or self.max is not None):
            raise ValueError("range: give range: [lo, hi] or min/max, not both")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            key = "range" if self.range is not None else "min"
            raise ValueError(f"{key}: the lower bound {self.lower!r} is above the upper bound {self.upper!r}")
        lo_r, hi_r = self.min_ratio_to_baseline, self.max_ratio_to_baseline
        if lo_r is not None and hi_r is not None and lo_r > hi_r:
            raise ValueError(f"min_ratio_to_baseline: {lo_r!r} is above max_ratio_to_baseline {hi_r!r}")
        if not self.phases:
            raise ValueError("phases: expected at least one of before, during, after")
        if self.tenant is not None and PROBES[self.probe].needs == "tenants":
            raise ValueError(f"tenant: {self.probe} compares tenants with each other; it takes no tenant:")
        if len(set(self.phases)) != len(self.phases):
            raise ValueError(f"phases: each phase once, got {list(self.phases)}")
        return self

    @property
    def lower(self) -> Optional[float]:
        """The absolute lower bound in SI units (`min` or `range[0]`), None without one."""
        return self.range[0] if self.range is not None else self.min

    @property
    def upper(self) -> Optional[float]:
        """The absolute upper bound in SI units (`max` or `range[1]`), None without one."""
        return self.range[1] if self.range is not None else self.max

    @property
    def relative(self) -> bool:
        """True when the tolerance is relative to the baseline twin."""
        return self.min_ratio_to_baseline is not None or self.max_ratio_to_baseline is not None


def _keyed(key: str, parse, value: object, kind: str) -> float:
    try:
        return parse(value)
    except ValueError as exc:  # UnitError is a ValueError
        message = getattr(exc, "message", None) or str(exc)
        raise ValueError(f"{key}: {message}") from None


class HypothesisConfig(BaseModel):
    """Settings of the steady-state evaluation as a whole (chaos.metrics.steady).

    settle: time after the last fault ends before the `after` phase starts (default 60s);
            also the length of an instant fault's `during` window (a crash with no duration).
    warmup: the `before` phase starts here instead of at 0, so an empty fleet filling up is not
            judged (default 0s).
    """
    model_config = ConfigDict(extra="forbid", frozen=True)

    settle: Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}], "examples": ["60s", "2m"]})] = 60.0
    warmup: Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(
        {"anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}], "examples": ["0s", "30s"]})] = 0.0


class ResilienceConfig(BaseModel):
    """Settings of the resilience analysis against the baseline twin (chaos.metrics.resilience).

    window: length of the windows throughput and TTFT p99 are compared on (default 10s).
    recovery_windows: how many consecutive windows must be within tolerance to call a fault
            recovered (default 3).
    throughput_tolerance: a window is within tolerance when its throughput is at least
            (1 - this) x the baseline's (default 0.2).
    ttft_factor: ... and its TTFT p99 at most this x the baseline's (default 1.5).
    cliff_drop: a throughput drop larger than this fraction ... (default 0.5)
    cliff_within: ... within this time is a cliff (default 10s).
    cliff_ttft_factor: a TTFT p99 rise by more than this factor within cliff_within is a cliff too
            (default 3).
    """
    model_config = ConfigDict(extra="forbid", frozen=True)

    window: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 10.0
    recovery_windows: Annotated[int, Field(ge=1)] = 3
    throughput_tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.2
    ttft_factor: Annotated[float, Field(ge=1)] = 1.5
    cliff_drop: Annotated[float, Field(gt=0, lt=1)] = 0.5
    cliff_within: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 10.0
    cliff_ttft_factor: Annotated[float, Field(gt=1)] = 3.0
