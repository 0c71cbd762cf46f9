"""Readers of measured runs, on small files written in each tool's documented format."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from chaos.metrics import Status
from chaos.verify import MeasuredError, read_measured
from chaos.verify.aiperf_export import ClientRecord, write_profile_export

# The successful and the failed record of AIPerf's docs/tutorials/working-with-profile-exports.md
AIPERF_OK = {
    "metadata": {"session_num": 45, "x_request_id": "7609a2e7", "x_correlation_id": "32ee4f33",
                 "conversation_id": "77aa5b0e", "turn_index": 0, "request_start_ns": 1759813207532900363,
                 "request_ack_ns": 1759813207650730976, "request_end_ns": 1759813207838764604,
                 "worker_id": "worker_359d423a", "record_processor_id": "record_processor_1fa47cd7",
                 "benchmark_phase": "profiling", "was_cancelled": False, "cancellation_time_ns": None},
    "metrics": {"input_sequence_length": {"value": 550, "unit": "tokens"},
                "time_to_first_token": {"value": 255.88656799999998, "unit": "ms"},
                "request_latency": {"value": 297.52522799999997, "unit": "ms"},
                "output_token_count": {"value": 9, "unit": "tokens"},
                "inter_chunk_latency": {"value": [4.898437, 5.316006, 4.801489, 5.674918, 4.811467, 5.097998,
                                                  5.504797, 5.533548], "unit": "ms"},
                "output_sequence_length": {"value": 9, "unit": "tokens"},
                "inter_token_latency": {"value": 5.2048325, "unit": "ms"},
                "output_token_throughput_per_user": {"value": 192.1291415237666, "unit": "tokens/sec/user"}},
    "error": None,
}
AIPERF_FAILED = {
    "metadata": {"session_num": 80, "x_request_id": "c35e4b1b", "x_correlation_id": "77ecf78d",
                 "conversation_id": "9526b41d", "turn_index": 0, "request_start_ns": 1759813207632900363,
                 "request_ack_ns": None, "request_end_ns": 1759813207633525291, "worker_id": "worker_6006099d",
                 "record_processor_id": "record_processor_fdeeec8f", "benchmark_phase": "profiling",
                 "was_cancelled": True, "cancellation_time_ns": 1759813207633525291},
    "metrics": {"error_isl": {"value": 550, "unit": "tokens"}},
    "error": {"code": 499, "type": "RequestCancellationError", "message": "Request was cancelled after 0.000 seconds"},
}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_aiperf_documented_records(tmp_path):
    warm = json.loads(json.dumps(AIPERF_OK))
    warm["metadata"]["benchmark_phase"] = "warmup"
    m = read_measured(write_jsonl(tmp_path / "profile_export.jsonl", [warm, AIPERF_OK, AIPERF_FAILED]))
    log = m.log
    assert m.source == "aiperf" and len(log) == 2             # the warmup record is not counted
    assert log.counts() == {"arrived": 2, "completed": 1, "failed": 1, "rejected": 0, "in_flight": 0}
    assert log.arrival_s.tolist() == [0.0, pytest.approx(0.1)]
    assert log.ttft_s()[0] == pytest.approx(0.25588656799999998)
    assert log.e2e_s()[0] == pytest.approx(0.297525228)
    assert log.generated_tokens[0] == 9 and log.input_tokens.tolist() == [550, 550]
    # TPOT = (latency - TTFT) / (tokens - 1)
    assert log.tpot_s()[0] == pytest.approx((0.297525228 - 0.255886568) / 8)
    assert "RequestCancellationError (499)" in log.reason[1]
    assert m.itl.gaps_s.tolist() == pytest.approx([g / 1000 for g in AIPERF_OK["metrics"]["inter_chunk_latency"]["value"]])


def test_aiperf_round_trip_with_our_writer(tmp_path):
    base = 1_700_000_000_000_000_000
    recs = [ClientRecord(base, base + 500_000_000, 100, 11, base + 1_000_000,
                         [base + 100_000_000 + 40_000_000 * k for k in range(11)]),
            ClientRecord(base + 2_000_000_000, base + 2_000_001_000, 100, error_code=503, error_type="HTTPStatusError",
                         error_message="no healthy replica")]
    m = read_measured(write_profile_export(recs, tmp_path / "p.jsonl"))
    assert m.log.ttft_s()[0] == pytest.approx(0.1)
    assert m.log.e2e_s()[0] == pytest.approx(0.5)
    assert m.log.status.tolist() == [Status.COMPLETED, Status.FAILED]
    assert m.itl.gaps_s == pytest.approx(np.full(10, 0.04))


def vllm_doc(detailed=True, start_times=True):
    doc = {"date": "20251201-120000", "backend": "openai", "model_id": "m", "num_prompts": 3, "duration": 2.0,
           "completed": 2, "failed": 1, "request_throughput": 1.0, "output_throughput": 30.0,
           "median_ttft_ms": 100.0, "p99_ttft_ms": 180.0, "mean_ttft_ms": 110.0, "std_ttft_ms": 1.0,
           "median_tpot_ms": 20.0, "p99_tpot_ms": 25.0, "median_itl_ms": 19.0, "p99_itl_ms": 30.0,
           "median_e2el_ms": 500.0, "p99_e2el_ms": 700.0}
    if detailed:
        doc.update({"input_lens": [100, 200, 300], "output_lens": [21, 11, 0], "ttfts": [0.1, 0.2, 0.0],
                    "itls": [[0.02] * 20, [0.03] * 10, []], "latencies": [0.5, 0.5, 0.0],
                    "generated_texts": ["a", "b", ""], "errors": ["", "", "Bad Gateway"]})
        if start_times:
            doc["start_times"] = [1000.0, 1000.5, 1001.0]
    return doc


def test_vllm_detailed(tmp_path):
    path = tmp_path / "vllm.json"
    path.write_text(json.dumps(vllm_doc()))
    m = read_measured(path)
    log = m.log
    assert log.arrival_s.tolist() == [0.0, 0.5, 1.0]
    assert log.status.tolist() == [Status.COMPLETED, Status.COMPLETED, Status.FAILED]
    assert log.ttft_s()[:2].tolist() == pytest.approx([0.1, 0.2])
    assert math.isnan(log.ttft_s()[2]) and log.reason[2] == "Bad Gateway"
    assert log.tpot_s()[0] == pytest.approx(0.4 / 20)
    assert m.itl.weights.sum() == 30
    assert m.aggregates["ttft_p50"] == pytest.approx(0.1) and m.aggregates["throughput_tok_s"] == 30.0


def test_vllm_without_start_times_has_no_time_series(tmp_path):
    path = tmp_path / "vllm.json"
    path.write_text(json.dumps(vllm_doc(start_times=False)))
    m = read_measured(path)
    assert not m.has_arrivals and any("start_times" in n for n in m.notes)


def test_vllm_summary_only(tmp_path):
    path = tmp_path / "vllm.json"
    path.write_text(json.dumps(vllm_doc(detailed=False)))
    m = read_measured(path)
    assert m.log is None
    assert m.aggregates == pytest.approx({"ttft_p50": 0.1, "ttft_p99": 0.18, "ttft_mean": 0.11, "tpot_p50": 0.02,
                                          "tpot_p99": 0.025, "itl_p50": 0.019, "itl_p99": 0.03, "e2e_p50": 0.5,
                                          "e2e_p99": 0.7, "throughput_tok_s": 30.0, "throughput_rps": 1.0})


BAD = [
    ("p.jsonl", "{not json\n", "p.jsonl:1: not a JSON object"),
    ("p.jsonl", json.dumps({"metrics": {}}) + "\n", "p.jsonl:1: metadata: expected an AIPerf record"),
    ("p.jsonl", json.dumps({**AIPERF_OK, "metadata": {**AIPERF_OK["metadata"], "request_start_ns": "x"}}) + "\n",
     "metadata.request_start_ns: expected an integer epoch time"),
    ("p.jsonl", json.dumps({**AIPERF_OK, "metrics": {**AIPERF_OK["metrics"],
                                                     "time_to_first_token": {"value": 1, "unit": "fortnights"}}}) + "\n",
     "metrics.time_to_first_token.unit: unknown time unit 'fortnights'"),
    ("p.jsonl", "\n", "no profiling records"),
    ("v.json", "[1, 2]", "expected the JSON object"),
    ("v.json", json.dumps({"date": "x"}), "no per-request lists"),
    ("v.json", json.dumps({**vllm_doc(), "latencies": [0.1]}), "latencies: expected a list of 3 values"),
    ("p.csv", "a,b\n", "cannot tell the format"),
]


@pytest.mark.parametrize("name,text,message", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_files_name_file_line_and_field(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MeasuredError) as info:
        read_measured(path)
    assert message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(MeasuredError, match="not found"):
        read_measured(tmp_path / "nope.jsonl")
