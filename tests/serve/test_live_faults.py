"""A GPU crash injected live through POST /chaos/faults: streams on the lost replica are cut, a request
sent before detection gets a 503, the rest complete; the journal records the fault and the failures."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.serve.conftest import serving

openai = pytest.importorskip("openai")


async def stream_tokens(client, max_tokens: int, started: asyncio.Queue) -> tuple[int, str]:
    """Tokens received and how the stream ended: 'completed' or the exception's class name."""
    got = 0
    try:
        stream = await client.completions.create(model="llama-3.1-8b", prompt="z" * 400, max_tokens=max_tokens,
                                                 stream=True)
        async for c in stream:
            if got == 0:
                started.put_nowait(True)
            got += len(c.choices[0].text.split()) if c.choices else 0
        return got, "completed"
    except Exception as exc:       # what the client sees of the crash
        return got, type(exc).__name__


def test_live_gpu_crash(tmp_path, scenario_path):
    out = tmp_path / "out"
    with serving(scenario_path, out=out, speed=2.0) as srv:
        async def scenario():
            client = openai.AsyncOpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=60)
            # four long streams, spread over both replicas by least_outstanding
            started: asyncio.Queue = asyncio.Queue()
            tasks = [asyncio.create_task(stream_tokens(client, 1500, started)) for _ in range(4)]
            for _ in range(4):                  # every stream has its first tokens before the crash
                await asyncio.wait_for(started.get(), timeout=60)
            async with httpx.AsyncClient(base_url=srv.url) as http:
                bad = await http.post("/chaos/faults", json={"type": "gpu_crsh", "target": {"replica": "aggregated-0"}})
                assert bad.status_code == 422
                assert bad.json()["error"]["param"] == "fault.type" and "did you mean gpu_crash" in bad.json()["error"]["message"]
                bad_target = await http.post("/chaos/faults", json={"type": "gpu_crash", "target": {"gpu": "rack9/host0/gpu0"}})
                assert bad_target.status_code == 422 and bad_target.json()["error"]["param"].startswith("fault.target")
                past = await http.post("/chaos/faults", content="{type: gpu_crash, at: 0s, target: {replica: aggregated-0}}")
                assert past.status_code == 422 and past.json()["error"]["param"] == "fault.at"
                ok = await http.post("/chaos/faults", content="type: gpu_crash\ntarget: {replica: aggregated-0}\n")
                assert ok.status_code == 201, ok.text
                assert ok.json()["planned"][0]["replicas_lost"] == ["aggregated-0"]
                listed = (await http.get("/chaos/faults")).json()["faults"]
                assert [f["active"] for f in listed if f["live"]] == [True]
                # sent at once, before the health check ejects it: least_outstanding sends them all to the
                # dead replica (it has nothing outstanding any more), which refuses them; no retries -> 503
                quick = await asyncio.gather(*[http.post("/v1/completions", json={
                    "model": "llama-3.1-8b", "prompt": "q", "max_tokens": 2}) for _ in range(4)])
                assert all("connection refused by aggregated-0" in r.json()["error"]["message"]
                           for r in quick if r.status_code == 503)
                # after detection (health interval 1 s simulated) the router sends new work elsewhere
                await asyncio.sleep(1.5)
                later = await http.post("/v1/completions", json={"model": "llama-3.1-8b", "prompt": "q", "max_tokens": 2})
                assert later.status_code == 200, later.text
            results = await asyncio.gather(*tasks)
            return results, [r.status_code for r in quick]
        results, quick = asyncio.run(scenario())
    ends = [how for _, how in results]
    assert 1 <= ends.count("completed") <= 3, results            # the other replica's streams finish
    cut = [(got, how) for got, how in results if how != "completed"]
    assert cut and all(0 < got < 1500 for got, _ in cut), results  # cut mid-stream, after some tokens
    assert 503 in quick, quick                                    # refused before detection -> 503
    journal = json.loads((out / "journal.json").read_text())
    live = [f for f in journal["faults"] if f["type"] == "gpu_crash"]
    assert live and live[0]["replicas_lost"] == ["aggregated-0"] and live[0]["cause"] == "faults[0] gpu_crash"
    assert journal["serve"]["speed"] == 2.0 and journal["serve"]["live_faults"] == 1
    assert journal["serve"]["event_loop_lag_s"]["samples"] > 0
    counts = journal["summary"]["requests"]
    assert counts["failed"] >= len(cut) + quick.count(503)
    rows = (out / "requests.csv").read_text().splitlines()
    assert any("aggregated-0" in r and "FAILED" in r for r in rows[1:])


def test_live_scheduler_stall_hangs_the_stream(scenario_path):
    """A silent scheduler stall: the replica keeps the connection and sends nothing until it ends; the
    client sees a stream that hangs for the stall's length, then goes on."""
    speed = 4.0
    with serving(scenario_path, speed=speed) as srv:
        async def run():
            client = openai.AsyncOpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0, timeout=60)
            started: asyncio.Queue = asyncio.Queue()

            async def gaps():
                times, got = [], 0
                stream = await client.completions.create(model="llama-3.1-8b", prompt="s" * 400, max_tokens=1200,
                                                         stream=True)
                async for c in stream:
                    if not times:
                        started.put_nowait(True)
                    times.append(asyncio.get_running_loop().time())
                    got += len(c.choices[0].text.split()) if c.choices else 0
                return got, max(b - a for a, b in zip(times, times[1:]))
            tasks = [asyncio.create_task(gaps()) for _ in range(2)]
            for _ in range(2):
                await asyncio.wait_for(started.get(), timeout=60)
            async with httpx.AsyncClient(base_url=srv.url) as http:
                r = await http.post("/chaos/faults", json={"type": "scheduler_stall", "duration": "4s", "silent": True,
                                                           "target": {"replica": "aggregated-0"}})
                assert r.status_code == 201, r.text
            return await asyncio.gather(*tasks)
        results = asyncio.run(run())
    assert [got for got, _ in results] == [1200, 1200]          # both finish: a stall loses nothing
    longest = sorted(gap for _, gap in results)
    # one stream hung for about the stall (4 s simulated = 1 s of wall time at speed 4), the other did not
    assert longest[1] > 0.8 * 4.0 / speed and longest[0] < 0.5 * 4.0 / speed, longest
