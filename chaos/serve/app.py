"""The HTTP side of `fleetchaos serve`: an OpenAI-compatible ASGI app (Starlette) over a LiveFleet.

What a client sees, as behind a real gateway in front of the fleet:
  * the router rejects (admission, no healthy replica): HTTP 503 with the reason;
  * no first token within the router's timeout or the request deadline: HTTP 504;
  * the request fails before its first token otherwise (refused, lost, retries exhausted): HTTP 503;
  * a streamed response starts (200 and headers) with the first token — until then the gateway can
    still retry elsewhere, as Envoy does before it forwards response headers;
  * a stream whose request fails after that is cut: the connection closes without the final chunk
    and `data: [DONE]` (a reset, as a client sees a dying engine);
  * a stalled or partitioned replica sends nothing: the stream hangs until it heals or a timeout.
Bad requests get an OpenAI error object with a 4xx, never a 500.
"""
from __future__ import annotations

import asyncio
import json
import logging

from chaos.errors import InputError
from chaos.serve.protocol import ApiError, Parsed, chunk, parse, response_body, token_text

TIMEOUT_WORDS = ("no first token within", "deadline of")


class StreamCut(Exception):
    """Raised inside a streaming body to cut the connection (the request failed mid-stream)."""


class _DropCutLog(logging.Filter):
    """uvicorn logs a cut stream as an application error; here it is the intended behaviour."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, StreamCut) or (exc is not None and isinstance(exc.__cause__ or exc.__context__, StreamCut)):
            return False
        return "StreamCut" not in record.getMessage()


def install_log_filter() -> None:
    logging.getLogger("uvicorn.error").addFilter(_DropCutLog())


def _error_for(stream) -> ApiError:
    if stream.status == "rejected":
        return ApiError(503, f"rejected by the router: {stream.reason}", type_="ServiceUnavailableError")
    if any(w in stream.reason for w in TIMEOUT_WORDS):
        return ApiError(504, f"upstream timeout: {stream.reason}", type_="GatewayTimeoutError")
    return ApiError(503, f"upstream failure before the first token: {stream.reason}", type_="ServiceUnavailableError")


def build_app(live, *, model_name: str, max_model_len: int, default_max_tokens: int):
    """The Starlette application serving `live`."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route

    from chaos.serve.prom import Metrics

    models = (model_name,)
    metrics = Metrics(live, model_name)

    def error(err: ApiError) -> JSONResponse:
        return JSONResponse(err.body(), status_code=err.status)

    async def body_of(request: Request):
        raw = await request.body()
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None

    async def wait_change(stream) -> None:
        await stream.changed.wait()
        stream.changed.clear()

    async def generate(request: Request, kind: str):
        try:
            p = parse(await body_of(request), kind, models=models, max_model_len=max_model_len,
                      default_max_tokens=default_max_tokens, hash_block_tokens=live.hash_block_tokens)
            tenant = live.tenant_id(request.headers.get("x-tenant"))
        except ApiError as err:
            return error(err)
        except ValueError as err:          # an unknown tenant name
            return error(ApiError(400, str(err), param="X-Tenant"))
        stream = live.submit(p.prompt_tokens, p.max_tokens, p.hash_ids, tenant)
        try:
            while not (stream.first_token or stream.ended):
                await wait_change(stream)
        except asyncio.CancelledError:
            live.cancel(stream)
            raise
        if stream.ended and stream.status != "completed":
            live.close(stream, stream.status, stream.reason)
            return error(_error_for(stream))
        if not p.stream:
            return await _whole(request, p, stream)
        return StreamingResponse(_events(p, stream), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Request-Id": str(stream.rid)})

    async def _whole(request: Request, p: Parsed, stream):
        try:
            while not stream.ended:
                await wait_change(stream)
        except asyncio.CancelledError:
            live.cancel(stream)
            raise
        if stream.status != "completed":
            live.close(stream, stream.status, stream.reason)
            return error(_error_for(stream))
        live.mark_sent(stream, stream.max_tokens)
        live.close(stream, "completed")
        return JSONResponse(response_body(p, stream.rid, token_text(0, stream.max_tokens), stream.max_tokens))

    async def _events(p: Parsed, stream):
        def sse(obj) -> str:
            return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"
        try:
            first = True
            while True:
                n = stream.available - stream.sent
                if n > 0:
                    text = token_text(stream.sent, n)
                    live.mark_sent(stream, n)
                    yield sse(chunk(p, stream.rid, text, first=first))
                    first = False
                if stream.ended and stream.sent >= stream.available:
                    break
                await wait_change(stream)
            if stream.status != "completed":
                live.close(stream, "failed", stream.reason)
                raise StreamCut(stream.reason)
            yield sse(chunk(p, stream.rid, None if p.kind == "chat" else "", finish_reason="length"))
            if p.include_usage:
                yield sse(chunk(p, stream.rid, None, usage_tokens=stream.sent))
            yield "data: [DONE]\n\n"
            live.close(stream, "completed")
        except (asyncio.CancelledError, GeneratorExit):
            live.cancel(stream)
            raise

    async def chat(request: Request):
        return await generate(request, "chat")

    async def completions(request: Request):
        return await generate(request, "completion")

    async def list_models(request: Request):
        return JSONResponse({"object": "list", "data": [
            {"id": model_name, "object": "model", "created": 0, "owned_by": "fleetchaos", "root": model_name,
             "parent": None, "max_model_len": max_model_len}]})

    async def health(request: Request):
        live.clock.catch_up()
        if live.healthy():
            return PlainTextResponse("ok")
        return PlainTextResponse("no replica accepts requests", status_code=503)

    async def prometheus(request: Request):
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def faults(request: Request):
        if request.method == "GET":
            live.clock.catch_up()
            return JSONResponse({"now_s": live.env.now, "faults": live.fault_list()})
        raw = await request.body()
        try:
            import yaml
            doc = yaml.safe_load(raw.decode("utf-8")) if raw.strip() else None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            return error(ApiError(422, f"the body is neither JSON nor YAML: {exc}", param="fault"))
        try:
            planned = live.inject_fault(doc)
        except InputError as err:
            return error(ApiError(422, err.message, param=err.field or "fault", type_="invalid_fault"))
        return JSONResponse({"now_s": live.env.now, "planned": [pf.to_dict() for pf in planned]}, status_code=201)

    async def not_found(request: Request, exc):
        return error(ApiError(404, f"no route {request.method} {request.url.path}", type_="NotFoundError"))

    async def bad_method(request: Request, exc):
        return error(ApiError(405, f"{request.method} is not allowed on {request.url.path}"))

    routes = [Route("/v1/chat/completions", chat, methods=["POST"]),
              Route("/v1/completions", completions, methods=["POST"]),
              Route("/v1/models", list_models, methods=["GET"]),
              Route("/health", health, methods=["GET"]),
              Route("/metrics", prometheus, methods=["GET"]),
              Route("/chaos/faults", faults, methods=["GET", "POST"])]
    return Starlette(routes=routes, exception_handlers={404: not_found, 405: bad_method})
