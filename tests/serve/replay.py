"""Replay a Mooncake trace against an OpenAI-compatible endpoint on its schedule with the official async
openai client (streaming), and keep each request's timings as the client saw them (AIPerf records)."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from chaos.verify.aiperf_export import ClientRecord


def read_trace(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


async def _one(client, model: str, row: dict, send_at: float) -> ClientRecord:
    await asyncio.sleep(max(0.0, send_at - time.monotonic()))
    start = time.time_ns()
    chunks, tokens = [], 0
    try:
        extra = {"prompt_tokens": row["input_length"]}
        if row.get("hash_ids"):
            extra["hash_ids"] = row["hash_ids"]
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "replayed"}], max_tokens=row["output_length"],
            stream=True, extra_body=extra)
        async for c in stream:
            if c.choices and c.choices[0].delta.content:
                chunks.append(time.time_ns())
                tokens += len(c.choices[0].delta.content.split())
        end = time.time_ns()
        return ClientRecord(start, end, row["input_length"], tokens, chunks[0] if chunks else None, chunks)
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        return ClientRecord(start, time.time_ns(), row["input_length"], error_code=status,
                            error_type=type(exc).__name__, error_message=str(exc)[:200])


async def replay(url: str, model: str, rows: list[dict], speed: float) -> list[ClientRecord]:
    """Send row i at its timestamp / speed after the start; returns records in send order."""
    import httpx
    import openai
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600,
                                http_client=openai.DefaultAsyncHttpxClient(limits=limits))
    # warm up: the client builds its connection pool, TLS context and response models lazily, and the
    # first streamed request would pay for that on the schedule
    stream = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "w"}],
                                                  max_tokens=1, stream=True, extra_body={"prompt_tokens": 1})
    async for _ in stream:
        pass
    t0 = time.monotonic() + 0.2
    tasks = [asyncio.create_task(_one(client, model, r, t0 + r["timestamp"] / 1000.0 / speed)) for r in rows]
    out = await asyncio.gather(*tasks)
    await client.close()
    return out
