"""Preference pairs: the pair file (bad rows skipped, counted, named) and the pairing rule."""

from __future__ import annotations

import json
import random

import pytest
from PIL import Image

from mmrft.data.pairs import pair_completions, read_pairs


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_read_pairs_keeps_good_rows_and_names_bad_ones(tmp_path):
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.png")
    good = {
        "id": "p1",
        "prompt": "How many shapes?",
        "images": ["a.png"],
        "chosen": "<answer>3</answer>",
        "rejected": "<answer>4</answer>",
    }
    messages = {
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q"}]}
        ],
        "images": ["a.png"],
        "chosen": "yes",
        "rejected": "no",
    }
    path = _write(
        tmp_path / "pairs.jsonl",
        [
            good,  # line 1
            {"prompt": "x", "chosen": "a"},  # line 2: no rejected
            {"prompt": "x", "rejected": "b"},  # line 3: no chosen
            {"prompt": "x", "chosen": "same", "rejected": "same"},  # line 4
            "{not json",  # line 5
            {"prompt": "x", "chosen": "a", "rejected": "b", "images": ["missing.png"]},  # line 6
            {"prompt": "x", "chosen": 3, "rejected": "b"},  # line 7: not a string
            messages,  # line 8
        ],
    )
    result = read_pairs(path)
    assert [p.sample.id for p in result.pairs] == ["p1", "line-8"]
    first = result.pairs[0]
    assert (first.chosen, first.rejected) == ("<answer>3</answer>", "<answer>4</answer>")
    assert first.sample.prompt == "How many shapes?" and first.sample.images[0].size == (8, 8)
    assert result.pairs[1].sample.prompt == "Q" and len(result.pairs[1].sample.images) == 1
    reasons = dict(result.skipped)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7]
    assert reasons[2] == "line 2: missing field 'rejected'"
    assert reasons[3] == "line 3: missing field 'chosen'"
    assert "same text" in reasons[4]
    assert reasons[5].startswith("line 5: invalid JSON")
    assert reasons[6].startswith("line 6: ") and "missing.png" in reasons[6]
    assert reasons[7] == "line 7: field 'chosen' must be a string, got int"


def test_read_pairs_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_pairs(tmp_path / "nope.jsonl")


def test_read_pairs_image_outside_folder_is_skipped(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "outside.png")
    sub = tmp_path / "d"
    sub.mkdir()
    row = {"prompt": "x", "chosen": "a", "rejected": "b", "images": ["../outside.png"]}
    result = read_pairs(_write(sub / "p.jsonl", [row]))
    assert result.pairs == [] and len(result.skipped) == 1
    assert read_pairs(sub / "p.jsonl", allow_outside_paths=True).pairs[0].chosen == "a"


def test_pair_completions_hand_worked():
    # correct (acc >= 0.5): 0 (r .5), 2 (r .9), 4 (r .9); incorrect: 1, 3, 5
    texts = ["c0", "w1", "c2", "w3", "c4", "w5"]
    rewards = [0.5, 0.1, 0.9, 0.0, 0.9, 0.2]
    acc = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    # ranked correct: 2, 4 (tie at .9: earlier first), 0; incorrect shuffled by Random(1)
    shuffled = [1, 3, 5]
    random.Random(1).shuffle(shuffled)
    pairs = pair_completions(texts, rewards, acc, 2, random.Random(1))
    assert pairs == [(2, shuffled[0]), (4, shuffled[1])]
    three = pair_completions(texts, rewards, acc, 5, random.Random(1))
    assert three == [(2, shuffled[0]), (4, shuffled[1]), (0, shuffled[2])]  # capped by #wrong


def test_pair_completions_reuses_the_best_correct_against_other_wrong_ones():
    # one correct text (index 1), three distinct wrong ones: the correct one is reused
    texts = ["w0", "ok", "w2", "w3"]
    shuffled = [0, 2, 3]
    random.Random(7).shuffle(shuffled)
    pairs = pair_completions(texts, [0, 1, 0, 0], [0, 1, 0, 0], 2, random.Random(7))
    assert pairs == [(1, shuffled[0]), (1, shuffled[1])]
    # two correct (rewards .8 at 0, .9 at 2) and three wrong, 3 pairs: 2, 0, then 2 again
    texts = ["c0", "w1", "c2", "w3", "w4"]
    wrong = [1, 3, 4]
    random.Random(2).shuffle(wrong)
    pairs = pair_completions(texts, [0.8, 0, 0.9, 0, 0], [1, 0, 1, 0, 0], 3, random.Random(2))
    assert pairs == [(2, wrong[0]), (0, wrong[1]), (2, wrong[2])]


def test_pair_completions_needs_both_kinds_and_merges_duplicates():
    rng = random.Random(0)
    assert pair_completions(["a", "b"], [1, 1], [1, 1], 4, rng) == []  # all correct
    assert pair_completions(["a", "b"], [0, 0], [0, 0], 4, rng) == []  # all wrong
    assert pair_completions([], [], [], 4, rng) == []
    # three copies of one wrong text count once: one pair, not two
    assert pair_completions(
        ["ok", "no", "no", "ok2", "no"], [1, 0, 0, 1, 0], [1, 0, 0, 1, 0], 4, rng
    ) == [(0, 1)]
    assert pair_completions(["a", "b"], [1, 0], [1, 0], 0, rng) == []  # pairs_per_prompt 0
    with pytest.raises(ValueError, match="differ in length"):
        pair_completions(["a"], [1, 0], [1], 1, rng)
