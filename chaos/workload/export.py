"""Trace writer: a resolved open-loop Workload as Mooncake JSONL, the format AIPerf replays on a fixed
schedule (`--custom-dataset-type mooncake_trace`), and the AIPerf command that replays it.

Format (AIPerf's MooncakeTrace model, aiperf/dataset/loader/models.py; docs/tutorials/fixed-schedule.md):
one JSON object per line with `timestamp` (integer milliseconds from the schedule start — AIPerf's
field is an int), `input_length`, `output_length` (AIPerf sends it as max_tokens) and `hash_ids`
(one id per `--isl-block-size` prompt tokens, 512 by default). A file whose first line has a
timestamp switches AIPerf to fixed-schedule timing by itself (UserConfig.
_should_use_fixed_schedule_for_mooncake_trace); `--fixed-schedule` says so explicitly.

Arrival times are rounded to the millisecond, so reading the file back gives the arrivals to
within 0.5 ms (the round-trip test checks exactly that).
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np

from chaos.errors import WorkloadError
from chaos.workload.workload import Workload


def timestamps_ms(workload: Workload) -> np.ndarray:
    """Arrival times as integer milliseconds (rounded half to even, like numpy's rint)."""
    return np.rint(np.asarray(workload.arrival_s, dtype=np.float64) * 1000.0).astype(np.int64)


def write_mooncake(workload: Workload, path: str | Path) -> int:
    """Write `workload` as Mooncake JSONL to `path`; returns the number of requests written.

    A closed-loop workload has no arrival times to write (its arrivals depend on completions):
    that is a WorkloadError naming workload.synthetic.arrival.
    """
    if workload.closed_loop is not None:
        raise WorkloadError("a closed-loop workload has no fixed arrival times to export (each request "
                            "follows the completion of the previous one); use arrival: poisson, gamma or "
                            "constant, or a trace", field="workload.synthetic.arrival")
    if len(workload) == 0:
        raise WorkloadError("the workload has no requests to export", field="workload")
    ts = timestamps_ms(workload)
    inp = workload.input_tokens.tolist()
    out = workload.output_tokens.tolist()
    hashes = workload.hash_ids
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i, t in enumerate(ts.tolist()):
            row = {"timestamp": t, "input_length": int(inp[i]), "output_length": int(out[i])}
            if hashes is not None:
                row["hash_ids"] = [int(h) for h in hashes[i]]
            fh.write(json.dumps(row, separators=(", ", ": ")))
            fh.write("\n")
    return len(ts)


def aiperf_command(trace: str | Path, *, model: str, url: str = "http://127.0.0.1:8000",
                   block_tokens: int = 512, tokenizer: str | None = None, streaming: bool = True) -> list[str]:
    """The `aiperf profile` argv that replays `trace` on its schedule against an OpenAI-compatible
    endpoint (flags as in AIPerf's fixed-schedule and trace-replay tutorials):

    --custom-dataset-type mooncake_trace + --fixed-schedule: send each line at its timestamp;
    --isl-block-size: prompt tokens per hash id (the workload's hash_block_tokens);
    --extra-inputs ignore_eos:true: the server generates exactly max_tokens (= output_length),
    as the simulation does.
    """
    argv = ["aiperf", "profile", "--model", model, "--url", url, "--endpoint-type", "chat"]
    if streaming:
        argv.append("--streaming")
    argv += ["--input-file", str(trace), "--custom-dataset-type", "mooncake_trace", "--fixed-schedule",
             "--isl-block-size", str(int(block_tokens)), "--extra-inputs", "ignore_eos:true"]
    if tokenizer:
        argv += ["--tokenizer", tokenizer]
    return argv


def format_command(argv: list[str]) -> str:
    """A shell-ready command line, one flag per continuation line."""
    parts = [shlex.quote(a) for a in argv]
    lines, current = [], parts[:2]
    for p in parts[2:]:
        if p.startswith("--") and current:
            lines.append(" ".join(current))
            current = []
        current.append(p)
    lines.append(" ".join(current))
    return " \\\n    ".join(lines)
