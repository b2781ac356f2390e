"""Equation comparison (official compare_expression_function) and safe evaluation."""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction

import pytest

from mmrft.rewards.puzzle_rules import (
    RULES,
    ExpressionError,
    equations_match,
    evaluate_expression,
    judge_rule,
)


@pytest.mark.parametrize(
    "response, gold",
    [
        ("2*(3+4)", "(4+3)*2"),  # outer product reordered, inner sum reordered
        ("2*3*4 = 24", "4*3*2 = 24"),
        ("(2*3)*4", "2*(3*4)"),  # same operator chains flatten
        ("(1+2)*(3+4)", "(4+3)*(2+1)"),
        ("12 + 12", "12+12"),
        ("(8-2)*(3+1) = 24", "(1+3)*(8-2) = 24"),
        ("3*8/2", "8/2*3"),  # division is a factor 2**-1, reorderable at the top
        ("1+2+3", "(3+2)+1"),
        ("24", "24"),
        ("2*x", "x*2"),
        # Official quirk: arguments compare as a set with equal counts.
        ("2+2+3", "2+3+3"),
    ],
)
def test_equal_up_to_argument_order(response, gold):
    assert equations_match(response, [gold]) is True
    assert equations_match(gold, [response]) is True


@pytest.mark.parametrize(
    "response, gold",
    [
        ("2*(3+4)", "14"),  # values equal, expressions not
        ("2*(3+4)", "2*3+2*4"),
        ("10-2", "2-10"),
        ("8/2", "2/8"),
        ("2*12", "2.0*12"),  # Integer vs Float
        ("(1+2)**2", "(2+1)**2"),  # not a sum or product at the top: exact structure
        ("2**3", "3**2"),
        ("2*3*4", "2*12"),  # argument counts differ
        ("2*3+4*5", "5*4+3*2"),  # official quirk: nested products keep their order
        ("(3-1)*12", "(-1+3)*12"),  # 3 - 1*1 is not -1 + 3 to sympy
    ],
)
def test_not_equal(response, gold):
    assert equations_match(response, [gold]) is False


def test_any_of_several_gold_equations():
    golds = ["(10-4)*4 = 24", "4*(10-4) = 24", "6*4 = 24"]
    assert equations_match("4 * (10 - 4) = 24", golds) is True
    assert equations_match("4 * 6 = 24", golds) is True
    assert equations_match("3 * 8 = 24", golds) is False


def test_rule_and_judge_rule():
    rule = RULES.get("compare_expression_function")
    assert rule({"equation": "(4+3)*2 = 14"}, ["2*(3+4)=14"], None) is True
    verdict = judge_rule(
        "compare_expression_function", '{"equation": "(4+3)*2=14"}', "['2*(3+4)=14']"
    )
    assert verdict.correct is True
    for response, reason in [
        ('{"eq": "1+1"}', "equation"),
        ('{"equation": "2 ×3"}', "response.equation"),
        ("{\"equation\": \"__import__('os').system('x')\"}", "Call"),
        ('{"equation": 5}', "response.equation"),
    ]:
        verdict = judge_rule("compare_expression_function", response, "['2*(3+4)=14']")
        assert verdict.correct is False and reason in verdict.reason
    verdict = judge_rule("compare_expression_function", '{"equation": "1"}', "'1'")
    assert verdict.correct is False and "answer" in verdict.reason


def test_evaluate_expression():
    assert evaluate_expression("(10 - 4) * (5 - 1)") == 24
    assert evaluate_expression("7 / 2") == 3.5  # true division, as Python
    assert evaluate_expression("-2 ** 2") == -4  # Python precedence
    assert evaluate_expression("7 // 2 + 7 % 2") == 4
    assert evaluate_expression("1/3 + 1/3 + 1/3", exact=True) == 1
    assert evaluate_expression("2 ** -1", exact=True) == Fraction(1, 2)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('x')",
        "x + 1",
        "(1).real",
        "[1][0]",
        "True + 1",
        "'24'",
        "1j",
        "2 ^ 3",
        "9 ** 9 ** 9",
        "10 ** 100",
        "1 / 0",
        "",
        "1 +",
        "x" * 2000,
        "(" * 500 + "1" + ")" * 500,
        "2 ** 0.5",  # fine in floats, but exact mode needs an integer exponent
    ],
)
def test_evaluate_refuses(text):
    with pytest.raises(ExpressionError):
        evaluate_expression(text, exact=text == "2 ** 0.5")


@pytest.mark.parametrize("a, b", itertools.product(["1+2", "(1+2)*3", "3*(2+1)"], repeat=2))
def test_match_is_symmetric(a, b):
    assert equations_match(a, [b]) == equations_match(b, [a])


# --- parity with sympy on identical inputs (the official implementation's library) --------

CORPUS = [
    "2*(3+4)", "(4+3)*2", "4*3*2", "2*3*4", "(2*3)*4", "2*(3*4)", "10-2", "2-10", "8/2*3",
    "3*8/2", "(10-4)*4", "4*(10-4)", "-4+28", "28-4", "1+2+3", "3+2+1", "(1+2)+3", "6*4", "4*6",
    "24", "3**2", "2*x", "x*2", "10/5", "(1+2)*(3+4)", "(4+3)*(2+1)", "3*(2*4)", "(2*4)*3",
    "(8-2)*(3+1)", "(1+3)*(8-2)", "2*3+4*5", "5*4+3*2", "1.5*16", "16*1.5", "(13-7)*4",
    "4*(-7+13)", "2+2+3", "2+3+3", "8/2", "1/2*8", "8*(1/2)", "(3-1)*12", "12*(3-1)",
    "(-1+3)*12", "2**3", "2**(1+2)", "2**(2+1)", "(1+2)**2", "(2+1)**2", "1", "2.0*12", "2*12",
    "24-1+1", "1+24-1", "(5-1)*(10-4)", "(10-4)*(5-1)", "10-4-2", "10-2-4", "10-(4+2)",
    "10-(2+4)", "6/(1-3/4)", "6/(1-(3/4))", "(8-6/3)*4", "4*(8-6/3)", "x+y", "y+x", "x-y",
    "-y+x", "9-3*2+18", "18+9-2*3", "10-3*x", "10-x*3", "1-x/2", "7-8/2", "7-2**2", "-2*3+10",
    "10-2*3", "1+1+1+1", "24/1", "48/2", "(2+2)*6", "6*(2+2)",
]  # fmt: skip


@functools.cache
def sympy_lhs(equation):
    sympy = pytest.importorskip("sympy")
    return sympy.parse_expr(equation.split("=")[0], evaluate=False)


def sympy_official(response, golds):
    """The official function, re-stated over sympy (test-only; these strings are ours)."""
    sympy = pytest.importorskip("sympy")
    mine = sympy_lhs(response)
    for gold in golds:
        theirs = sympy_lhs(gold)
        if mine.func != theirs.func:
            continue
        if mine.func in (sympy.Add, sympy.Mul):
            if len(mine.args) == len(theirs.args) and {str(a) for a in mine.args} == {
                str(a) for a in theirs.args
            }:
                return True
        elif mine == theirs:
            return True
    return False


def test_parity_with_sympy_on_a_corpus():
    pytest.importorskip("sympy")
    differ = [
        (a, b)
        for a, b in itertools.product(CORPUS, repeat=2)
        if equations_match(a, [b]) != sympy_official(a, [b])
    ]
    assert differ == []
    # the corpus is not trivially all-False or all-True
    verdicts = [equations_match(a, [b]) for a, b in itertools.product(CORPUS, repeat=2)]
    assert sum(verdicts) > len(CORPUS)
