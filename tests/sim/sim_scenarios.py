"""Small scenarios for whole-run tests: an inline fabric and a synthetic workload."""
from __future__ import annotations

from pathlib import Path

import yaml

TRACES = Path(__file__).resolve().parents[2].parent / "shared" / "traces"


def scenario_text(*, replicas: int = 2, tp: int = 1, model: str = "llama-3.1-8b", gpu: str = "h100-sxm",
                  rate: str = "4/s", requests: int = 60, arrival: str = "poisson", policy: str = "least_outstanding",
                  stepper: str = "fast", seed: int = 1, input_median: int = 800, output_median: int = 120,
                  mode: str = "aggregated", extra: dict | None = None) -> str:
    """A complete small scenario as YAML text (inline topology, synthetic workload)."""
    if mode == "aggregated":
        deployment = {"model": model, "replicas": replicas, "tp": tp}
    else:
        deployment = {"model": model, "mode": "disaggregated", "prefill": {"replicas": replicas, "tp": tp},
                      "decode": {"replicas": replicas, "tp": tp}}
    doc = {
        "name": "small",
        "seed": seed,
        "topology": {"name": "one-host", "gpu": gpu, "racks": 1, "hosts_per_rack": 2, "gpus_per_host": 8},
        "deployment": deployment,
        "engine": {"stepper": stepper, "max_num_seqs": 64, "max_num_batched_tokens": 2048},
        "workload": {"synthetic": {
            "arrival": arrival, "rate": rate, "requests": requests,
            "input": {"dist": "lognormal", "median": input_median, "sigma": 0.6, "max": 8000},
            "output": {"dist": "lognormal", "median": output_median, "sigma": 0.6, "max": 1000},
        }},
        "router": {"policy": policy},
        "slo": {"ttft_p99": "2s", "tpot_p99": "100ms"},
        "metrics": {"window": "5s"},
    }
    for key, value in (extra or {}).items():
        doc[key] = value
    return yaml.safe_dump(doc, sort_keys=False)

