"""The constraint language: whitelisted ast, never eval."""
from __future__ import annotations

import pytest

from chaos.sweep.expr import ExprError, lookup_in, parse

DATA = {"deployment": {"tp": 4, "replicas": 8, "prefill": {"replicas": 2, "tp": 4}},
        "faults": [{"target": {"value": 3}}], "router": {"policy": "kv_aware"}}


def _eval(text: str, derived: dict | None = None):
    return parse(text).evaluate(lambda name: lookup_in(DATA, name, derived))


@pytest.mark.parametrize("text,expected", [
    ("deployment.tp * deployment.replicas == 32", True),
    ("deployment.prefill.replicas * deployment.prefill.tp + 1", 9),
    ("faults[0].target.value >= 3 and not deployment.tp > 4", True),
    ("router.policy in ['kv_aware', 'random']", True),
    ("router.policy not in ('kv_aware',)", False),
    ("1 < deployment.tp <= 4", True),
    ("total_gpus // 8 % 3", 1),
    ("max(deployment.tp, 2) ** 2 - abs(-1)", 15),
    ("deployment.tp if deployment.tp > 2 else 0", 4),
    ("deployment.tp / 8", 0.5),
], ids=lambda v: str(v))
def test_evaluates(text, expected):
    assert _eval(text, {"total_gpus": 32}) == expected


@pytest.mark.parametrize("text,fragment", [
    ("__import__('os').system('true')", "function call"),
    ("().__class__", "Attribute"),
    ("deployment.__class__", "'deployment.__class__'"),
    ("open('/etc/passwd')", "function call"),
    ("[x for x in deployment]", "ListComp"),
    ("lambda: 1", "Lambda"),
    ("deployment.tp is 4", "'is'"),
    ("deployment.tp == ", "does not parse"),
    ("f'{deployment}'", "JoinedStr"),
    ("deployment[router]", "Subscript"),
    ("", "expected an expression"),
], ids=["import", "dunder-attr", "dunder-path", "open", "comprehension", "lambda", "is", "syntax", "fstring",
        "name-index", "empty"])
def test_refuses_what_is_not_whitelisted(text, fragment):
    with pytest.raises(ExprError, match=None) as info:
        parse(text)
    assert fragment in info.value.message


def test_refusal_names_the_column():
    with pytest.raises(ExprError) as info:
        parse("deployment.tp == 4 and open('x')")
    assert info.value.column == 24


@pytest.mark.parametrize("text,fragment", [
    ("deployment.tp ** 1000", "exponent"),
    ("'a' * 100000000", "repeating"),
    ("deployment.tp / 0", "division by zero"),
    ("nope.field == 1", "unknown name 'nope.field'"),
    ("router.policy < 3", "not supported"),
])
def test_evaluation_errors_are_expr_errors(text, fragment):
    with pytest.raises(ExprError) as info:
        _eval(text)
    assert fragment in info.value.message
