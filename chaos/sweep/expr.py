"""The constraint language of sweep files: a small safe expression language, parsed with `ast` over a
whitelist and interpreted here — never `eval`.

Allowed: numbers, strings, True/False/None, names (dotted field paths with list indices:
`deployment.prefill.tp`, `faults[0].target.value`, or derived names like `total_gpus`), `+ - * / // %`,
`**` (small exponents), unary `- + not`, comparisons (`== != < <= > >= in not in`, chained),
`and`/`or`, `x if c else y`, list/tuple literals, and the functions `min max abs round`.
Anything else (attribute calls, lambdas, comprehensions, dunder names…) is refused when the sweep
file loads, with the column of the offending piece.
"""
from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from typing import Any, Callable, Mapping

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
FUNCTIONS: dict[str, Callable] = {"min": min, "max": max, "abs": abs, "round": round}
_MAX_EXPONENT = 64


class ExprError(ValueError):
    """A constraint does not parse, uses something outside the whitelist, or fails on a point.

    `column` is 1-based within the expression text (None when unknown)."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


def _path_of(node: ast.AST) -> str | None:
    """`a.b[0].c` as written (Name / Attribute / constant-int Subscript chain), else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _path_of(node.value)
        return f"{inner}.{node.attr}" if inner is not None else None
    if isinstance(node, ast.Subscript):
        inner = _path_of(node.value)
        idx = node.slice
        if inner is not None and isinstance(idx, ast.Constant) and type(idx.value) is int:
            return f"{inner}[{idx.value}]"
    return None


@dataclass(frozen=True)
class Expression:
    """A parsed constraint: its text, its tree and the field names it reads."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]

    def evaluate(self, lookup: Callable[[str], Any]) -> Any:
        """The value of the expression, names resolved by `lookup(path)` (which raises KeyError for an
        unknown name). Errors come out as ExprError."""
        try:
            return _Interpreter(lookup).visit(self.tree.body)
        except ExprError:
            raise
        except KeyError as exc:
            raise ExprError(f"unknown name {exc.args[0]!r}") from None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise ExprError(f"cannot evaluate: {exc}") from None


def parse(text: str) -> Expression:
    """Parse and check `text` against the whitelist; raises ExprError with the column of the problem."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError(f"expected an expression like 'total_gpus <= 32' but got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"does not parse: {exc.msg}", exc.offset) from None
    names: list[str] = []
    _check(tree.body, names)
    return Expression(text.strip(), tree, tuple(dict.fromkeys(names)))


def _refuse(node: ast.AST, what: str) -> ExprError:
    return ExprError(f"{what} is not allowed in a constraint; allowed: numbers, strings, field paths, "
                     f"+ - * / // % **, comparisons, and/or/not, x if c else y, lists, "
                     f"{', '.join(FUNCTIONS)}()", getattr(node, "col_offset", -1) + 1 or None)


def _check(node: ast.AST, names: list[str]) -> None:
    """Walk `node`, refusing anything off the whitelist; collect the field paths read."""
    path = _path_of(node)
    if path is not None:
        if any(part.startswith("__") for part in path.replace("[", ".").split(".")):
            raise _refuse(node, f"the name {path!r}")
        names.append(path)
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise _refuse(node, f"the constant {node.value!r}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _refuse(node, f"the operator {type(node.op).__name__}")
        _check(node.left, names)
        _check(node.right, names)
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise _refuse(node, f"the operator {type(node.op).__name__}")
        _check(node.operand, names)
    elif isinstance(node, ast.BoolOp):
        for v in node.values:
            _check(v, names)
    elif isinstance(node, ast.Compare):
        if any(type(op) not in _COMPARE for op in node.ops):
            raise _refuse(node, "'is' / 'is not'")
        _check(node.left, names)
        for c in node.comparators:
            _check(c, names)
    elif isinstance(node, ast.IfExp):
        for part in (node.test, node.body, node.orelse):
            _check(part, names)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for e in node.elts:
            _check(e, names)
    elif isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords:
            raise _refuse(node, "this function call")
        for a in node.args:
            _check(a, names)
    else:
        raise _refuse(node, f"a Python {type(node).__name__} expression")


class _Interpreter(ast.NodeVisitor):
    """Evaluates a checked tree; only the node types `_check` lets through reach it."""

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self.lookup = lookup

    def generic_visit(self, node: ast.AST) -> Any:
        path = _path_of(node)
        if path is not None:
            return self.lookup(path)
        raise _refuse(node, f"a Python {type(node).__name__} expression")  # pragma: no cover - _check refused it

    def visit_Name(self, node: ast.Name) -> Any:
        return self.lookup(node.id)

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
            raise ExprError(f"exponent {right!r} is larger than {_MAX_EXPONENT}", node.col_offset + 1)
        if isinstance(node.op, ast.Mult) and (isinstance(left, (str, list, tuple)) or
                                              isinstance(right, (str, list, tuple))):
            raise ExprError("repeating strings or lists with * is not allowed", node.col_offset + 1)
        return _BINARY[type(node.op)](left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return _UNARY[type(node.op)](self.visit(node.operand))

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            value: Any = True
            for v in node.values:
                value = self.visit(v)
                if not value:
                    return value
            return value
        value = False
        for v in node.values:
            value = self.visit(v)
            if value:
                return value
        return value

    def visit_Compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op, comp in zip(node.ops, node.comparators):
            right = self.visit(comp)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_List(self, node: ast.List) -> list:
        return [self.visit(e) for e in node.elts]

    def visit_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.visit(e) for e in node.elts)

    def visit_Call(self, node: ast.Call) -> Any:
        return FUNCTIONS[node.func.id](*[self.visit(a) for a in node.args])  # type: ignore[attr-defined]

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        return self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        return self.generic_visit(node)


def lookup_in(data: Any, path: str, derived: Mapping[str, Any] | None = None) -> Any:
    """`path` ("faults[0].target.value") in nested dicts/lists `data`; `derived` names first.
    Raises KeyError(path) when something on the way is missing."""
    if derived is not None and path in derived:
        return derived[path]
    from chaos.scenario.schema import parse_field_path
    node = data
    for part in parse_field_path(path):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, int) and str(part) in node:
            node = node[str(part)]
        else:
            raise KeyError(path)
    return node
