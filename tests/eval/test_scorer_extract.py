"""Answer-region rules shared by every scorer (docs/eval.md, "Extraction")."""

from mmrft.eval.scorers.extract import answer_region, choice_letter, final_answer, numbers


def test_answer_tag_wins_over_boxed_and_think():
    # Rule 1: the last <answer> block, even when \boxed{} and <think> are present.
    text = r"<think>\boxed{1}</think> <answer>first</answer> <answer> 2 </answer>"
    assert answer_region(text) == ("2", "answer_tag")


def test_boxed_with_nested_braces():
    # Rule 2: the last \boxed{}, braces balanced.
    assert answer_region(r"so \boxed{\frac{1}{2}}.") == (r"\frac{1}{2}", "boxed")


def test_think_removed_and_unclosed_answer():
    assert answer_region("<think>B is tempting</think>C") == ("C", "raw")
    assert answer_region("<think>x</think><answer> 7") == ("7", "answer_tag_unclosed")


def test_answer_is_phrase_stops_at_sentence_but_keeps_decimals():
    assert final_answer("So the answer is 3.5. Done")[0] == "3.5"
    assert final_answer("Final answer: blue\nmore text")[0] == "blue"


def test_numbers_and_letters():
    assert numbers("1,234.5 and -2 and x2") == ["1,234.5", "-2"]
    assert choice_letter("Answer: (D)", 4) == "D"
    assert choice_letter("A cat sits", 4) == "A"  # a bare leading letter counts
    assert choice_letter("nothing here", 4) is None
