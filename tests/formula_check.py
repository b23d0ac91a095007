"""Evaluate worked formulas as they are written: every 'expression = value' in a text must hold.

The oracle for "what is written is what is stated": arithmetic is parsed with `ast` (numbers,
+ - * /, parentheses; thousands separators '9,216' read as 9216), never with eval.
"""

from __future__ import annotations

import ast
import math
import operator
import re

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_VALUE = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_ALLOWED = re.compile(r"[\d\s+\-*/().,]+")


def evaluate(expression: str) -> float:
    """The value of an arithmetic expression; ValueError for anything else."""
    tree = ast.parse(_THOUSANDS.sub("", expression).strip(), mode="eval")

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(f"not arithmetic: {ast.dump(node)}")

    return value(tree.body)


def _expression_before(text: str) -> str | None:
    """The longest arithmetic expression that ends `text` (None if it ends on prose)."""
    for start in range(len(text)):
        candidate = text[start:]
        if not _ALLOWED.fullmatch(candidate) or not re.search(r"\d", candidate):
            continue
        if not re.search(r"[+\-*/]", candidate) and not re.fullmatch(r"\s*[\d,]+\s*", candidate):
            continue
        try:
            evaluate(candidate)
        except (SyntaxError, ValueError, ZeroDivisionError):
            continue
        return candidate
    return None


def equalities(text: str) -> list[tuple[str, float, str]]:
    """Every (expression, its value, the stated value) in `text`, for 'expression = stated'."""
    found = []
    for m in re.finditer(r" = ", text):
        stated = _VALUE.match(text, m.end())
        expression = _expression_before(text[: m.start()])
        if stated is None or expression is None:
            continue
        found.append((expression.strip(), evaluate(expression), stated.group().rstrip(",")))
    return found


def assert_consistent(text: str) -> None:
    """Each equality holds as written: exactly, or to the 2 decimals it states."""
    pairs = equalities(text)
    assert pairs, f"no formula in {text!r}"
    for expression, value, stated in pairs:
        number = float(stated.replace(",", ""))
        if "." in stated:
            assert abs(value - number) <= 0.005 + 1e-9, (
                f"{expression} = {value}, not {stated}: {text}"
            )
        else:
            assert value == number, f"{expression} = {value}, not {stated}: {text}"


def worked_length(text: str) -> int:
    """The output length a worked output-size formula ends on, after checking every step:
    the flooring or rounding up it states, and PyTorch's dropped last window in ceil mode."""
    assert_consistent(text)
    exact = equalities(text)[0][1]
    if m := re.search(r"floored to (\d+)", text):
        assert int(m.group(1)) == math.floor(exact), text
    if m := re.search(r"ceil mode rounds up to (\d+)", text):
        assert int(m.group(1)) == math.ceil(exact), text
        if d := re.search(r"drops it, so (\d+)$", text):
            assert int(d.group(1)) == int(m.group(1)) - 1, text
    if not re.search(r"floored|rounds up", text):
        assert exact == int(exact), text
    return int(re.findall(r"\d+", text)[-1])
