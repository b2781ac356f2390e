"""Arithmetic expressions read safely: an ``ast`` walk over a whitelist, never ``eval``.

Two uses. ``evaluate_expression`` computes a number (the 24-points check): numbers, + - * / //
% ** and unary signs, nothing else (no names, calls, attributes, subscripts or bitwise
operators); exponents are capped so ``9**9**9`` is refused instead of hanging.

``compare_expression_function`` (official ``function_id``) decides whether a response equation
states the same expression as one of the gold equations. Officially that is sympy's
``parse_expr(lhs, evaluate=False)`` followed by a *top-level* comparison: the same head
(Add, Mul, Pow, number, symbol); for Add and Mul the same number of arguments and the same
*set* of printed arguments (so order of the outer + or × never matters); otherwise exact
structural equality. This module rebuilds that without sympy or ``eval``:

* ``a - b`` is ``Add(a, Mul(-1, b))`` and ``a / b`` is ``Mul(a, Pow(b, -1))``, chains of the
  same operator flatten (``(1+2)+3`` is ``Add(1, 2, 3)``), and ``-5`` is the number -5 — as
  sympy's ``evaluate=False`` transformer does;
* a nested sum prints with its terms in canonical order (sympy's printer sorts them); a nested
  product prints as sympy's printer does: in the order written when a number follows its first
  factor (``5*4`` vs ``4*5`` differ), otherwise with a negative coefficient pulled out and the
  factors sorted (``10-2*3`` and ``10-3*2`` both hold ``-2*3``); so ``2*(3+4)`` matches
  ``(4+3)*2`` but ``2*3+4*5`` does not match ``5*4+3*2`` (official quirk);
* official quirk: the arguments are compared as a *set* with equal counts, so
  ``2+2+3 = 7`` matches ``2+3+3 = 8``'s left side; the right side of ``=`` is ignored.

Measured against sympy 1.14 on identical inputs: all 6,889 pairs of an 83-expression corpus
of integer equations agree (``tests/.../test_puzzle_expressions.py``); on random expressions
(mostly reorderings of one another) with floats, symbols and nested divisions 3-6 pairs in
6,000 differ, 14 with negative literals too (sympy's printer there depends on construction
details: ``(-5)`` and ``-5`` even print differently). Also different, on input
the extraction prompt does not produce: ``-(3+4)`` stays a negated sum (sympy folds it to
-7), ``^``/``×``/``÷`` and function calls are refused, and names such as ``pi`` or ``E`` are
plain symbols here.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, NamedTuple

from mmrft.rewards.puzzle_rules.rules import RULES, RuleInputError

MAX_EXPRESSION_CHARS = 1000
MAX_EXPONENT = 64
MAX_POWER_BASE = 10**6


class ExpressionError(RuleInputError):
    """Text that is not a supported arithmetic expression (the message says what was refused)."""


def _parse(text: Any) -> ast.expr:
    if not isinstance(text, str):
        raise ExpressionError(f"expected expression text, got {type(text).__name__}")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        with warnings.catch_warnings():  # e.g. "1else": a SyntaxWarning, then refused anyway
            warnings.simplefilter("ignore", SyntaxWarning)
            return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"not an arithmetic expression: {text.strip()[:60]!r}") from None


def _refuse(node: ast.AST) -> ExpressionError:
    return ExpressionError(f"unsupported syntax in expression: {type(node).__name__}")


def _number(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    raise _refuse(node)


# --- evaluation -------------------------------------------------------------------------


def _power(base: Any, exponent: Any) -> Any:
    if abs(exponent) > MAX_EXPONENT or abs(base) > MAX_POWER_BASE:
        raise ExpressionError(f"power too large: {base} ** {exponent}")
    if isinstance(base, Fraction):
        if exponent != int(exponent):
            raise ExpressionError("exact arithmetic needs an integer exponent")
        return base ** int(exponent)
    return base**exponent


_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: _power,
}


def _evaluate(node: ast.AST, exact: bool) -> Any:
    if isinstance(node, ast.Constant):
        value = _number(node)
        return Fraction(value) if exact else value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, exact)
        return -value if isinstance(node.op, ast.USub) else +value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, exact), _evaluate(node.right, exact)
        return _BINARY[type(node.op)](left, right)
    raise _refuse(node)


def evaluate_expression(text: str, *, exact: bool = False) -> int | float | Fraction:
    """The value of an arithmetic expression, with Python's semantics (``/`` is true division).

    ``exact=True`` computes with ``Fraction`` (``8/(3-8/3)`` is exactly 24 there, but
    23.999999999999996 in floats, as the official ``eval`` computes it). Raises
    ``ExpressionError`` for anything outside the whitelist, a division by zero or an overflow.

    >>> evaluate_expression("(10 - 4) * 4"), evaluate_expression("8/(3-8/3)", exact=True)
    (24, Fraction(24, 1))
    >>> evaluate_expression("__import__('os').system('x')")
    Traceback (most recent call last):
    ...
    mmrft.rewards.puzzle_rules.expressions.ExpressionError: unsupported syntax in expression: Call
    """
    try:
        return _evaluate(_parse(text), exact)
    except (ZeroDivisionError, OverflowError, RecursionError) as exc:
        raise ExpressionError(f"cannot evaluate: {type(exc).__name__}") from None


# --- structural comparison (sympy evaluate=False, rebuilt) ---------------------------------


class Term(NamedTuple):
    """One node of an unevaluated expression: ``head`` is add/mul/pow/neg/int/float/sym."""

    head: str
    args: tuple[Any, ...]


def _flatten(head: str, parts: list[Term]) -> tuple[Term, ...]:
    out: list[Term] = []
    for part in parts:
        out.extend(part.args if part.head == head else (part,))
    return tuple(out)


def to_term(node: ast.AST) -> Term:
    """The unevaluated form sympy's ``parse_expr(..., evaluate=False)`` would build."""
    if isinstance(node, ast.Constant):
        value = _number(node)
        return Term("int" if type(value) is int else "float", (value,))
    if isinstance(node, ast.Name):
        return Term("sym", (node.id,))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = to_term(node.operand)
        if isinstance(node.op, ast.UAdd):
            return inner
        if inner.head in ("int", "float"):
            return Term(inner.head, (-inner.args[0],))
        return Term("neg", (inner,))
    if isinstance(node, ast.BinOp):
        left, right = to_term(node.left), to_term(node.right)
        if isinstance(node.op, ast.Add):
            return Term("add", _flatten("add", [left, right]))
        if isinstance(node.op, ast.Sub):
            return Term("add", _flatten("add", [left, Term("mul", (Term("int", (-1,)), right))]))
        if isinstance(node.op, ast.Mult):
            return Term("mul", _flatten("mul", [left, right]))
        if isinstance(node.op, ast.Div):
            return Term("mul", _flatten("mul", [left, Term("pow", (right, Term("int", (-1,))))]))
        if isinstance(node.op, ast.Pow):
            return Term("pow", (left, right))
    raise _refuse(node)


def _is_number(term: Term) -> bool:
    return term.head in ("int", "float")


def _is_int_power(term: Term) -> bool:
    return term.head == "pow" and all(arg.head == "int" for arg in term.args)


def _is_denominator(term: Term) -> bool:
    return term.head == "pow" and _is_number(term.args[1]) and term.args[1].args[0] < 0


_RANK = {"int": 0, "float": 0, "sym": 1, "pow": 2, "mul": 3, "add": 4, "neg": 5}


def _factor_order(term: Term) -> tuple[Any, ...]:
    """Canonical factor order (sympy sorts numbers first, then symbols, then compounds)."""
    if _is_number(term):
        return (0, term.args[0], "")
    return (_RANK[term.head], 0, printed(term))


def _factor(term: Term) -> str:
    text = printed(term)
    return f"({text})" if term.head in ("add", "neg") and not text.startswith("-") else text


def _fraction(factors: list[Term]) -> str:
    """``n1*n2/(d1*d2)``: factors with a negative numeric exponent go below the line."""
    denominators = [f for f in factors if _is_denominator(f)]
    numerators = [f for f in factors if not _is_denominator(f)]
    top = "*".join(_factor(f) for f in numerators) or "1"
    below = [
        base
        if exponent.args[0] == -1
        else Term("pow", (base, Term(exponent.head, (-exponent.args[0],))))
        for base, exponent in (d.args for d in denominators)
    ]
    if not below:
        return top
    bottom = "*".join(_factor(f) if f.head != "pow" else printed(f) for f in below)
    return f"{top}/({bottom})" if len(below) > 1 else f"{top}/{bottom}"


def _printed_mul(args: tuple[Term, ...]) -> str:
    # sympy's StrPrinter: an unevaluated product whose first factor is 1, or with a number
    # (or an integer power) after the first factor, prints its factors in the order written;
    # any other product pulls out a negative coefficient as a sign and sorts its factors.
    first = args[0]
    if (first.head == "int" and first.args[0] == 1) or any(
        _is_number(a) or _is_int_power(a) for a in args[1:]
    ):
        return _fraction(list(args))
    sign, factors = "", list(args)
    if _is_number(first):
        coefficient = first.args[0]
        rest = list(args[1:])
        if len(rest) == 1 and rest[0].head == "mul":
            rest = list(rest[0].args)
        if coefficient < 0:
            sign, coefficient = "-", -coefficient
        factors = ([] if coefficient == 1 else [Term(first.head, (coefficient,))]) + rest
    return sign + _fraction(sorted(factors, key=_factor_order))


def printed(term: Term) -> str:
    """How sympy's ``str`` would print ``term``, up to layout: equal for two terms exactly when
    sympy prints them the same on the supported syntax (sums in canonical order).

    >>> printed(to_term(ast.parse("(4 + 3) * 2", mode="eval").body))
    '(3 + 4)*2'
    """
    if term.head == "int":
        return str(term.args[0])
    if term.head == "float":
        return f"{term.args[0]!r}f"  # sympy prints Float('1.5') as 1.50000000000000
    if term.head == "sym":
        return term.args[0]
    if term.head == "neg":
        return "-" + _factor(term.args[0])
    if term.head == "add":
        return " + ".join(sorted(printed(arg) for arg in term.args))
    if term.head == "pow":
        base, exponent = term.args
        if _is_number(exponent) and exponent.args[0] == -1:
            return "1/" + _factor(base) if base.head != "pow" else "1/(" + printed(base) + ")"
        return f"({printed(base)})**({printed(exponent)})"
    return _printed_mul(term.args)


def _lhs_term(equation: Any, field: str) -> Term:
    if not isinstance(equation, str):
        raise RuleInputError(f"{field}: expected an equation string, got {type(equation).__name__}")
    try:
        return to_term(_parse(equation.split("=")[0]))
    except ExpressionError as exc:
        raise ExpressionError(f"{field}: {exc}") from None


def _same_expression(a: Term, b: Term) -> bool:
    if a.head != b.head:
        return False
    if a.head in ("add", "mul"):
        return len(a.args) == len(b.args) and {printed(x) for x in a.args} == {
            printed(x) for x in b.args
        }
    # Exact structure, argument order included; heads keep Integer(2) apart from Float(2.0).
    return a == b


def equations_match(equation: str, gold_equations: list[str]) -> bool:
    """Whether ``equation``'s left side is, at the top level, one of the gold left sides.

    >>> equations_match("(4 + 3) * 2 = 14", ["2*(3+4)=14"])
    True
    >>> equations_match("2*3 + 8 = 14", ["2*(3+4)=14"])
    False
    """
    mine = _lhs_term(equation, "response.equation")
    return any(
        _same_expression(mine, _lhs_term(gold, f"answer[{i}]"))
        for i, gold in enumerate(gold_equations)
    )


@RULES.register("compare_expression_function")
def compare_expression_function(response: Any, answer: Any, special_info: Any = None) -> bool:
    """``{"equation": "2*(3+4) = 14"}`` against a list of acceptable gold equations."""
    if not isinstance(response, Mapping) or "equation" not in response:
        raise RuleInputError("response: expected an object with an 'equation' string")
    if not isinstance(answer, list | tuple):
        raise RuleInputError(f"answer: expected a list of equations, got {type(answer).__name__}")
    return equations_match(response["equation"], list(answer))
