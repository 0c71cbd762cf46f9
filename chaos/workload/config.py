"""The `workload:` section of a scenario: exactly one of `trace:` (replay a real trace) or `synthetic:`.

Quantities accept unit strings ("20/s", "30s", "10m") via chaos.units and are stored as SI floats.
Paths stay strings; the caller resolves them against the scenario file's folder (`base_dir`).
"""
from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from chaos.errors import WorkloadError, expected_one_of
from chaos.units import parse_duration, parse_rate

TRACE_FORMATS = ("mooncake", "azure")
_EXTENSIONS = {".jsonl": "mooncake", ".csv": "azure"}


def format_from_path(path: str, field: str = "workload.trace.format") -> str:
    """Trace format implied by the file extension: .jsonl -> mooncake, .csv -> azure."""
    for ext, fmt in _EXTENSIONS.items():
        if path.lower().endswith(ext):
            return fmt
    raise WorkloadError(
        f"cannot tell the trace format of {path!r} from its extension; expected a .jsonl (mooncake) "
        f"or .csv (azure) file, or set format: mooncake|azure", field=field)


def _duration(value: object, name: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TraceConfig(_Model):
    """Replay a recorded trace.

    time_scale speeds the replay up: arrival times are divided by it (2.0 = twice as fast, 0.5 = half
    speed). window [start, end] keeps requests whose *original* trace time falls in [start, end) and
    shifts them so the window starts at 0; then `sample` keeps each request with that probability
    (arrivals stream) and `limit` keeps the first N. Order: window, sample, limit, time_scale.
    """
    path: str
    format: Optional[Literal["mooncake", "azure"]] = None
    time_scale: float = 1.0
    window: Optional[tuple[float, float]] = None
    sample: float = 1.0
    limit: Optional[int] = None

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, v: object) -> object:
        if v is not None and v not in TRACE_FORMATS:
            raise ValueError(expected_one_of(v, TRACE_FORMATS))
        return v

    @field_validator("time_scale")
    @classmethod
    def _time_scale(cls, v: float) -> float:
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"expected a positive speed-up factor like 1.0 or 2.0 but got {v!r}")
        return v

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: object) -> object:
        if v is None:
            return v
        if not isinstance(v, (list, tuple)) or len(v) != 2:
            raise ValueError(f'expected [start, end] like ["0s", "10m"] but got {v!r}')
        start, end = (_duration(x, "window") for x in v)
        if end <= start:
            raise ValueError(f"expected window end > start but got {list(v)!r}")
        return (start, end)

    @field_validator("sample")
    @classmethod
    def _sample(cls, v: float) -> float:
        if not (0 < v <= 1):
            raise ValueError(f"expected a fraction in (0, 1] but got {v!r}")
        return v

    @field_validator("limit")
    @classmethod
    def _limit(cls, v: Optional[int]) -> Optional[int]:
        if v is not None and v < 1:
            raise ValueError(f"expected a positive number of requests but got {v!r}")
        return v

    @model_validator(mode="after")
    def _known_format(self) -> "TraceConfig":
        if self.format is None:
            format_from_path(self.path)   # fail at load time, where the scenario line is known
        return self

    def resolved_format(self) -> str:
        """The explicit format, or the one the extension implies."""
        return self.format or format_from_path(self.path)


class LengthDist(_Model):
    """A token-length distribution; every draw is rounded and clamped to >= 1 (and to [min, max] if set).

    fixed: value. uniform: integers in [min, max]. lognormal: (mean or median) and (sigma or cv), where
    sigma is the standard deviation of ln(tokens) and cv the coefficient of variation of tokens.
    empirical: draws (with replacement) values of `column` (input|output; default: the side this
    distribution is for) from the trace file `trace` (format by extension).
    """
    dist: Literal["fixed", "uniform", "lognormal", "empirical"]
    value: Optional[int] = None
    min: Optional[int] = None
    max: Optional[int] = None
    mean: Optional[float] = None
    median: Optional[float] = None
    sigma: Optional[float] = None
    cv: Optional[float] = None
    trace: Optional[str] = None
    column: Optional[Literal["input", "output"]] = None

    @field_validator("dist", mode="before")
    @classmethod
    def _dist(cls, v: object) -> object:
        allowed = ("fixed", "uniform", "lognormal", "empirical")
        if v not in allowed:
            raise ValueError(expected_one_of(v, allowed))
        return v

    @model_validator(mode="after")
    def _check(self) -> "LengthDist":
        d = self.dist
        given = {k for k in ("value", "min", "max", "mean", "median", "sigma", "cv", "trace", "column")
                 if getattr(self, k) is not None}
        allowed = {"fixed": {"value"}, "uniform": {"min", "max"},
                   "lognormal": {"mean", "median", "sigma", "cv", "min", "max"},
                   "empirical": {"trace", "column"}}[d]
        extra = given - allowed
        if extra:
            raise ValueError(f"dist {d} does not use {', '.join(sorted(extra))}; "
                             f"it takes {', '.join(sorted(allowed))}")
        if d == "fixed":
            if self.value is None or self.value < 1:
                raise ValueError(f"dist fixed: expected value >= 1 tokens but got value={self.value!r}")
        elif d == "uniform":
            if self.min is None or self.max is None or not (1 <= self.min <= self.max):
                raise ValueError(f"dist uniform: expected 1 <= min <= max but got min={self.min!r}, "
                                 f"max={self.max!r}")
        elif d == "lognormal":
            if (self.mean is None) == (self.median is None):
                raise ValueError("dist lognormal: expected exactly one of mean or median")
            if (self.sigma is None) == (self.cv is None):
                raise ValueError("dist lognormal: expected exactly one of sigma or cv")
            center = self.mean if self.mean is not None else self.median
            if not center > 0:
                raise ValueError(f"dist lognormal: expected a positive mean/median but got {center!r}")
            spread = self.sigma if self.sigma is not None else self.cv
            if not spread >= 0:
                raise ValueError(f"dist lognormal: expected sigma/cv >= 0 but got {spread!r}")
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"dist lognormal: expected min <= max but got min={self.min}, max={self.max}")
        elif d == "empirical":
            if not self.trace:
                raise ValueError("dist empirical: expected trace: <path to a .jsonl or .csv trace>")
        return self


class PrefixConfig(_Model):
    """Shared-prefix model: each request joins one of `groups` groups (uniformly) whose first `tokens`
    prompt tokens are identical, so their leading hash blocks match and a prefix cache can hit."""
    groups: int
    tokens: int

    @model_validator(mode="after")
    def _check(self) -> "PrefixConfig":
        if self.groups < 1:
            raise ValueError(f"prefix.groups: expected >= 1 but got {self.groups!r}")
        if self.tokens < 0:
            raise ValueError(f"prefix.tokens: expected >= 0 but got {self.tokens!r}")
        return self


class SyntheticConfig(_Model):
    """Generated requests. Open-loop arrivals (poisson, gamma with burstiness cv, constant) at `rate`
    stop at `duration` (or the scenario's) or after `requests`; closed_loop keeps `concurrency`
    users each sending a request, waiting for its completion, then thinking `think_time`."""
    arrival: Literal["poisson", "gamma", "constant", "closed_loop"]
    rate: Optional[float] = None
    cv: float = 2.0
    concurrency: Optional[int] = None
    think_time: float = 0.0
    requests: Optional[int] = None
    duration: Optional[float] = None
    input: LengthDist
    output: LengthDist
    prefix: Optional[PrefixConfig] = None
    hash_block_tokens: int = 512

    @field_validator("arrival", mode="before")
    @classmethod
    def _arrival(cls, v: object) -> object:
        allowed = ("poisson", "gamma", "constant", "closed_loop")
        if v not in allowed:
            raise ValueError(expected_one_of(v, allowed))
        return v

    @field_validator("rate", mode="before")
    @classmethod
    def _rate(cls, v: object) -> object:
        if v is None:
            return v
        try:
            r = parse_rate(v)
        except ValueError:
            r = -1.0
        if not r > 0:
            raise ValueError(f"expected a positive rate like '20/s' but got {v!r}")
        return r

    @field_validator("cv")
    @classmethod
    def _cv(cls, v: float) -> float:
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"expected a positive coefficient of variation like 2.0 but got {v!r}")
        return v

    @field_validator("think_time", "duration", mode="before")
    @classmethod
    def _dur(cls, v: object) -> object:
        return None if v is None else parse_duration(v)

    @field_validator("requests", "concurrency", "hash_block_tokens")
    @classmethod
    def _positive(cls, v: Optional[int]) -> Optional[int]:
        if v is not None and v < 1:
            raise ValueError(f"expected a positive integer but got {v!r}")
        return v

    @model_validator(mode="after")
    def _check(self) -> "SyntheticConfig":
        if self.arrival == "closed_loop":
            if self.concurrency is None:
                raise ValueError("arrival closed_loop: expected concurrency: <number of users>")
        elif self.rate is None:
            raise ValueError(f"arrival {self.arrival}: expected rate like '20/s'")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration: expected a positive duration but got {self.duration!r}")
        return self


class WorkloadConfig(_Model):
    """`workload:` — exactly one of `trace:` or `synthetic:`. `trace: path.jsonl` is short for
    `trace: {path: path.jsonl}`."""
    trace: Optional[TraceConfig] = None
    synthetic: Optional[SyntheticConfig] = None

    @field_validator("trace", mode="before")
    @classmethod
    def _path_shorthand(cls, value: object) -> object:
        return {"path": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one(self) -> "WorkloadConfig":
        if (self.trace is None) == (self.synthetic is None):
            raise ValueError("expected exactly one of trace: or synthetic:")
        return self
