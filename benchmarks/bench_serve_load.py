"""Load on `fleetchaos serve`: N concurrent streaming clients (the official async openai client) for a
bounded time against a server on the loopback interface, at --speed X.

Each client sends a streamed chat completion, reads it to the end, and sends the next, until the time
is up. Reports requests completed, dropped connections (a stream that broke without the fleet having
failed it, or a connect error), HTTP errors, client-side TTFT, and the server's event-loop lag (how late
its simulation clock woke against plan). Loopback only; bounded in clients and seconds; stops by itself.

    python benchmarks/bench_serve_load.py --clients 200 --seconds 60 --speed 10
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def client_loop(client, model: str, stop_at: float, stats: dict, max_tokens: int) -> None:
    import httpx
    import openai
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        first = None
        try:
            stream = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "load"}], max_tokens=max_tokens, stream=True,
                extra_body={"prompt_tokens": 1500})
            async for c in stream:
                if first is None and c.choices and c.choices[0].delta.content:
                    first = time.monotonic() - t0
            stats["completed"] += 1
            stats["ttft_wall_s"].append(first)
        except openai.APIStatusError as exc:
            stats["http_errors"][str(exc.status_code)] = stats["http_errors"].get(str(exc.status_code), 0) + 1
            await asyncio.sleep(0.05)
        except (openai.APIConnectionError, httpx.HTTPError) as exc:
            stats["dropped"] += 1
            stats["dropped_kinds"][type(exc).__name__] = stats["dropped_kinds"].get(type(exc).__name__, 0) + 1
            await asyncio.sleep(0.05)


async def load(url: str, model: str, clients: int, seconds: float, max_tokens: int) -> dict:
    import httpx
    import openai
    limits = httpx.Limits(max_connections=clients + 16, max_keepalive_connections=clients + 16)
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=300,
                                http_client=openai.DefaultAsyncHttpxClient(limits=limits))
    await client.models.list()
    stats = {"completed": 0, "dropped": 0, "dropped_kinds": {}, "http_errors": {}, "ttft_wall_s": []}
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*[client_loop(client, model, stop_at, stats, max_tokens) for _ in range(clients)])
    await client.close()
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(ROOT / "examples" / "fleet-small.yaml"))
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--speed", type=float, default=10.0)
    ap.add_argument("--max-tokens", type=int, default=200)
    ap.add_argument("--port", type=int, default=18765)
    ap.add_argument("--out", default="/tmp/fleetchaos-bench-serve")
    args = ap.parse_args()
    if not (0 < args.clients <= 1000 and 0 < args.seconds <= 600):
        sys.exit("bounded run: --clients in 1..1000 and --seconds in (0, 600]")
    import httpx
    server = subprocess.Popen([sys.executable, "-m", "chaos", "serve", args.scenario, "--host", "127.0.0.1",
                               "--port", str(args.port), "--speed", str(args.speed), "--duration", "none",
                               "--set", "faults=[]", "--out", args.out, "--no-report"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    url = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        model = httpx.get(url + "/v1/models").json()["data"][0]["id"]
        wall0 = time.perf_counter()
        stats = asyncio.run(load(url, model, args.clients, args.seconds, args.max_tokens))
        wall = time.perf_counter() - wall0
    finally:
        server.send_signal(2)
        out, _ = server.communicate(timeout=120)
    m = re.search(r"event-loop lag p99 ([\d.]+) ms, max ([\d.]+) ms", out)
    journal = json.loads((Path(args.out) / "journal.json").read_text())
    import numpy as np
    ttft = np.array([t for t in stats["ttft_wall_s"] if t is not None])
    print(json.dumps({
        "clients": args.clients, "seconds": args.seconds, "speed": args.speed, "wall_s": round(wall, 1),
        "completed": stats["completed"], "dropped_connections": stats["dropped"], "dropped_kinds": stats["dropped_kinds"],
        "http_errors": stats["http_errors"],
        "client_ttft_wall_ms": {"p50": round(float(np.quantile(ttft, 0.5)) * 1e3, 1) if len(ttft) else None,
                                "p99": round(float(np.quantile(ttft, 0.99)) * 1e3, 1) if len(ttft) else None},
        "server_event_loop_lag_ms": {"p99": float(m.group(1)), "max": float(m.group(2))} if m else out[-500:],
        "server_summary_requests": journal["summary"]["requests"],
    }, indent=1))


if __name__ == "__main__":
    main()
