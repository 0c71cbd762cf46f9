"""Trace readers: Mooncake JSONL and Azure LLM inference CSV into plain numpy columns.

Both return a `RawTrace` with arrival times in seconds from the first row (not yet sorted, windowed or
scaled; `build_workload` does that). Token counts below 1 are clamped to 1: a request always has a
prompt token and produces at least one output token (the Azure trace has rows with GeneratedTokens=0).
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chaos.errors import WorkloadError

MOONCAKE_BLOCK_TOKENS = 512
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
MOONCAKE_KEYS = ("timestamp", "input_length", "output_length")


@dataclass(slots=True)
class RawTrace:
    """Columns as read from a trace file; arrival_s is relative to the first row, in file order."""
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    hash_ids: list[tuple[int, ...]] | None
    hash_block_tokens: int
    clamped_outputs: int = 0   # rows whose output length was < 1 and became 1


def _missing(path: Path, field: str) -> WorkloadError:
    return WorkloadError(f"trace file not found: {path} (resolved path; relative paths are taken from "
                         f"the scenario file's folder)", field=field)


def read_mooncake(path: Path, *, field: str = "workload.trace.path") -> RawTrace:
    """Mooncake JSONL: one object per line with timestamp (ms from start), input_length, output_length
    and hash_ids (one id per 512-token prompt block). Blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, field)
    ts: list[float] = []
    inp: list[int] = []
    out: list[int] = []
    hashes: list[tuple[int, ...]] = []
    loads = json.loads
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = loads(line)
                t, i, o = rec["timestamp"], rec["input_length"], rec["output_length"]
                h = rec.get("hash_ids", ())
                ts.append(float(t))
                inp.append(int(i))
                out.append(int(o))
                hashes.append(tuple(int(x) for x in h))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                snippet = line.strip()[:80]
                raise WorkloadError(
                    f"malformed Mooncake line: expected a JSON object with numeric timestamp (ms), "
                    f"input_length, output_length and a list hash_ids, but got {snippet!r} ({exc})",
                    field=field, file=str(path), line=lineno) from None
    if not ts:
        raise WorkloadError("trace file has no requests", field=field, file=str(path))
    t_ms = np.asarray(ts, dtype=np.float64)
    output = np.asarray(out, dtype=np.int64)
    clamped = int(np.count_nonzero(output < 1))
    return RawTrace(arrival_s=(t_ms - t_ms[0]) / 1000.0,
                    input_tokens=np.maximum(np.asarray(inp, dtype=np.int64), 1),
                    output_tokens=np.maximum(output, 1), hash_ids=hashes,
                    hash_block_tokens=MOONCAKE_BLOCK_TOKENS, clamped_outputs=clamped)


def read_azure(path: Path, *, field: str = "workload.trace.path") -> RawTrace:
    """Azure LLM inference trace CSV: TIMESTAMP (wall clock "2023-11-16 18:17:03.9799600", 100 ns
    resolution), ContextTokens, GeneratedTokens. Times are made relative to the first row; no hash ids."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path, field)
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise WorkloadError("trace file is empty", field=field, file=str(path))
        header = [h.strip() for h in header]
        missing = [c for c in AZURE_COLUMNS if c not in header]
        if missing:
            raise WorkloadError(
                f"bad column names: expected columns {', '.join(AZURE_COLUMNS)} but got {header!r} "
                f"(missing {', '.join(missing)})", field=field, file=str(path), line=1)
        it, ic, ig = (header.index(c) for c in AZURE_COLUMNS)
        stamps: list[str] = []
        ctx: list[int] = []
        gen: list[int] = []
        for lineno, row in enumerate(reader, 2):
            if not row:
                continue
            try:
                stamps.append(row[it].strip())
                ctx.append(int(row[ic]))
                gen.append(int(row[ig]))
            except (ValueError, IndexError):
                raise WorkloadError(
                    f"malformed Azure row: expected TIMESTAMP, integer ContextTokens and GeneratedTokens "
                    f"but got {','.join(row)[:80]!r}", field=field, file=str(path), line=lineno) from None
    if not stamps:
        raise WorkloadError("trace file has no requests", field=field, file=str(path))
    try:
        t = np.array(stamps, dtype="datetime64[ns]")
    except ValueError:
        bad = _first_bad_stamp(stamps)
        raise WorkloadError(
            f"malformed TIMESTAMP: expected a wall-clock time like '2023-11-16 18:17:03.9799600' "
            f"but got {stamps[bad]!r}", field=field, file=str(path), line=bad + 2) from None
    if np.isnat(t).any():
        bad = int(np.flatnonzero(np.isnat(t))[0])
        raise WorkloadError(f"malformed TIMESTAMP: got {stamps[bad]!r}", field=field, file=str(path),
                            line=bad + 2)
    rel_ns = (t - t[0]).astype(np.int64)
    output = np.asarray(gen, dtype=np.int64)
    return RawTrace(arrival_s=rel_ns.astype(np.float64) / 1e9,
                    input_tokens=np.maximum(np.asarray(ctx, dtype=np.int64), 1),
                    output_tokens=np.maximum(output, 1), hash_ids=None,
                    hash_block_tokens=MOONCAKE_BLOCK_TOKENS,
                    clamped_outputs=int(np.count_nonzero(output < 1)))


def _first_bad_stamp(stamps: list[str]) -> int:
    for i, s in enumerate(stamps):
        try:
            np.datetime64(s, "ns")
        except ValueError:
            return i
    return 0


READERS = {"mooncake": read_mooncake, "azure": read_azure}


def read_trace(path: Path, fmt: str, *, field: str = "workload.trace.path") -> RawTrace:
    """Read a trace of format `fmt` (mooncake|azure)."""
    return READERS[fmt](path, field=field)
