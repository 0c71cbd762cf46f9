"""Time distributions for failure processes: time between failures (`mtbf:`) and repair times (`repair:`).

YAML forms: a bare duration ("30m" = fixed repair, or an exponential MTBF with that mean), or a
mapping `{dist: exponential, mean: 30m}`, `{dist: weibull, mean: 1000h, shape: 0.8}`,
`{dist: lognormal, median: 20m, sigma: 1.0}` (or `mean:` instead of median), `{dist: uniform, min: 10m,
max: 1h}`, `{dist: fixed, value: 30m}`. Every value is seconds internally; draws come from the caller's
generator (the "fault-timing" stream), so a distribution holds no state.
"""
from __future__ import annotations

import math
from typing import Any, ClassVar, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from chaos.errors import expected_one_of
from chaos.units import format_duration, parse_duration

_FIELDS = {"fixed": {"value"}, "exponential": {"mean"}, "weibull": {"mean", "shape"},
           "lognormal": {"mean", "median", "sigma"}, "uniform": {"min", "max"}}
_NEEDS = {"fixed": ("value",), "exponential": ("mean",), "weibull": ("mean", "shape"),
          "lognormal": ("sigma",), "uniform": ("min", "max")}


class Distribution(BaseModel):
    """A distribution of durations in seconds; `sample(rng)` draws one, `mean_s` is its mean."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    allowed: ClassVar[tuple[str, ...]] = tuple(_FIELDS)
    bare: ClassVar[str] = "fixed"          # what a bare duration means

    dist: str
    value: Optional[float] = None
    mean: Optional[float] = None
    median: Optional[float] = None
    sigma: Optional[float] = None
    shape: Optional[float] = None
    min: Optional[float] = None
    max: Optional[float] = None

    @model_validator(mode="before")
    @classmethod
    def _bare_duration(cls, data: Any) -> Any:
        if isinstance(data, (str, int, float)) and not isinstance(data, bool):
            seconds = parse_duration(data)
            return {"dist": cls.bare, ("value" if cls.bare == "fixed" else "mean"): seconds}
        return data

    @field_validator("dist", mode="before")
    @classmethod
    def _dist(cls, v: Any) -> Any:
        if v not in cls.allowed:
            raise ValueError(expected_one_of(v, cls.allowed))
        return v

    @field_validator("value", "mean", "median", "min", "max", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("sigma", "shape")
    @classmethod
    def _positive(cls, v: Optional[float]) -> Optional[float]:
        if v is not None and not (v > 0 and math.isfinite(v)):
            raise ValueError(f"expected a positive number but got {v!r}")
        return v

    @model_validator(mode="after")
    def _check(self) -> "Distribution":
        d = self.dist
        given = {k for k in ("value", "mean", "median", "sigma", "shape", "min", "max") if getattr(self, k) is not None}
        extra = given - _FIELDS[d]
        if extra:
            raise ValueError(f"dist {d} does not use {', '.join(sorted(extra))}; it takes "
                             f"{', '.join(sorted(_FIELDS[d]))}")
        missing = [k for k in _NEEDS[d] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"dist {d} needs {' and '.join(missing)}")
        if d == "lognormal" and (self.mean is None) == (self.median is None):
            raise ValueError("dist lognormal: expected exactly one of mean or median")
        if d in ("exponential", "weibull", "lognormal"):
            center = self.mean if self.mean is not None else self.median
            if not center > 0:
                raise ValueError(f"dist {d}: expected a positive {'mean' if self.mean is not None else 'median'} "
                                 f"but got {center!r}")
        if d == "uniform" and not self.min <= self.max:
            raise ValueError(f"dist uniform: expected min <= max but got min={self.min!r}, max={self.max!r}")
        return self

    @property
    def mean_s(self) -> float:
        """Mean in seconds."""
        d = self.dist
        if d == "fixed":
            return float(self.value)
        if d in ("exponential", "weibull"):
            return float(self.mean)
        if d == "uniform":
            return (self.min + self.max) / 2
        if self.mean is not None:
            return float(self.mean)
        return float(self.median) * math.exp(self.sigma ** 2 / 2)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw in seconds (>= 0)."""
        d = self.dist
        if d == "fixed":
            return float(self.value)
        if d == "exponential":
            return float(rng.exponential(self.mean))
        if d == "weibull":
            # scale chosen so the mean is `mean`: E = scale * Gamma(1 + 1/k)
            scale = self.mean / math.gamma(1.0 + 1.0 / self.shape)
            return float(scale * rng.weibull(self.shape))
        if d == "uniform":
            return float(rng.uniform(self.min, self.max))
        mu = math.log(self.median) if self.median is not None else math.log(self.mean) - self.sigma ** 2 / 2
        return float(rng.lognormal(mu, self.sigma))

    def describe(self) -> str:
        """Short text for plans and journals: "exponential(mean 30m00s)"."""
        if self.dist == "fixed":
            return format_duration(self.value)
        parts = {"exponential": f"mean {format_duration(self.mean_s)}",
                 "weibull": f"mean {format_duration(self.mean_s)}, shape {self.shape}",
                 "uniform": f"{format_duration(self.min or 0)}..{format_duration(self.max or 0)}",
                 "lognormal": f"mean {format_duration(self.mean_s)}, sigma {self.sigma}"}
        return f"{self.dist}({parts[self.dist]})"


class RepairTime(Distribution):
    """How long a failed component stays down: a bare duration is a fixed repair time."""


class Lifetime(Distribution):
    """Time between failures of one component (MTBF): a bare duration is an exponential with that mean;
    `{dist: weibull, mean: ..., shape: k}` has k < 1 for infant mortality, k > 1 for wear-out."""

    allowed: ClassVar[tuple[str, ...]] = ("exponential", "weibull")
    bare: ClassVar[str] = "exponential"
