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
