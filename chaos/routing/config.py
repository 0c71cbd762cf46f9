"""The `router:` section of a scenario: which policy routes requests, its knobs, and the resilience layer.

Everything below `overlap_weight` configures chaos.routing.resilience.ResilientRouter. Every field is
optional and the defaults switch the resilience layer off (no ejection, no timeout, no retries, no
hedging, no admission control), so a scenario without them routes exactly as the bare policy does.
Two network timeouts are always on, with Envoy's defaults, because every real proxy has them: a
connection to a host that does not answer (powered off, cut off: no RST comes back) fails after
`connect_timeout` (Envoy Cluster.connect_timeout, default 5s), and an open stream that receives no
byte for `stream_idle_timeout` is reset (Envoy HttpConnectionManager.stream_idle_timeout, default 5 min).

```yaml
router:
  policy: kv_aware
  outlier: {consecutive_errors: 5, ejection_time: 30s, max_ejection_percent: 50, max_ejection_time: 300s}
  timeout: 10s                  # first-token deadline of one attempt (none by default)
  deadline: 2m                  # end-to-end deadline of a request, all attempts included (none by default)
  retries: 2                    # retries after the first attempt (0 by default)
  backoff: {base: 100ms, max: 2s, multiplier: 2, jitter: 0.2}
  retry_budget: 0.2             # retries in flight <= max(min_retry_concurrency, 0.2 x active requests)
  min_retry_concurrency: 3
  connect_timeout: 5s           # a connect to a silent host fails after this (Envoy's default, 5s)
  stream_idle_timeout: 5m       # an open stream with no byte for this long is reset (Envoy's default, 5m)
  hedging: {delay: 500ms}       # a second copy when no first token after 500ms (off by default)
  admission: {max_queue: 64, max_predicted_ttft: 5s}   # either or both (off by default)
```
Durations accept "250ms", "30s", "5m" or a number of seconds. `health:` and `watchdog:` (active health
checks and the progress watchdog) belong to the detection room and are added to this section by the
scenario schema.
"""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaos.errors import expected_one_of
from chaos.routing.base import ROUTERS
from chaos.routing.tenancy import SheddingConfig
from chaos.units import format_duration, parse_duration


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _positive_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"expected a positive duration like \"100ms\" or \"30s\" but got {value!r}")
    return seconds


def _integer(value: object) -> object:
    if isinstance(value, bool):        # YAML `yes`/`true` would pass as 1 otherwise
        raise ValueError(f"expected an integer but got {value!r}")
    return value


class OutlierConfig(_Section):
    """Passive outlier detection (Envoy's consecutive_5xx): `consecutive_errors` errors in a row from a
    replica eject it for `ejection_time` x (number of times it was ejected in a row), capped at
    `max_ejection_time`; never more than `max_ejection_percent` of a pool is ejected at once."""

    consecutive_errors: int = Field(5, ge=1, description="errors in a row (no success between) that eject a replica")
    ejection_time: float = Field(30.0, description="base ejection time, seconds (Envoy base_ejection_time)")
    max_ejection_percent: float = Field(50.0, ge=0, le=100, description="at most this % of a pool ejected at once")
    max_ejection_time: Optional[float] = Field(None, description="cap of the growing ejection time; default "
                                                                  "300s (Envoy) or ejection_time if longer")

    @field_validator("consecutive_errors", mode="before")
    @classmethod
    def _integer(cls, value: object) -> object:
        return _integer(value)

    @field_validator("ejection_time", "max_ejection_time", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else _positive_duration(value)

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> "OutlierConfig":
        if self.max_ejection_time is not None and self.max_ejection_time < self.ejection_time:
            raise ValueError(f"max_ejection_time: {format_duration(self.max_ejection_time)} is shorter than "
                             f"ejection_time {format_duration(self.ejection_time)}; raise it or drop it")
        return self

    @property
    def max_ejection_time_s(self) -> float:
        """The effective cap, seconds."""
        return self.max_ejection_time if self.max_ejection_time is not None else max(300.0, self.ejection_time)


class BackoffConfig(_Section):
    """Delay before retry k (k = 0 for the first retry): min(max, base x multiplier^k) x (1 + jitter x u),
    u uniform in [-1, 1] from the "retry-jitter" stream."""

    base: float = Field(0.1, description="delay before the first retry, seconds")
    max: float = Field(2.0, description="cap of the exponential part, seconds")
    multiplier: float = Field(2.0, ge=1, le=100, description="growth per retry")
    jitter: float = Field(0.2, ge=0, le=1, description="relative spread: delay x (1 +- jitter)")

    @field_validator("base", "max", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return _positive_duration(value)

    @model_validator(mode="after")
    def _max_not_below_base(self) -> "BackoffConfig":
        if self.max < self.base:
            raise ValueError(f"max: {format_duration(self.max)} is shorter than base {format_duration(self.base)}; "
                             f"set max to at least the base")
        return self


class HedgingConfig(_Section):
    """Send a second copy of a request to another replica when it has no first token after `delay`."""

    delay: float = Field(..., description="seconds without a first token before the hedge is sent")

    @field_validator("delay", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float:
        return _positive_duration(value)


class AdmissionConfig(_Section):
    """Reject a request at the door (with a reason) rather than let it miss its SLO in a queue."""

    max_queue: Optional[int] = Field(None, ge=1, description="waiting requests on the replica a request would "
                                                            "join (the policy's pick), this one included")
    max_predicted_ttft: Optional[float] = Field(None, description="seconds; reject when the replica the policy "
                                                                   "picked predicts a later first token")

    @field_validator("max_queue", mode="before")
    @classmethod
    def _integer(cls, value: object) -> object:
        return _integer(value)

    @field_validator("max_predicted_ttft", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else _positive_duration(value)

    @model_validator(mode="after")
    def _some_limit(self) -> "AdmissionConfig":
        if self.max_queue is None and self.max_predicted_ttft is None:
            raise ValueError("admission needs max_queue, max_predicted_ttft or both "
                             "(drop admission: to admit every request)")
        return self


class RouterConfig(BaseModel):
    """Routing policy (a name registered in ROUTERS), the kv_aware weight, and the resilience layer."""

    model_config = ConfigDict(extra="forbid")

    policy: str = Field("least_outstanding", description="round_robin | random | least_outstanding | "
                                                          "power_of_two | kv_aware")
    overlap_weight: float = Field(1.0, ge=0.0, description="kv_aware: weight of prompt blocks to compute "
                                                           "against KV blocks in use")
    outlier: Optional[OutlierConfig] = Field(None, description="passive outlier ejection (off when omitted)")
    timeout: Optional[float] = Field(None, description="first-token deadline of one attempt, seconds")
    deadline: Optional[float] = Field(None, description="end-to-end deadline of a request, seconds")
    retries: int = Field(0, ge=0, le=100, description="retries after the first attempt")
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)
    retry_budget: float = Field(0.2, ge=0, le=1, description="retries in flight at most this fraction of "
                                                              "active requests (Envoy retry_budget)")
    min_retry_concurrency: int = Field(3, ge=0, description="retries in flight always allowed, whatever the "
                                                            "budget (Envoy min_retry_concurrency)")
    connect_timeout: float = Field(5.0, description="seconds a connection attempt to a silent host (powered "
                                                    "off, cut off) waits before it fails; Envoy's cluster "
                                                    "connect_timeout default is 5s")
    stream_idle_timeout: float = Field(300.0, description="seconds an open stream may go without a byte before "
                                                          "the proxy resets it; Envoy's HTTP connection manager "
                                                          "stream_idle_timeout default is 5 minutes")
    hedging: Optional[HedgingConfig] = Field(None, description="hedged second copy (off when omitted)")
    admission: Optional[AdmissionConfig] = Field(None, description="admission control (off when omitted)")
    shedding: Optional[SheddingConfig] = Field(None, description="priority-aware load shedding of tenants' "
                                                                 "requests (off when omitted)")

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        import chaos.routing.policies  # noqa: F401  (registers the built-in policies)
        if value not in ROUTERS:
            raise ValueError(expected_one_of(value, ROUTERS.names()))
        return value

    @field_validator("timeout", "deadline", "connect_timeout", "stream_idle_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value is None else _positive_duration(value)

    @field_validator("retries", "min_retry_concurrency", mode="before")
    @classmethod
    def _integer(cls, value: object) -> object:
        return _integer(value)

    @model_validator(mode="after")
    def _timeout_within_deadline(self) -> "RouterConfig":
        if self.timeout is not None and self.deadline is not None and self.timeout > self.deadline:
            raise ValueError(f"timeout: {format_duration(self.timeout)} is longer than the deadline "
                             f"{format_duration(self.deadline)}, so it could never fire; shorten it or drop it")
        return self
