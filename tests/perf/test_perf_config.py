"""The `efficiency:` YAML section."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from chaos.perf import Efficiency
from chaos.perf.config import EfficiencyConfig


def test_defaults_match_dataclass():
    assert EfficiencyConfig().to_efficiency() == Efficiency()


def test_overrides_with_units():
    eff = EfficiencyConfig.model_validate({"mfu": 0.5, "overhead": "3ms"}).to_efficiency()
    assert eff.mfu == 0.5 and eff.overhead_s == pytest.approx(3e-3)


@pytest.mark.parametrize("data", [{"mfu": 0}, {"memory_efficiency": 1.2}, {"overhead": "fast"}, {"mfux": 0.5}],
                         ids=["mfu-zero", "mem-above-one", "overhead-not-duration", "unknown-key"])
def test_bad_config(data):
    with pytest.raises(ValidationError):
        EfficiencyConfig.model_validate(data)
