"""MATH-Vision (Wang et al., 2024): rule-based answer extraction and equivalence.

Official rules (mathllm/MATH-V ``evaluation/evaluate.py`` and ``evaluation/utils.py``), applied to
the answer region: a response ending in " C." / " (C)." or starting with "C\\n" is the letter C;
the tail after "is " is taken when it is a number; without ``\\boxed`` the text after the last
"the (final|correct) answer is" / "the answer should be" is cut at the line / sentence end; then
``find_math_answer`` lower-cases, takes the last ``oxed{...}``, the value after "=" / "\\approx",
and strips LaTeX noise (\\left, \\right, degrees, units, "$", spaces). Correct if the result
equals the gold answer *or* the gold option's text (multiple choice): lower-cased string
equality, then tuple-wise, then numeric equality after ``round(x, 2)`` of both sides.

The official numeric step evaluates ``latex2sympy`` output with ``eval``; mmrft uses a small
safe evaluator instead (numbers, ``\\frac``, ``a/b``, ``\\sqrt``, ``\\pi``, ``^``), so a symbolic
answer the official code would simplify may differ (docs/eval.md). Quirk (official): rounding
to 2 decimals makes 0.123 equal 0.12. Strict mode judges the final answer with math-verify
(symbolic and numeric equivalence, no 2-decimal rounding) and accepts the letter or option text.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import answer_region, choice_letter, final_answer

_FLAGS = ("the final answer is", "the answer is", "the correct answer is", "the answer should be")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def extract_official(response: str) -> str:
    answer = response.strip()
    for c in "ABCDE":
        if answer.endswith((f" {c}.", f" ({c}).")) or answer.startswith(
            (f"{c}\n", f"({c})\n", f"({c}) {c}\n")
        ):
            answer = c
    tail = answer.split("is ")[-1].rstrip(".")
    if _is_number(tail):
        answer = tail
    if "oxed{" not in answer:
        for flag in _FLAGS:
            for variant in (flag, flag.replace("the", "The")):
                before = answer
                answer = answer.split(variant)[-1].strip()
                if variant in before:
                    answer = answer.split("\n")[0].split(". ")[0]
    elif answer.count("oxed{") > 1:
        answer = "\\boxed{" + answer.split("oxed{")[-1]
    answer = find_math_answer(answer)
    for c in "abcde":
        answer = answer.replace(f"({c})", c).replace(f"{{{c}}}", c)
    return answer.rstrip(".").lstrip(":").strip()


def find_math_answer(text: str) -> str:
    s = text.lower().replace("{}", "")
    boxed = re.findall(r"oxed{(.*)}", s, flags=re.S)
    ans = boxed[-1] if boxed else s
    if ans.find("}") != -1 and (ans.find("{") == -1 or ans.find("}") < ans.find("{")):
        ans = ans.split("}")[0]
    ans = ans.split("=")[-1].split("\\approx")[-1]
    for old, new in (
        (" ", ""), ("\\,", ""), ("∞", "\\infty"), ("+\\infty", "\\infty"), ("\\\\", "\\"),
        ("\n", ""), ("\\text", ""), ("\\mbox", ""), ("bmatrix", "pmatrix"), ("\\left", ""),
        ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("{m}^3", ""), ("m^3", ""),
        ("{units}", ""), ("units", ""), ("{km}", ""), ("km", ""),
    ):  # fmt: skip
        ans = ans.replace(old, new)
    return _strip_string(ans)


def _strip_string(s: str) -> str:
    for old, new in (
        ("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
        ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", ""),
        ("$", ""),
    ):  # fmt: skip
        s = s.replace(old, new)
    s = s.split("\\text{ ")[0].replace("\\%", "").replace("%", "")
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        s = "0" + s
    if len(s.split("=")) == 2:
        s = s.split("=")[-1]
    if len(s.split("\\approx")) == 2:
        s = s.split("\\approx")[-1]
    s = s.replace(" ", "")
    if s == "0.5":
        s = "\\frac{1}{2}"
    a_b = s.split("/")
    if len(a_b) == 2 and all(p.lstrip("-").isdigit() for p in a_b):
        s = f"\\frac{{{int(a_b[0])}}}{{{int(a_b[1])}}}"
    return s


_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.Pow: operator.pow}  # fmt: skip


def latex_value(text: str) -> float | None:
    """A float for simple LaTeX arithmetic, None otherwise (stands in for latex2sympy + eval).

    >>> latex_value(r"\\frac{3}{4}")
    0.75
    >>> round(latex_value(r"2\\sqrt{2}"), 4)
    2.8284
    """
    s = (
        text.replace("\\left", "")
        .replace("\\right", "")
        .replace("\\cdot", "*")
        .replace("\\times", "*")
    )
    s = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
    s = re.sub(r"\\sqrt\{([^{}]*)\}", r"((\1)**0.5)", s)
    s = re.sub(r"\\sqrt(\d)", r"((\1)**0.5)", s)
    s = s.replace("\\pi", "(pi)").replace("^", "**").replace("{", "(").replace("}", ")")
    s = re.sub(r"(\d|\))\s*(?=\(|pi)", r"\1*", s)  # implicit products: 2(…), 2pi
    try:
        return _eval(ast.parse(s, mode="eval").body)
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None


def _eval(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id == "pi":
        return math.pi
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return float(_BIN[type(node.op)](_eval(node.left), _eval(node.right)))
    raise ValueError("unsupported expression")


def is_equal_official(pred: str, gold: str) -> bool:
    pred, gold = pred.lower(), gold.lower()
    if not pred.replace(" ", "") or not gold.replace(" ", ""):
        return False
    if gold.strip() == pred.strip():
        return True
    if _eval_tuple(pred) == _eval_tuple(gold):
        return True
    a, b = latex_value(gold), latex_value(pred)
    return a is not None and b is not None and round(a, 2) == round(b, 2)


def _eval_tuple(s: str) -> str:
    parts = s[1:-1].split(",")
    if len(s) > 1 and len(parts) > 1 and (s[0], s[-1]) in (("(", ")"), ("[", "]")):
        vals = []
        for p in parts:
            v = None if "infty" in p or p in ("a", "-a") else latex_value(p)
            vals.append(p if v is None else str(round(v, 2)))
        return s[0] + ",".join(vals) + s[-1]
    return s


def _gold(record: dict[str, Any]) -> tuple[str, str]:
    gold = str(record["answer"]).strip()
    options = record.get("options") or []
    if not isinstance(options, list):
        raise MalformedRecord("'options' must be a list")
    if options:
        if len(gold) != 1 or not 0 <= ord(gold) - ord("A") < len(options):
            raise MalformedRecord(f"answer {gold!r} is not an option letter")
        return gold, str(options[ord(gold) - ord("A")])
    return gold, ""


def verify_math(pred: str, gold: str) -> bool:
    """Symbolic / numeric equivalence with math-verify (a dev dependency)."""
    try:
        from math_verify import parse, verify
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError("strict mode needs math-verify: pip install math-verify") from e
    if not pred.strip() or not gold.strip():
        return False
    wrap = (lambda t: t) if "$" in gold else (lambda t: f"${t}$")
    return bool(verify(parse(wrap(gold)), parse(wrap(pred))))


@SCORERS.register("mathvision")
class MathVision(Scorer):
    """Fields: answer (a letter when options is non-empty, else the value), options."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        gold, gold_value = _gold(record)
        region, _ = answer_region(record["prediction"])
        if mode == "official":
            pred = extract_official(region)
            ok = is_equal_official(pred, gold) or is_equal_official(pred, gold_value)
            return result(ok, pred)
        short, _ = final_answer(region)
        if gold_value:
            letter = choice_letter(short, len(record["options"]))
            if letter:
                return result(letter == gold, letter)
            return result(verify_math(short, gold_value), short)
        return result(verify_math(short, gold), short)
