"""The OpenAI wire format of `fleetchaos serve`: request validation (OpenAI-style error objects with a
4xx), prompt and output lengths, response bodies and stream chunks.

Prompt length, in this order:
  1. `prompt_tokens` (or `usage: {prompt_tokens: N}`) in the request body — a client that knows its
     token count (a trace replay) sends it;
  2. a completions `prompt` given as token ids: their count;
  3. otherwise from the text: ceil(characters / 4) — OpenAI's rule of thumb that one token is about
     four characters of English text (OpenAI help center, "What are tokens and how to count them") —
     plus, for chat, 3 tokens per message and 3 to prime the reply (OpenAI cookbook, "How to count
     tokens with tiktoken", gpt-3.5/4 chat format).
Prefix blocks: `hash_ids` in the body (a Mooncake trace's), else the text cut into blocks of
4 x hash_block_tokens characters, each block's id a hash of everything up to its end, so two prompts
that share a prefix share its leading ids and the simulated prefix cache hits as a real one would.
Output length: `max_tokens` (chat also `max_completion_tokens`), else `default_max_tokens`; the
simulated engine always generates exactly that many (as with ignore_eos).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

CHARS_PER_TOKEN = 4
CHAT_TOKENS_PER_MESSAGE = 3
CHAT_REPLY_PRIMING = 3
# Output text: short common words that most BPE tokenizers encode as one token each (with the space).
WORDS = (" the", " of", " and", " to", " in", " is", " that", " for", " it", " as", " was", " with", " be",
         " on", " not", " he", " by", " are", " this", " at")


class ApiError(Exception):
    """A client error returned as an OpenAI error object with an HTTP status."""

    def __init__(self, status: int, message: str, *, param: str | None = None, type_: str = "invalid_request_error",
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type_
        self.code = code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code if self.code is not None else self.status}}


@dataclass(frozen=True)
class Parsed:
    """A validated generation request."""

    kind: str                 # chat | completion
    model: str
    prompt_tokens: int
    max_tokens: int
    stream: bool
    include_usage: bool
    hash_ids: tuple[int, ...] | None
    text: str


def _int_field(body: dict, name: str, *, minimum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{name} must be an integer, got {value!r}", param=name)
    if value < minimum:
        raise ApiError(400, f"{name} must be at least {minimum}, got {value}", param=name)
    return value


def _chat_text(messages) -> tuple[str, int]:
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list of {role, content} objects", param="messages")
    parts = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise ApiError(400, f"messages[{i}] must be an object with a role and content", param=f"messages[{i}]")
        content = m.get("content")
        if isinstance(content, list):          # content parts: keep the text ones
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        elif content is None:
            content = ""
        elif not isinstance(content, str):
            raise ApiError(400, f"messages[{i}].content must be a string or a list of parts", param=f"messages[{i}].content")
        parts.append(content)
    return "".join(parts), len(messages)


def parse(body, kind: str, *, models: tuple[str, ...], max_model_len: int, default_max_tokens: int,
          hash_block_tokens: int) -> Parsed:
    """Validate a /v1/chat/completions (`kind` chat) or /v1/completions body; raises ApiError."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "model is required", param="model")
    if model not in models:
        raise ApiError(404, f"The model `{model}` does not exist. Served: {', '.join(models)}", param="model",
                       type_="NotFoundError", code="model_not_found")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, f"stream must be true or false, got {stream!r}", param="stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "stream_options must be an object", param="stream_options")
    n = body.get("n", 1)
    if n != 1:
        raise ApiError(400, f"only n=1 is served, got {n!r}", param="n")
    token_ids = None
    if kind == "chat":
        text, n_messages = _chat_text(body.get("messages"))
        overhead = CHAT_TOKENS_PER_MESSAGE * n_messages + CHAT_REPLY_PRIMING
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], (str, list)):
            prompt = prompt[0]
        if isinstance(prompt, str):
            text = prompt
        elif isinstance(prompt, list) and prompt and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            token_ids, text = prompt, " ".join(map(str, prompt))
        else:
            raise ApiError(400, "prompt must be a string or a list of token ids (one prompt per request)",
                           param="prompt")
        overhead = 0
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    given = body.get("prompt_tokens", usage.get("prompt_tokens"))
    if given is not None:
        prompt_tokens = _int_field({"prompt_tokens": given}, "prompt_tokens", minimum=1)
    elif token_ids is not None:
        prompt_tokens = len(token_ids)
    else:
        prompt_tokens = max(1, math.ceil(len(text) / CHARS_PER_TOKEN) + overhead)
    max_tokens = _int_field(body, "max_tokens", minimum=1)
    if kind == "chat":
        max_tokens = _int_field(body, "max_completion_tokens", minimum=1) or max_tokens
    if max_tokens is None:
        max_tokens = min(default_max_tokens, max(1, max_model_len - prompt_tokens))
    if prompt_tokens + max_tokens > max_model_len:
        raise ApiError(400, f"This model's maximum context length is {max_model_len} tokens. However, you requested "
                            f"{prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, {max_tokens} in "
                            f"the completion). Please reduce the length of the messages or completion.",
                       param="max_tokens")
    hash_ids = body.get("hash_ids")
    if hash_ids is not None:
        if not isinstance(hash_ids, list) or not all(isinstance(h, int) and not isinstance(h, bool) for h in hash_ids):
            raise ApiError(400, "hash_ids must be a list of integers", param="hash_ids")
        hash_ids = tuple(hash_ids)
    else:
        hash_ids = prefix_hash_ids(text, hash_block_tokens)
    return Parsed(kind, model, prompt_tokens, max_tokens, stream, bool(options.get("include_usage")), hash_ids, text)


def prefix_hash_ids(text: str, block_tokens: int) -> tuple[int, ...] | None:
    """One id per full block of the prompt text: a hash of the text up to the block's end."""
    block_chars = block_tokens * CHARS_PER_TOKEN
    n = len(text) // block_chars
    if n == 0:
        return None
    h = hashlib.blake2b(digest_size=8)
    ids = []
    for k in range(n):
        h.update(text[k * block_chars:(k + 1) * block_chars].encode("utf-8", "surrogatepass"))
        ids.append(int.from_bytes(h.copy().digest(), "big") >> 1)
    return tuple(ids)


def token_text(start: int, count: int) -> str:
    """The text of output tokens start..start+count-1 (one word each)."""
    return "".join(WORDS[(start + k) % len(WORDS)] for k in range(count))


def usage(p: Parsed, completion_tokens: int) -> dict:
    return {"prompt_tokens": p.prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": p.prompt_tokens + completion_tokens}


def _ids(p: Parsed, rid: int) -> tuple[str, str]:
    return (f"chatcmpl-{rid}", "chat.completion") if p.kind == "chat" else (f"cmpl-{rid}", "text_completion")


def response_body(p: Parsed, rid: int, text: str, tokens: int, finish_reason: str = "length") -> dict:
    """A complete (non-streamed) chat.completion or text_completion."""
    rid_s, obj = _ids(p, rid)
    if p.kind == "chat":
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                  "finish_reason": finish_reason}
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
    return {"id": rid_s, "object": obj, "created": int(time.time()), "model": p.model, "choices": [choice],
            "usage": usage(p, tokens)}


def chunk(p: Parsed, rid: int, text: str | None, *, first: bool = False, finish_reason: str | None = None,
          usage_tokens: int | None = None) -> dict:
    """One stream chunk: content (`text`), the closing one (`finish_reason`) or the usage-only one."""
    rid_s, obj = _ids(p, rid)
    obj += ".chunk" if p.kind == "chat" else ""
    body = {"id": rid_s, "object": obj, "created": int(time.time()), "model": p.model}
    if usage_tokens is not None:
        body["choices"] = []
        body["usage"] = usage(p, usage_tokens)
        return body
    if p.kind == "chat":
        delta = {}
        if first:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        body["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
    else:
        body["choices"] = [{"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}]
    if p.include_usage:
        body["usage"] = None
    return body
