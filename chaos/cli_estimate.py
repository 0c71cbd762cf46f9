"""`fleetchaos estimate`: a static what-if for one replica and one batch, no scenario needed.

Registered on the main app from chaos/cli.py; the numbers come from chaos.perf.estimate with the
backend profile's roofline or (`--latency aiconfigurator`) aiconfigurator's grids, the same cost objects
the engine uses.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer


def register(app: typer.Typer, user_errors) -> None:
    """Add the `estimate` command to `app`; `user_errors` turns InputError into exit code 2."""

    @app.command()
    @user_errors
    def estimate(model: str = typer.Option(..., "--model", help="catalog model, e.g. llama-3.1-8b"),
                 gpu: str = typer.Option(..., "--gpu", help="catalog GPU, e.g. h100-sxm"),
                 tp: int = typer.Option(1, "--tp", help="tensor-parallel size of the replica"),
                 backend: str = typer.Option("vllm", "--backend", help="backend profile: vllm, sglang, trtllm, ..."),
                 batch: int = typer.Option(..., "--batch", help="requests prefilled and decoded together"),
                 isl: int = typer.Option(..., "--isl", help="input (prompt) tokens per request"),
                 osl: int = typer.Option(..., "--osl", help="output tokens per request"),
                 latency: str = typer.Option("roofline", "--latency",
                                             help="latency source: roofline (the backend profile's) or "
                                                  "aiconfigurator (pip install 'fleetchaos[aic]')"),
                 as_json: bool = typer.Option(False, "--json", help="one JSON object instead of text"),
                 catalog: List[Path] = typer.Option([], "--catalog", help="extra catalog folder (repeatable)"),
                 ) -> None:
        """Estimate TTFT, TPOT, throughput and memory of one static batch on one replica."""
        result, setup = run_estimate(model=model, gpu=gpu, tp=tp, backend=backend, batch=batch, isl=isl,
                                     osl=osl, catalog=catalog, latency=latency)
        if as_json:
            typer.echo(json.dumps(result.to_dict()))
            return
        typer.echo(format_estimate(result, setup))


def run_estimate(*, model: str, gpu: str, tp: int, backend: str, batch: int, isl: int, osl: int,
                 catalog=(), latency: str = "roofline"):
    """(Estimate, description) for the command's arguments; InputError names the bad flag."""
    from chaos.errors import InputError, expected_one_of
    if latency not in ("roofline", "aiconfigurator"):
        raise InputError(expected_one_of(latency, ("roofline", "aiconfigurator")), field="--latency")
    from chaos.catalog import load_catalog
    from chaos.perf import build_perf_model
    from chaos.perf.estimate import NVLINK_LATENCY_S, estimate
    from chaos.sim.backend import efficiency_of

    cat = load_catalog(list(catalog))
    m = cat.model(model, field="--model")
    g = cat.gpu(gpu, field="--gpu")
    b = cat.backend(backend, field="--backend")
    cost = _with_field(lambda: build_perf_model(m, g, tp, g.nvlink_Bps, NVLINK_LATENCY_S, efficiency_of(b)), "--tp")
    if latency == "aiconfigurator":
        from chaos.perf.aiconfigurator import aiconfigurator_cost
        try:
            cost = aiconfigurator_cost(cost, b.name)
        except InputError as err:
            err.field = "--latency"
            raise
    s = b.scheduler
    result = _with_field(lambda: estimate(cost, m, g, tp, batch=batch, isl=isl, osl=osl, block_size=s.block_size,
                                          max_num_batched_tokens=s.max_num_batched_tokens,
                                          max_num_seqs=s.max_num_seqs), "--tp")
    source = "roofline" if latency == "roofline" else "aiconfigurator grids"
    return result, (f"{m.name} on {tp} x {g.name}, {b.name} profile ({source}): batch {batch}, isl {isl}, "
                    f"osl {osl}")


def _with_field(make, flag: str):
    """Run `make`; an InputError that names a scenario field is re-pointed at the command-line flag."""
    from chaos.errors import InputError
    try:
        return make()
    except InputError as err:
        field = err.field or ""
        if field in ("batch", "isl", "osl"):
            err.field = f"--{field}"
        elif field.startswith("deployment"):
            err.field = flag
        raise


def format_estimate(r, setup: str) -> str:
    """The text form of an Estimate."""
    mem = r.memory_gib
    fits = "yes" if r.fits else "NO"
    lines = [
        setup,
        f"ttft_ms               {r.ttft_ms:10.2f}   one pass prefilling the whole batch",
        f"tpot_ms               {r.tpot_ms:10.3f}   mean decode step over the output",
        f"request_latency_ms    {r.request_latency_ms:10.1f}   ttft + (osl-1) x tpot",
        f"tokens_per_s          {r.tokens_per_s:10.1f}   output tokens/s of the batch",
        f"tokens_per_s_per_gpu  {r.tokens_per_s_per_gpu:10.1f}",
        f"tokens_per_s_per_user {r.tokens_per_s_per_user:10.1f}",
        f"fits in KV            {fits:>10s}   largest batch that fits: {r.max_batch}",
        f"memory per GPU (GiB)  weights {mem['weights']:.2f}, kv {mem['kv']:.2f}, "
        f"activations {mem['activations']:.2f}, reserve {mem['reserve']:.2f}",
    ]
    return "\n".join(lines)
