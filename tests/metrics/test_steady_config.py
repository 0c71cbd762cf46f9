"""steady_state probe configs: units per probe kind, tolerance kinds, bad input with readable ids."""
from __future__ import annotations

import json

import pytest
import yaml
from pydantic import ValidationError

from chaos.metrics import PROBES
from chaos.metrics.config import HypothesisConfig, ProbeConfig, ResilienceConfig

EXAMPLE = """
steady_state:
  - {probe: ttft_p99, window: 30s, max: 2s, phases: [before, after]}
  - {probe: throughput_tok_s, window: 30s, min_ratio_to_baseline: 0.7, phases: [during]}
  - {probe: requests_failed, max: 0}
  - {probe: tpot_p50, range: [10ms, 80ms]}
  - {probe: slo_attainment, window: 1m, min: 95%}
  - {probe: throughput_rps, min: 10/s, max: 30}
  - {probe: e2e_p99, max_ratio_to_baseline: 1.5, min_ratio_to_baseline: 0.5}
  - {probe: replicas_up_min, min: 4, phases: after}
"""


def test_example_parses_to_si_units():
    probes = [ProbeConfig(**p) for p in yaml.safe_load(EXAMPLE)["steady_state"]]
    assert probes[0].window == 30.0 and probes[0].upper == 2.0 and probes[0].phases == ("before", "after")
    assert probes[1].relative and probes[1].min_ratio_to_baseline == 0.7 and probes[1].lower is None
    assert probes[2].upper == 0 and probes[2].window is None and probes[2].phases == ("before", "during", "after")
    assert (probes[3].lower, probes[3].upper) == pytest.approx((0.01, 0.08))
    assert probes[4].lower == pytest.approx(0.95) and probes[4].window == 60.0
    assert (probes[5].lower, probes[5].upper) == (10.0, 30.0)
    assert (probes[6].min_ratio_to_baseline, probes[6].max_ratio_to_baseline) == (0.5, 1.5)
    assert probes[7].phases == ("after",)


def test_round_trip_of_dump():
    p = ProbeConfig(probe="throughput_tok_s", range=["100/s", 5000])
    assert ProbeConfig(**p.model_dump()) == p


def test_schema_lists_probe_names():
    schema = ProbeConfig.model_json_schema()
    assert schema["properties"]["probe"]["enum"] == sorted(PROBES)
    assert schema["additionalProperties"] is False
    json.dumps(HypothesisConfig.model_json_schema())


def test_hypothesis_and_resilience_settings():
    assert HypothesisConfig().settle == 60.0 and HypothesisConfig(settle="2m", warmup="30s").warmup == 30.0
    r = ResilienceConfig(window="5s", cliff_within="20s")
    assert (r.window, r.cliff_within, r.recovery_windows) == (5.0, 20.0, 3)
    with pytest.raises(ValidationError):
        HypothesisConfig(settel="1m")


BAD = [
    ("unknown-probe", {"probe": "ttft_p98", "max": "1s"}, r"expected one of .* but got 'ttft_p98' \(did you mean ttft_p99\?\)"),
    ("missing-probe", {"max": "1s"}, r"probe: missing"),
    ("no-tolerance", {"probe": "ttft_p99"}, r"has no tolerance"),
    ("bad-duration", {"probe": "ttft_p99", "max": "2 parsecs"}, r"max: expected a duration"),
    ("rate-for-latency", {"probe": "ttft_p99", "max": "20/s"}, r"max: expected a duration"),
    ("duration-for-rate", {"probe": "throughput_rps", "min": "2s"}, r"min: expected a rate"),
    ("fraction-above-one", {"probe": "slo_attainment", "min": 1.5}, r"min: expected a fraction"),
    ("fractional-count", {"probe": "requests_failed", "max": 0.5}, r"max: expected a whole number"),
    ("negative-count", {"probe": "requests_lost", "max": -1}, r"max: expected a whole number"),
    ("mixed-kinds", {"probe": "ttft_p99", "max": 1, "max_ratio_to_baseline": 2}, r"not both"),
    ("range-and-max", {"probe": "ttft_p99", "range": ["1s", "2s"], "max": "3s"}, r"range: .*not both"),
    ("range-one-item", {"probe": "ttft_p99", "range": ["1s"]}, r"range: expected \[lo, hi\]"),
    ("range-reversed", {"probe": "ttft_p99", "range": ["2s", "1s"]}, r"range: the lower bound"),
    ("min-above-max", {"probe": "ttft_p99", "min": "2s", "max": "1s"}, r"min: the lower bound"),
    ("ratios-reversed", {"probe": "ttft_p99", "min_ratio_to_baseline": 2, "max_ratio_to_baseline": 1},
     r"min_ratio_to_baseline: 2"),
    ("zero-ratio", {"probe": "ttft_p99", "max_ratio_to_baseline": 0}, r"positive ratio"),
    ("zero-window", {"probe": "ttft_p99", "max": 1, "window": "0s"}, r"window: expected a positive duration"),
    ("unknown-phase", {"probe": "ttft_p99", "max": 1, "phases": ["durin"]}, r"'before', 'during' or 'after'"),
    ("no-phase", {"probe": "ttft_p99", "max": 1, "phases": []}, r"at least one"),
    ("phase-twice", {"probe": "ttft_p99", "max": 1, "phases": ["after", "after"]}, r"each phase once"),
    ("unknown-key", {"probe": "ttft_p99", "max": 1, "maximum": 2}, r"[Ee]xtra"),
    ("not-a-mapping", "ttft_p99 < 2s", r"expected a mapping"),
]


@pytest.mark.parametrize("data, match", [pytest.param(d, m, id=i) for i, d, m in BAD])
def test_bad_probe(data, match):
    with pytest.raises(ValidationError, match=match):
        ProbeConfig.model_validate(data)
