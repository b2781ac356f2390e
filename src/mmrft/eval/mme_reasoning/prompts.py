"""MME-Reasoning's judge prompts: one extraction prompt per ``prompt_id``, one consistency prompt.

Design note. The official evaluation (Alpha-Innovator/MME-Reasoning,
``vlmeval/dataset/mmereasoning/prompts4eval.py``) asks a judge LLM to rewrite a model's
response into the form the question's rule function reads. The prompts below are written for
mmrft to the same effect (one or two worked examples, then "output only the answer"); they are
not the official wording, which is one reason a judge reproduces the published numbers only
approximately (docs/eval.md, "MME-Reasoning").

Three prompts ask for free text (a letter list, a short answer, a 24-points formula); the
others ask for JSON, which ``parse.read_judge_json`` accepts bare or inside a fenced block.
Placeholders ``{question}``, ``{response}`` and ``{answer}`` are filled in one pass
(``mmrft.rewards.judge.fill_template``), so braces inside a response are safe.
"""

from __future__ import annotations

_TAIL = "\n\nNow do the same for this one.\nQuestion: {question}\nModel response: {response}\n"
_JSON_ONLY = "Reply with the JSON only, nothing else."

ID_PAIRS = (
    "Read the model response below and write the values it assigns to each labelled item as "
    "a JSON object (label -> value, numbers as numbers).\n\n"
    "Example\nQuestion: Each circle hides a digit; give them as 'circle:digit'.\n"
    "Model response: I think X is 4, Y is 7 and Z is 1.\n"
    'Answer: {"X": 4, "Y": 7, "Z": 1}' + _TAIL + _JSON_ONLY
)
ID_PAIRS_REVERSE = (
    "Read the model response below and write the letter it assigns to each numbered item as "
    "a JSON object (number as a string key -> letter).\n\n"
    "Example\nQuestion: Boxes 1 to 3 each hold one letter; answer as 'box:letter'.\n"
    "Model response: Box 1 gets C, box 2 gets A, box 3 gets B.\n"
    'Answer: {"1": "C", "2": "A", "3": "B"}' + _TAIL + _JSON_ONLY
)
COORDINATES = (
    "Read the model response below and write the grid cell(s) it gives as a JSON list of "
    'objects {"row": ..., "column": ...}, in the order given.\n\n'
    "Example\nQuestion: Which cells hide the treasure? Answer as (row A-D, column 1-4).\n"
    "Model response: The treasure is at (B, 2) and also at (D, 4).\n"
    'Answer: [{"row": "B", "column": 2}, {"row": "D", "column": 4}]' + _TAIL + _JSON_ONLY
)
MULTIPLE = (
    "Read the model response below and write the item id(s) it chooses as a JSON object with "
    'one key "id" holding a list.\n\n'
    "Example\nQuestion: Which two of the coins P-U are fake? Answer with coin ids.\n"
    "Model response: The fake ones must be Q and T.\n"
    'Answer: {"id": ["Q", "T"]}' + _TAIL + _JSON_ONLY
)
FORMULA = (
    "Read the model response below and write the equation it proposes as a JSON object with "
    'one key "equation".\n\n'
    "Example\nQuestion: Move one matchstick to make the equation true.\n"
    "Model response: After the move it reads 6 - 2 = 4.\n"
    'Answer: {"equation": "6 - 2 = 4"}' + _TAIL + _JSON_ONLY
)
CHOICE = (
    "Read the model response below and write only the option letter(s) it finally chooses; "
    "several letters as a bracketed, comma-separated list.\n\n"
    "Example 1\nQuestion: Which shape comes next? A. circle B. square C. star D. cross\n"
    "Model response: The pattern alternates, so the next one is the star, option C.\n"
    "Answer: C\n\n"
    "Example 2\nQuestion: Select every true statement. A. ... B. ... C. ... D. ...\n"
    "Model response: Statements B and D hold.\nAnswer: [B, D]" + _TAIL + "Answer:"
)
OPEN = (
    "Read the model response below and write only its final answer, as short as possible "
    "(a number, an expression, a word or a short list).\n\n"
    "Example 1\nQuestion: How many triangles are in the figure?\n"
    "Model response: Counting each layer gives 9 + 4 = 13 triangles.\nAnswer: 13\n\n"
    "Example 2\nQuestion: What is the side length?\n"
    "Model response: Therefore the side is $3\\sqrt{2}$ cm.\nAnswer: 3\\sqrt{2}" + _TAIL + "Answer:"
)
_GRID = (
    "The model response below solves a {kind} puzzle and ends with a filled grid. Write only "
    "that final grid as a JSON list of rows (a list of lists of integers), nothing else.\n\n"
    "Example\nModel response: ... so the completed grid is\n{example}\n"
    "Answer: {example_json}\n\n"
    "Now do the same for this one.\nModel response: {{response}}\n" + _JSON_ONLY
)
SKYSCRAPER = _GRID.format(
    kind="skyscrapers",
    example="2 1 3\n3 2 1\n1 3 2",
    example_json="[[2, 1, 3], [3, 2, 1], [1, 3, 2]]",
)
SUDOKU_4 = _GRID.format(
    kind="4x4 sudoku",
    example="row 1: 1 2 3 4, row 2: 3 4 1 2, row 3: 2 1 4 3, row 4: 4 3 2 1",
    example_json="[[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]",
)
SUDOKU_6 = _GRID.format(
    kind="6x6 sudoku",
    example="[[1,2,3,4,5,6],[4,5,6,1,2,3],[2,3,1,5,6,4],[5,6,4,2,3,1],[3,1,2,6,4,5],[6,4,5,3,1,2]]",
    example_json="[[1, 2, 3, 4, 5, 6], [4, 5, 6, 1, 2, 3], [2, 3, 1, 5, 6, 4], "
    "[5, 6, 4, 2, 3, 1], [3, 1, 2, 6, 4, 5], [6, 4, 5, 3, 1, 2]]",
)
YINYANG = _GRID.format(
    kind="yin-yang (1 = black stone, 0 = white stone)",
    example="1 1 0\n0 1 0\n0 0 0",
    example_json="[[1, 1, 0], [0, 1, 0], [0, 0, 0]]",
)
HASHI = (
    "The model response below solves a hashi (bridges) puzzle. List every bridge it draws as "
    'a JSON list of objects {"start": cell, "end": cell, "number": 1 or 2}. Cells are a '
    'column letter then a 1-based row number ("c3"); rewrite other notations that way. '
    "Skip a bridge whose ends cannot be read.\n\n"
    "Example\nModel response: Put a double bridge from b1 to b4 and a single one between "
    "b4 and e4.\n"
    'Answer: [{"start": "b1", "end": "b4", "number": 2}, '
    '{"start": "b4", "end": "e4", "number": 1}]\n\n'
    "Now do the same for this one.\nModel response: {response}\n" + _JSON_ONLY
)
POINTS24 = (
    "The model response below answers a 24-points card game. Write only its final formula "
    "with card values as numbers (A = 1, J = 11, Q = 12, K = 13), * for multiplication and / "
    "for division.\n\n"
    "Example\nQuestion: Cards 2, 3, Q, A: reach 24 using each card once.\n"
    "Model response: Q × 2 × (3 − A) = 24\nAnswer: 12*2*(3-1)=24" + _TAIL + "Answer:"
)

EXTRACTION_PROMPTS: dict[str, str] = {
    "id_answer_pair_prompt": ID_PAIRS,
    "id_answer_pair_prompt_reverse": ID_PAIRS_REVERSE,
    "coordinate_answer_prompt": COORDINATES,
    "multiple_answer_prompt": MULTIPLE,
    "formula_extraction_prompt": FORMULA,
    "choice_prompt": CHOICE,
    "open_question_prompt": OPEN,
    "hashi_extraction_prompt": HASHI,
    "skyscraper_extraction_prompt": SKYSCRAPER,
    "sudoku_4_extraction_prompt": SUDOKU_4,
    "sudoku_6_extraction_prompt": SUDOKU_6,
    "yinyang_extraction_prompt": YINYANG,
    "points24_prompt": POINTS24,
}
"""``prompt_id`` -> extraction prompt (the official release's thirteen ids)."""

FREE_TEXT_PROMPTS = frozenset({"choice_prompt", "open_question_prompt", "points24_prompt"})
"""Prompts whose output is taken as written; every other one must yield JSON."""

CONSISTENCY = (
    "Decide whether a model's answer agrees with the standard answer to a question.\n"
    "Count different notations of the same value as agreeing (7/2 and 3.5), and a decimal "
    "approximation as agreeing when it matches to two decimal places (\\sqrt{3} and 1.73); "
    "a list agrees when it holds the same items in the same order, quotes aside.\n\n"
    "Example 1\nQuestion: What is the diagonal of the unit square?\n"
    "Standard answer: \\sqrt{2}\nModel answer: 1.414\nJudgement: 1\n\n"
    "Example 2\nQuestion: Which moves lead from S to E?\n"
    "Standard answer: ['Up', 'Left']\nModel answer: Left, Up\nJudgement: 0\n\n"
    "Now judge this one.\nQuestion: {question}\nStandard answer: {answer}\n"
    "Model answer: {response}\n"
    "Reply with the single digit 1 (consistent) or 0 (not consistent), nothing else.\n"
    "Judgement:"
)
"""The open-question verdict prompt: the judge must answer exactly ``0`` or ``1``."""
