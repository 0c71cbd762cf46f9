"""OpenAI request validation and length rules of fleetchaos serve, without a server."""
from __future__ import annotations

import pytest

from chaos.serve.protocol import ApiError, chunk, parse, prefix_hash_ids, response_body

KW = dict(models=("m",), max_model_len=8192, default_max_tokens=256, hash_block_tokens=512)


def chat(**body):
    return parse({"model": "m", "messages": [{"role": "user", "content": "x" * 400}], **body}, "chat", **KW)


def test_prompt_length_from_text_and_overrides():
    # 400 characters / 4 = 100 tokens + 3 for the message + 3 to prime the reply
    assert chat().prompt_tokens == 106
    assert parse({"model": "m", "prompt": "y" * 401}, "completion", **KW).prompt_tokens == 101
    assert parse({"model": "m", "prompt": [5, 6, 7]}, "completion", **KW).prompt_tokens == 3
    assert chat(prompt_tokens=777).prompt_tokens == 777
    assert chat(usage={"prompt_tokens": 55}).prompt_tokens == 55


def test_output_length():
    assert chat().max_tokens == 256
    assert chat(max_tokens=17).max_tokens == 17
    assert chat(max_tokens=17, max_completion_tokens=9).max_tokens == 9


def test_shared_prefix_shares_hash_ids():
    a = prefix_hash_ids("p" * 4096 + "tail one", 512)      # two full 2048-character blocks
    b = prefix_hash_ids("p" * 2048 + "q" * 2048, 512)
    assert len(a) == 2 and a[0] == b[0] and a[1] != b[1]
    assert prefix_hash_ids("short", 512) is None
    assert chat(hash_ids=[1, 2]).hash_ids == (1, 2)


BAD = [
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "model"),
    ({"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
    ({"model": "m", "messages": []}, 400, "messages"),
    ({"model": "m", "messages": "hi"}, 400, "messages"),
    ({"model": "m", "messages": [{"content": "x"}]}, 400, "messages[0]"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10 ** 9}, 400, "max_tokens"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}, 400, "max_tokens"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "stream"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "n"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "hash_ids": ["a"]}, 400, "hash_ids"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "prompt_tokens": 0}, 400, "prompt_tokens"),
]


@pytest.mark.parametrize("body,status,param", BAD, ids=[f"{b[2]}-{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_chat_requests(body, status, param):
    with pytest.raises(ApiError) as info:
        parse(body, "chat", **KW)
    assert info.value.status == status and info.value.param == param
    err = info.value.body()["error"]
    assert set(err) == {"message", "type", "param", "code"}


def test_bad_completion_prompt():
    with pytest.raises(ApiError, match="prompt must be"):
        parse({"model": "m", "prompt": {"a": 1}}, "completion", **KW)


def test_bodies_have_the_openai_shape():
    p = chat(stream=True, stream_options={"include_usage": True})
    first = chunk(p, 3, " the", first=True)
    assert first["object"] == "chat.completion.chunk" and first["choices"][0]["delta"] == {"role": "assistant", "content": " the"}
    assert chunk(p, 3, None, usage_tokens=4)["usage"]["completion_tokens"] == 4
    whole = response_body(parse({"model": "m", "prompt": "abcd", "max_tokens": 2}, "completion", **KW), 9, " a b", 2)
    assert whole["object"] == "text_completion" and whole["usage"] == {"prompt_tokens": 1, "completion_tokens": 2,
                                                                        "total_tokens": 3}
