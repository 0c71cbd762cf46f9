"""fleetchaos serve with tenants: the X-Tenant header puts a request in a tenant, whose limits the router
applies, and the result has per-tenant summaries; an unknown tenant is a 400."""
from __future__ import annotations

import json

import httpx
import pytest

from tests.serve.conftest import FLEET, serving, write_scenario

BODY = {"model": "llama-3.1-8b", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8,
        "prompt_tokens": 500}


def test_x_tenant_selects_the_tenant_its_limit_and_its_summary(tmp_path):
    doc = json.loads(json.dumps(FLEET))
    doc["tenants"] = [{"name": "chat", "priority": "interactive"},
                      {"name": "bulk", "priority": "batch", "share": {"fraction": 0.5},
                       "limits": {"rate": "0.1/s", "burst": "10s"}}]          # one request, then 1 per 10 s
    with serving(write_scenario(tmp_path, doc), speed=4.0) as srv:
        post = lambda tenant: httpx.post(srv.url + "/v1/chat/completions", json=BODY, timeout=30,
                                         headers={"X-Tenant": tenant} if tenant else {})
        bulk = [post("bulk").status_code for _ in range(3)]
        chat = [post("chat").status_code for _ in range(2)] + [post(None).status_code]
        bad = post("bluk")
    assert bulk == [200, 503, 503] and chat == [200, 200, 200]
    assert bad.status_code == 400 and "did you mean bulk" in bad.json()["error"]["message"]
    result = srv.result.result
    per = result.tenant_summaries
    assert per["bulk"].requests["arrived"] == 3 and per["bulk"].requests["rejected"] == 2
    assert per["chat"].requests["arrived"] == 3 and per["chat"].requests["completed"] == 3
    assert per["chat"].ttft_s.p50 > 0 and result.stats["tenancy"] == {"bulk": {"tenant rate limit": 2}}
