"""tenants: each tenant's stream (own workload, a share of workload:, the rest) merged into one run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chaos.errors import WorkloadError
from chaos.workload import WorkloadConfig
from chaos.workload.tenants import TenantConfig, build_tenant_workload, check_tenants

SYN = {"synthetic": {"arrival": "poisson", "rate": "10/s", "duration": "60s",
                     "input": {"dist": "uniform", "min": 100, "max": 4000},
                     "output": {"dist": "fixed", "value": 50}}}
OWN = {"synthetic": {"arrival": "constant", "rate": "2/s", "duration": "60s",
                     "input": {"dist": "fixed", "value": 8000}, "output": {"dist": "fixed", "value": 10}}}


def build(tenants, seed=1):
    cfgs = [TenantConfig.model_validate(t) for t in tenants] if tenants is not None else None
    return build_tenant_workload(WorkloadConfig.model_validate(SYN), cfgs, seed=seed, base_dir=Path("."),
                                 duration_s=60.0)


def test_without_tenants_the_stream_is_the_workload_alone():
    wl = build(None)
    assert wl.tenant is None and wl.tenant_of(0) == 0


def test_own_workload_merges_by_arrival_and_keeps_the_rest_unchanged():
    alone = build(None)
    wl = build([{"name": "chat"}, {"name": "batch", "workload": OWN}])
    assert np.all(np.diff(wl.arrival_s) >= 0)
    chat = wl.tenant == 0
    assert np.array_equal(wl.arrival_s[chat], alone.arrival_s)          # the rest tenant: arrivals unchanged (constant 2/s from 0.5s: 119 before 60s)
    assert np.array_equal(wl.input_tokens[chat], alone.input_tokens)
    assert (wl.tenant == 1).sum() == 119 and np.all(wl.input_tokens[wl.tenant == 1] == 8000)


def test_adding_a_tenant_never_shifts_another_tenants_draws():
    a = build([{"name": "chat"}, {"name": "batch", "workload": OWN}])
    b = build([{"name": "chat"}, {"name": "x", "workload": OWN}, {"name": "batch", "workload": OWN}])
    sel_a, sel_b = a.tenant == 1, b.tenant == 2
    assert np.array_equal(a.arrival_s[sel_a], b.arrival_s[sel_b])


def test_shares_by_fraction_and_by_field_split_the_workload():
    wl = build([{"name": "long", "share": {"field": "input_tokens", "min": 3000}},
                {"name": "some", "share": {"fraction": 0.25}}, {"name": "rest"}])
    alone = build(None)
    assert len(wl) == len(alone)
    assert np.all(wl.input_tokens[wl.tenant == 0] >= 3000)
    assert np.all(wl.input_tokens[wl.tenant != 0] < 3000)
    frac = (wl.tenant == 1).sum() / (wl.tenant != 0).sum()
    assert 0.17 < frac < 0.33
    again = build([{"name": "long", "share": {"field": "input_tokens", "min": 3000}},
                   {"name": "some", "share": {"fraction": 0.25}}, {"name": "rest"}])
    assert np.array_equal(again.tenant, wl.tenant)                          # same seed, same split


@pytest.mark.parametrize("tenants,field,words", [
    ([{"name": "a"}, {"name": "a", "share": {"fraction": 0.2}}], "tenants[1].name", "already tenants[0]"),
    ([{"name": "a"}, {"name": "b"}], "tenants[1]", "both take the rest"),
    ([{"name": "a", "share": {"fraction": 0.7}}, {"name": "b", "share": {"fraction": 0.5}}],
     "tenants[1].share.fraction", "add up to 1.2"),
    ([{"name": "a", "share": {"field": "input_tokens", "min": 100, "max": 500}},
      {"name": "b", "share": {"field": "input_tokens", "min": 400}}], "tenants[1].share", "overlaps tenants[0]"),
    ([{"name": "a", "workload": OWN}], "tenants", "nobody takes"),
], ids=["duplicate", "two-rests", "fractions", "overlapping-ranges", "nobody-takes-workload"])
def test_cross_tenant_mistakes(tenants, field, words):
    errors = check_tenants([TenantConfig.model_validate(t) for t in tenants])
    assert errors and errors[0][0] == field and words in errors[0][1]


def test_selectors_on_different_fields_that_catch_one_request_twice_fail_at_build():
    with pytest.raises(WorkloadError, match="match both tenant 'long' and 'short-out'"):
        build([{"name": "long", "share": {"field": "input_tokens", "min": 2000}},
               {"name": "short-out", "share": {"field": "output_tokens", "max": 100}}, {"name": "rest"}])


def test_unclaimed_requests_without_a_rest_tenant_are_an_error():
    with pytest.raises(WorkloadError, match="match no tenant's share"):
        build([{"name": "long", "share": {"field": "input_tokens", "min": 2000}}])


@pytest.mark.parametrize("bad,words", [
    ({"name": "a", "weight": -1}, "positive fair-share weight"),
    ({"name": "a", "weight": 0}, "positive fair-share weight"),
    ({"name": "a", "priority": "premium"}, "interactive"),
    ({"name": "a", "share": {"fraction": 0.5, "min": 3}}, "not with fraction"),
    ({"name": "a", "limits": {}}, "limits needs"),
    ({"name": "a", "isolation": []}, "at least one"),
    ({"name": "a b"}, "letters, digits"),
])
def test_bad_tenant_fields(bad, words):
    with pytest.raises(ValueError, match=words):
        TenantConfig.model_validate(bad)


def test_named_priorities_follow_vllm_lower_first():
    assert [TenantConfig(name="x", priority=p).priority for p in ("interactive", "standard", "batch", 7)] == [0, 1, 2, 7]
