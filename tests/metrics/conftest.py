"""Shared fixture: a five-request log whose metrics are computed by hand in the tests."""
from __future__ import annotations

import math

import pytest

from chaos.metrics import RequestLog, Status

NAN = math.nan


def five() -> RequestLog:
    """0,1,2 complete; 3 fails after its first token; 4 is rejected."""
    return RequestLog(
        id=[0, 1, 2, 3, 4],
        arrival_s=[0.0, 1.0, 2.0, 3.0, 4.0],
        first_token_s=[1.0, 1.5, 4.0, 3.5, NAN],
        finish_s=[3.0, 1.7, 5.0, NAN, NAN],
        input_tokens=[100, 200, 300, 400, 500],
        output_tokens=[5, 3, 11, 8, 9],
        generated_tokens=[5, 3, 11, 2, 0],
        status=[Status.COMPLETED, Status.COMPLETED, Status.COMPLETED, Status.FAILED, Status.REJECTED],
        reason=["", "", "", "replica crash", "queue full"],
        replica=["aggregated-0", "aggregated-1", "aggregated-0", "aggregated-1", ""],
        prefix_hit_tokens=[50, 0, 100, 0, 0],
    )


@pytest.fixture
def log5() -> RequestLog:
    return five()
