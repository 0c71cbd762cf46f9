"""YAML with positions: 1-based key/value positions, duplicate keys, safe loading only."""
from __future__ import annotations

import pytest

from chaos.errors import ScenarioError
from chaos.scenario.yamlpos import Position, dotted, load_yaml

TEXT = """\
a: 1
b:
  c: [10, 20]
  d: {e: x}
"""


def test_positions_of_keys_and_values():
    data, pos = load_yaml(TEXT, "f.yaml")
    assert data == {"a": 1, "b": {"c": [10, 20], "d": {"e": "x"}}}
    assert pos[("a",)] == Position("f.yaml", (1, 1), (1, 4))
    assert pos[("b",)] == Position("f.yaml", (2, 1), (3, 3))
    assert pos[("b", "c", 1)] == Position("f.yaml", None, (3, 11))
    assert pos[("b", "d", "e")] == Position("f.yaml", (4, 7), (4, 10))
    assert pos[()].value == (1, 1)


def test_merge_key_may_be_overridden_but_own_keys_may_not_repeat():
    data, _ = load_yaml("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\ne: *b\n", "f.yaml")
    assert data["d"] == {"x": 3, "y": 2} and data["e"] == {"x": 1, "y": 2}
    with pytest.raises(ScenarioError, match="duplicate key 'x': first on line 2, again on line 3"):
        load_yaml("d:\n  x: 1\n  x: 2\n", "f.yaml")


@pytest.mark.parametrize("text, match, line", [
    ("a: !!python/object/apply:os.system [ls]\n", "python/object", 1),
    ("a: !custom 1\n", "'!custom'", 1),
    ("a: !!binary aGVsbG8=\n", "binary values", 1),
    ("a: &x [1, *x]\n", "recursive alias", 1),
    ("a: 1\n---\nb: 2\n", "expected a single document", 2),
    ("? [1, 2]\n: x\n", "mapping key must be a plain scalar", 1),
    ("a: b: c\n", "mapping values are not allowed here", 1),
    ("a: 'unclosed\n", "unexpected end of stream", 2),
], ids=["python-tag", "custom-tag", "binary", "recursive-alias", "two-documents", "complex-key",
        "nested-colon", "unclosed-quote"])
def test_rejected_yaml(text, match, line):
    with pytest.raises(ScenarioError, match=match) as info:
        load_yaml(text, "f.yaml")
    assert info.value.file == "f.yaml" and info.value.line == line


def test_dotted_paths():
    assert dotted(("faults", 2, "type")) == "faults[2].type"
    assert dotted(()) == ""
