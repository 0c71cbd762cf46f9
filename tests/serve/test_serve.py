"""fleetchaos serve over HTTP: the OpenAI wire format through the official client (streaming and not),
OpenAI-style 4xx for bad requests (never a 500), /metrics that prometheus_client parses, /health."""
from __future__ import annotations

import httpx
import pytest

from tests.serve.conftest import serving

openai = pytest.importorskip("openai")
parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.serve.conftest import write_scenario
    with serving(write_scenario(tmp_path_factory.mktemp("srv")), speed=4.0) as srv:
        yield srv


def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=30)


def test_models_and_health(server):
    models = client(server).models.list()
    assert [m.id for m in models.data] == ["llama-3.1-8b"]
    assert httpx.get(server.url + "/health").status_code == 200


def test_chat_non_streaming(server):
    r = client(server).chat.completions.create(model="llama-3.1-8b", max_tokens=12,
                                                 messages=[{"role": "user", "content": "a" * 800}])
    assert r.object == "chat.completion" and r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 12 and r.usage.prompt_tokens == 800 // 4 + 3 + 3
    assert len(r.choices[0].message.content.split()) == 12


def test_chat_streaming_with_usage(server):
    stream = client(server).chat.completions.create(
        model="llama-3.1-8b", max_tokens=40, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hello"}], extra_body={"prompt_tokens": 3000})
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(content.split()) == 40
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 40 and chunks[-1].usage.prompt_tokens == 3000


def test_completions_streaming(server):
    stream = client(server).completions.create(model="llama-3.1-8b", prompt="x" * 100, max_tokens=25, stream=True)
    text = "".join(c.choices[0].text for c in stream)
    assert len(text.split()) == 25


BAD = [
    ("/v1/chat/completions", b"{not json", 400),
    ("/v1/chat/completions", b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}', 404),
    ("/v1/chat/completions", b'{"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', 400),
    ("/v1/chat/completions", b'{"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "x"}], "max_tokens": 100000000}', 400),
    ("/v1/chat/completions", b'{"model": "llama-3.1-8b"}', 400),
    ("/v1/chat/completions", b'[1, 2]', 400),
    ("/v1/completions", b'{"model": "llama-3.1-8b", "prompt": null}', 400),
    ("/v1/completions", "\udcff".encode("utf-8", "surrogatepass"), 400),
    ("/v1/nothing", b"{}", 404),
]


@pytest.mark.parametrize("path,body,status", BAD, ids=["malformed json", "unknown model", "max_tokens 0",
                                                        "max_tokens huge", "no messages", "not an object",
                                                        "null prompt", "not utf-8", "no route"])
def test_bad_requests_get_openai_errors(server, path, body, status):
    r = httpx.post(server.url + path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    err = r.json()["error"]
    assert err["message"] and err["type"] and "code" in err and "param" in err


def test_wrong_method_is_405(server):
    r = httpx.get(server.url + "/v1/chat/completions")
    assert r.status_code == 405 and r.json()["error"]["message"]


def test_metrics_parse_with_prometheus_client(server):
    client(server).completions.create(model="llama-3.1-8b", prompt="x" * 100, max_tokens=5)
    text = httpx.get(server.url + "/metrics").text
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                 "vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds",
                 "vllm:e2e_request_latency_seconds", "fleetchaos:replicas_up"):
        assert name in families, name
    ttft = families["vllm:time_to_first_token_seconds"]
    assert ttft.type == "histogram"
    count = [s.value for s in ttft.samples if s.name.endswith("_count")][0]
    assert count >= 1
    up = [s.value for s in families["fleetchaos:replicas_up"].samples]
    assert up == [2.0]
