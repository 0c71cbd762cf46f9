"""Write per-request timings in AIPerf's profile_export.jsonl record format (MetricRecordInfo: metadata,
metrics as {value, unit} in AIPerf's display units, error), so a client of `fleetchaos serve` — or any
harness — can hand its own measurements to `fleetchaos verify` and to AIPerf's tooling alike."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ClientRecord:
    """One request as a client saw it: wall-clock ns of start, response headers, chunks and end."""

    start_ns: int
    end_ns: int
    input_tokens: int
    output_tokens: int = 0
    ack_ns: int | None = None
    chunk_ns: list[int] = field(default_factory=list)     # arrival of each content chunk
    error_code: int | None = None
    error_type: str = ""
    error_message: str = ""


def record(rec: ClientRecord, session_num: int, worker_id: str = "fleetchaos-client") -> dict:
    """The AIPerf MetricRecordInfo dict of one request (metric names and units as AIPerf writes them:
    time_to_first_token, request_latency, inter_chunk_latency and inter_token_latency in ms)."""
    meta = {"session_num": session_num, "x_request_id": str(uuid.UUID(int=session_num + 1)),
            "x_correlation_id": str(uuid.UUID(int=session_num + 1)), "conversation_id": str(session_num),
            "turn_index": 0, "request_start_ns": rec.start_ns, "request_ack_ns": rec.ack_ns,
            "request_end_ns": rec.end_ns, "worker_id": worker_id, "record_processor_id": "fleetchaos",
            "benchmark_phase": "profiling", "was_cancelled": False, "cancellation_time_ns": None}
    if rec.error_code is not None or rec.error_type:
        return {"metadata": meta, "metrics": {"error_isl": {"value": rec.input_tokens, "unit": "tokens"}},
                "error": {"code": rec.error_code, "type": rec.error_type or "Error", "message": rec.error_message}}
    ms = 1e-6
    metrics = {"input_sequence_length": {"value": rec.input_tokens, "unit": "tokens"},
               "request_latency": {"value": (rec.end_ns - rec.start_ns) * ms, "unit": "ms"},
               "output_token_count": {"value": rec.output_tokens, "unit": "tokens"},
               "output_sequence_length": {"value": rec.output_tokens, "unit": "tokens"}}
    if rec.chunk_ns:
        ttft_ms = (rec.chunk_ns[0] - rec.start_ns) * ms
        metrics["time_to_first_token"] = {"value": ttft_ms, "unit": "ms"}
        gaps = [(b - a) * ms for a, b in zip(rec.chunk_ns, rec.chunk_ns[1:])]
        if gaps:
            metrics["inter_chunk_latency"] = {"value": gaps, "unit": "ms"}
        if rec.output_tokens > 1:
            itl = ((rec.end_ns - rec.start_ns) * ms - ttft_ms) / (rec.output_tokens - 1)
            metrics["inter_token_latency"] = {"value": itl, "unit": "ms"}
    return {"metadata": meta, "metrics": metrics, "error": None}


def write_profile_export(records: list[ClientRecord], path: str | Path) -> Path:
    """Write `records` (in send order) as profile_export.jsonl."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i, rec in enumerate(records):
            fh.write(json.dumps(record(rec, i)) + "\n")
    return path
