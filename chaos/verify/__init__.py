"""Simulate, then verify: read what a benchmark measured on a real deployment (AIPerf's
profile_export.jsonl, `vllm bench serve --save-result` JSON), simulate the same scenario, and report
the two side by side with a verdict against a tolerance."""
from chaos.verify.compare import (DEFAULT_TOLERANCE, METRICS, Comparison, Row, Tolerance, compare,
                                  parse_tolerance)
from chaos.verify.readers import FORMATS, Measured, MeasuredError, read_aiperf, read_measured, read_vllm
from chaos.verify.run import VerifyResult, verify

__all__ = ["verify", "VerifyResult", "read_measured", "read_aiperf", "read_vllm", "Measured", "MeasuredError",
           "FORMATS", "compare", "Comparison", "Row", "Tolerance", "parse_tolerance", "DEFAULT_TOLERANCE",
           "METRICS"]
