"""Shared test data of the scenario room: a valid scenario text whose topology lives in data/."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"

VALID = """\
name: basic-aggregated
seed: 7
duration: 5m
topology: h100-2x8.yaml
deployment:
  model: llama-3.1-8b
  replicas: 4
  tp: 2
engine:
  max_num_seqs: 128
  block_size: 16
workload:
  synthetic:
    arrival: poisson
    rate: 20/s
    input: {dist: fixed, value: 512}
    output: {dist: fixed, value: 128}
router: {policy: round_robin}
"""

VALID_WITH_FAULTS = VALID + """\
faults:
  - {type: gpu_crash, at: 1m, duration: 1m, target: {gpu: rack0/host0/gpu0}}
  - include: spike.faults.yaml
  - {type: straggler, at: 4m, duration: 20s, factor: 1.5, target: {gpu: rack0/host1/gpu3}}
slo: {ttft_p99: 2s, tpot_p99: 100ms}
steady_state:
  - {probe: ttft_p99, window: 30s, max: 2s, phases: [before, after]}
  - {probe: throughput_tok_s, window: 1m, min_ratio_to_baseline: 0.7, phases: [during]}
  - {probe: requests_failed, max: 0}
"""
"""VALID plus faults (one an include of data/spike.faults.yaml, which includes another file), an SLO
and a steady-state hypothesis."""
