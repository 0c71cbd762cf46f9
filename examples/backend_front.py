"""How the backend choice moves one deployment along the throughput-latency front.

One deployment (Llama-3.1-70B, TP4 on H100, prompts of 2,000 tokens, answers of 300) under each backend
profile, over the batch sizes the scheduler could run: each point is output tokens/s per GPU (what the
fleet costs) against tokens/s per user (what each user sees). A backend whose per-iteration overhead is
lower (SGLang's overlap scheduler, TensorRT-LLM's C++ runtime) shifts the front outwards at small batches,
where the overhead is a larger share of a decode step. The fronts cross at large batches: the trtllm
profile, calibrated to TensorRT-LLM's published static batches (docs/calibration.md), pays ~32 us per
scheduled sequence, so past ~64 sequences it falls behind vLLM and SGLang.

Run: python examples/backend_front.py [--model M --gpu G --tp N --isl I --osl O]
The numbers are `fleetchaos estimate` for each (backend, batch); swap a profile with --catalog and a
calibrated file (`fleetchaos calibrate ... --out`) to compare your own measurements.
"""
from __future__ import annotations

import argparse

BATCHES = (1, 4, 16, 64, 128, 256)


def front(model: str = "llama-3.1-70b", gpu: str = "h100-sxm", tp: int = 4, isl: int = 2000, osl: int = 300,
          backends=("vllm", "sglang", "trtllm"), catalog=()) -> dict[str, list[tuple[int, float, float]]]:
    """{backend: [(batch, tokens/s per GPU, tokens/s per user), ...]} for the batches that fit in KV."""
    from chaos.cli_estimate import run_estimate

    out: dict[str, list[tuple[int, float, float]]] = {}
    for backend in backends:
        points = []
        for batch in BATCHES:
            est, _ = run_estimate(model=model, gpu=gpu, tp=tp, backend=backend, batch=batch, isl=isl, osl=osl,
                                  catalog=catalog)
            if est.fits:
                points.append((batch, est.tokens_per_s_per_gpu, est.tokens_per_s_per_user))
        out[backend] = points
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama-3.1-70b")
    parser.add_argument("--gpu", default="h100-sxm")
    parser.add_argument("--tp", type=int, default=4)
    parser.add_argument("--isl", type=int, default=2000)
    parser.add_argument("--osl", type=int, default=300)
    args = parser.parse_args()
    fronts = front(args.model, args.gpu, args.tp, args.isl, args.osl)
    print(f"{args.model}, TP{args.tp} on {args.gpu}, isl {args.isl}, osl {args.osl}")
    print(f"{'batch':>6} " + " ".join(f"{b + ' tok/s/GPU':>18} {'tok/s/user':>10}" for b in fronts))
    for i, batch in enumerate(BATCHES):
        cells = []
        for points in fronts.values():
            row = next((p for p in points if p[0] == batch), None)
            cells.append(f"{row[1]:>18.0f} {row[2]:>10.1f}" if row else f"{'(no KV room)':>29}")
        print(f"{batch:>6} " + " ".join(cells))


if __name__ == "__main__":
    main()
