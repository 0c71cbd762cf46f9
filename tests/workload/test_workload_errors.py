"""Bad workload input gives a WorkloadError / validation error naming the field, value and what is allowed."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chaos.errors import WorkloadError
from chaos.workload import WorkloadConfig, build_workload

FIXED = {"dist": "fixed", "value": 10}


def build(body: dict, base_dir: Path, duration_s=None):
    return build_workload(WorkloadConfig(**body), seed=0, base_dir=base_dir, duration_s=duration_s)


CASES = [
    ("negative-rate", {"synthetic": {"arrival": "poisson", "rate": "-3/s", "input": FIXED, "output": FIXED}},
     "expected a positive rate like '20/s' but got '-3/s'"),
    ("zero-rate", {"synthetic": {"arrival": "poisson", "rate": "0/s", "input": FIXED, "output": FIXED}},
     "positive rate"),
    ("cv-zero", {"synthetic": {"arrival": "gamma", "rate": 1, "cv": 0, "input": FIXED, "output": FIXED}},
     "positive coefficient of variation"),
    ("cv-negative", {"synthetic": {"arrival": "gamma", "rate": 1, "cv": -1, "input": FIXED, "output": FIXED}},
     "but got -1"),
    ("unknown-arrival", {"synthetic": {"arrival": "poison", "rate": 1, "input": FIXED, "output": FIXED}},
     "did you mean poisson"),
    ("unknown-format", {"trace": {"path": "x.jsonl", "format": "sharegpt"}}, "expected one of azure, mooncake"),
    ("unknown-dist", {"synthetic": {"arrival": "poisson", "rate": 1, "input": {"dist": "normal"}, "output": FIXED}},
     "expected one of empirical, fixed, lognormal, uniform"),
    ("both-sources", {"trace": {"path": "a.csv"}, "synthetic": {"arrival": "poisson", "rate": 1,
                                                                "input": FIXED, "output": FIXED}},
     "exactly one of trace: or synthetic:"),
    ("extra-key", {"trace": {"path": "a.csv", "speed": 2}}, "speed"),
    ("time-scale-zero", {"trace": {"path": "a.csv", "time_scale": 0}}, "positive speed-up"),
    ("sample-over-one", {"trace": {"path": "a.csv", "sample": 1.5}}, r"fraction in \(0, 1\]"),
    ("window-backwards", {"trace": {"path": "a.csv", "window": ["10m", "5m"]}}, "end > start"),
    ("closed-loop-no-concurrency", {"synthetic": {"arrival": "closed_loop", "input": FIXED, "output": FIXED}},
     "concurrency"),
    ("lognormal-two-centres", {"synthetic": {"arrival": "poisson", "rate": 1, "output": FIXED,
                                             "input": {"dist": "lognormal", "mean": 5, "median": 5, "sigma": 1}}},
     "exactly one of mean or median"),
    ("fixed-with-min", {"synthetic": {"arrival": "poisson", "rate": 1, "output": FIXED,
                                      "input": {"dist": "fixed", "value": 5, "min": 1}}}, "does not use min"),
    ("unknown-extension", {"trace": {"path": "trace.parquet"}}, r"\.jsonl \(mooncake\) or \.csv \(azure\)"),
]


@pytest.mark.parametrize("body,match", [pytest.param(b, m, id=i) for i, b, m in CASES])
def test_bad_config(body, match):
    with pytest.raises(ValidationError, match=match):
        WorkloadConfig(**body)


def test_missing_file_names_resolved_path(tmp_path):
    with pytest.raises(WorkloadError) as info:
        build({"trace": {"path": "nope/trace.jsonl"}}, tmp_path)
    assert str(tmp_path / "nope" / "trace.jsonl") in str(info.value)
    assert info.value.field == "workload.trace.path"


def test_malformed_json_line_has_line_number(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"timestamp": 0, "input_length": 5, "output_length": 3, "hash_ids": [1]}\n'
                 '{"timestamp": 10, "input_length": 5,\n')
    with pytest.raises(WorkloadError) as info:
        build({"trace": {"path": "t.jsonl"}}, tmp_path)
    assert info.value.line == 2
    assert f"{p}:2: workload.trace.path: malformed Mooncake line" in str(info.value)


def test_missing_key_line(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"timestamp": 0, "input_len": 5, "output_length": 3}\n')
    with pytest.raises(WorkloadError, match="input_length"):
        build({"trace": {"path": "t.jsonl"}}, tmp_path)


def test_bad_csv_columns(tmp_path):
    (tmp_path / "t.csv").write_text("time,ctx,gen\n2023-11-16 18:17:03.9799600,1,2\n")
    with pytest.raises(WorkloadError, match="bad column names: expected columns TIMESTAMP, ContextTokens"):
        build({"trace": {"path": "t.csv"}}, tmp_path)


def test_bad_csv_row(tmp_path):
    (tmp_path / "t.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                    "2023-11-16 18:17:03.9799600,1,2\n2023-11-16 18:17:04.0,abc,2\n")
    with pytest.raises(WorkloadError) as info:
        build({"trace": {"path": "t.csv"}}, tmp_path)
    assert info.value.line == 3


def test_bad_timestamp(tmp_path):
    (tmp_path / "t.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                    "2023-11-16 18:17:03.9799600,1,2\nyesterday,3,2\n")
    with pytest.raises(WorkloadError, match="yesterday") as info:
        build({"trace": {"path": "t.csv"}}, tmp_path)
    assert info.value.line == 3


def test_zero_output_clamped(tmp_path):
    (tmp_path / "t.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                    "2023-11-16 18:17:03.9799600,100,0\n2023-11-16 18:17:04.5,50,7\n")
    w = build({"trace": {"path": "t.csv"}}, tmp_path)
    assert w.output_tokens.tolist() == [1, 7]
    assert w.arrival_s.tolist() == pytest.approx([0.0, 0.52004])


def test_empty_after_window(tmp_path):
    (tmp_path / "t.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,1,2\n")
    with pytest.raises(WorkloadError, match="no requests left"):
        build({"trace": {"path": "t.csv", "window": ["1h", "2h"]}}, tmp_path)


def test_synthetic_needs_a_stop(tmp_path):
    with pytest.raises(WorkloadError, match="requests: N or a duration"):
        build({"synthetic": {"arrival": "poisson", "rate": 1, "input": FIXED, "output": FIXED}}, tmp_path)


def test_empirical_missing_trace(tmp_path):
    body = {"synthetic": {"arrival": "poisson", "rate": 1, "requests": 3, "output": FIXED,
                          "input": {"dist": "empirical", "trace": "gone.jsonl"}}}
    with pytest.raises(WorkloadError, match="gone.jsonl") as info:
        build(body, tmp_path)
    assert info.value.field == "workload.synthetic.input.trace"


def test_a_trace_path_alone_is_short_for_trace_path():
    from chaos.workload.config import WorkloadConfig
    assert WorkloadConfig.model_validate({"trace": "t.jsonl"}).trace.path == "t.jsonl"
