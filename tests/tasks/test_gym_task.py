"""The reasoning-gym bridge: entries equal the library's own, its scorer judges through our
reward, and rendered boards read back cell by cell to the entry's metadata."""

import doctest
import json
import logging
from collections import deque

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

rg = pytest.importorskip("reasoning_gym")
from reasoning_gym.factory import create_curriculum  # noqa: E402

import mmrft.tasks.gym  # noqa: E402
from mmrft.data import read_jsonl, write_jsonl  # noqa: E402
from mmrft.rewards import REWARDS  # noqa: E402
from mmrft.tasks import TASKS  # noqa: E402
from mmrft.tasks.gym import ARC_COLOURS, ISLAND_COLOURS, MAZE_COLOURS  # noqa: E402
from mmrft.tasks.ocr import load_font  # noqa: E402

SEEDS = range(8)


def gym(**kwargs):
    return TASKS.get("gym")(**kwargs)


def reward(completions, samples):
    return REWARDS.get("gym")(completions, samples)


# ---------------------------------------------------------------- entries, levels, determinism
def test_entry_is_the_librarys_own_and_deterministic():
    task = gym(dataset="basic_arithmetic")
    sample = task.generate(5, 3)
    # Independently: reasoning-gym's curriculum at global level 2 (= our level 3), seed 5.
    curriculum = create_curriculum("basic_arithmetic")
    curriculum.set_global_level(2)
    config = vars(curriculum.generate_configuration()) | {"seed": 5, "size": 1}
    entry = rg.create_dataset("basic_arithmetic", **config)[0]
    assert (sample.prompt, sample.answer) == (entry["question"], entry["answer"])
    assert sample.images == [] and sample.task == "gym" and sample.id == "gym-basic_arithmetic-L3-5"
    again = gym(dataset="basic_arithmetic").generate(5, 3)
    assert (again.prompt, again.answer, again.meta) == (sample.prompt, sample.answer, sample.meta)
    assert len({gym(dataset="basic_arithmetic").generate(s, 3).prompt for s in SEEDS}) > 4
    json.dumps(sample.meta)  # JSON-serialisable, so it survives JSONL


@pytest.mark.parametrize("level", [1, 3, 5])
def test_levels_follow_the_curriculum(level):
    # basic_arithmetic's curriculum: num_terms levels [2, 3, 4, 5, 6], num_digits [1, 2, 3, 4].
    # Our level L is its level L-1, ranges inclusive from the first value:
    # L1 -> 2 terms, 1 digit; L3 -> 2-4 terms, 1-3 digits; L5 -> 2-6 terms, 1-4 digits (clamped).
    hi_terms, hi_digits = {1: (2, 1), 3: (4, 3), 5: (6, 4)}[level]
    task = gym(dataset="basic_arithmetic")
    metas = [task.generate(s, level).meta for s in range(30)]
    assert {m["config"]["max_terms"] for m in metas} == {hi_terms}
    assert all(2 <= m["metadata"]["num_terms"] <= hi_terms for m in metas)
    assert all(1 <= m["metadata"]["num_digits"] <= hi_digits for m in metas)
    if level > 1:
        assert max(m["metadata"]["num_terms"] for m in metas) > 2  # the range is used


def test_config_overrides_and_levels_without_curriculum():
    task = gym(dataset="basic_arithmetic", config={"min_terms": 3, "max_terms": 3})
    assert all(task.generate(s, 5).meta["metadata"]["num_terms"] == 3 for s in SEEDS)
    flat = gym(dataset="gsm_symbolic")  # no curriculum in reasoning-gym
    assert flat.levels == (1,)
    with pytest.raises(ValueError, match="levels"):
        flat.generate(0, 2)


def test_bad_arguments_raise_clearly():
    with pytest.raises(ValueError, match="did you mean"):
        gym(dataset="basic_arithmetics")
    with pytest.raises(ValueError, match="no renderer for 'basic_arithmetic'"):
        gym(dataset="basic_arithmetic", render=True)
    with pytest.raises(ValueError, match="rejected config"):
        gym(dataset="basic_arithmetic", config={"no_such_field": 1})


# ---------------------------------------------------------------- the reward is the library's
@pytest.mark.parametrize("dataset", ["basic_arithmetic", "mini_sudoku", "arc_1d", "maze"])
def test_gold_scores_one_and_wrong_scores_less(dataset):
    samples = [gym(dataset=dataset).generate(s, 2) for s in range(4)]
    gold = [f"<think>ok</think><answer>{s.answer}</answer>" for s in samples]
    assert reward(gold, samples)["overall"] == [1.0] * 4
    wrong = [f"<answer>{s.answer}9</answer>" for s in samples]  # one extra character
    scores = reward(wrong, samples)
    assert max(scores["accuracy"]) < 1.0 and max(scores["overall"]) < 1.0


def test_survives_jsonl_and_a_raising_scorer(tmp_path, caplog):
    samples = [gym(dataset="arc_1d").generate(s, 1) for s in SEEDS]  # tuples inside metadata
    loaded = read_jsonl(write_jsonl(samples, tmp_path / "d.jsonl")).samples
    assert reward([f"<answer>{s.answer}</answer>" for s in loaded], loaded)["overall"] == [1.0] * 8

    # prime_factorization's scorer raises ValueError on text that is not a factorisation.
    sample = gym(dataset="prime_factorization").generate(0)
    assert reward(["<answer>many</answer>"], [sample])["accuracy"] == [0.0]

    # An entry a newer library would generate differently falls back to the stored metadata.
    stale = gym(dataset="basic_arithmetic").generate(1)
    stale.meta["question"] = "Calculate something else."
    with caplog.at_level(logging.WARNING, logger="mmrft.tasks.gym"):
        assert reward([f"<answer>{stale.answer}</answer>"], [stale])["overall"] == [1.0]
    assert "regenerates a different question" in caplog.text


# ---------------------------------------------------------------- rendered boards read back
def read_cells(image, rows, cols):
    """Colour at the centre of each cell of a grid drawn with 1 px rules; [rows][cols] RGB."""
    px = np.asarray(image)
    cell = (image.width - 1) // cols
    assert image.width == cols * cell + 1 and image.height == rows * cell + 1
    return [
        [tuple(px[r * cell + cell // 2 + 1, c * cell + cell // 2 + 1]) for c in range(cols)]
        for r in range(rows)
    ]


def invert(colours):
    return {rgb: key for key, rgb in colours.items()}


def test_maze_image_reads_back_and_bfs_gives_the_answer():
    task = gym(dataset="maze", render=True)
    for seed in SEEDS:
        sample = task.generate(seed, 1)
        meta = sample.meta["metadata"]
        n = len(meta["grid"])
        kinds = [
            [invert(MAZE_COLOURS)[rgb] for rgb in row] for row in read_cells(sample.images[0], n, n)
        ]
        char = {
            "wall": meta["wall"],
            "path": meta["path"],
            "start": meta["start"],
            "goal": meta["goal"],
        }
        assert ["".join(char[k] for k in row) for row in kinds] == meta["grid"]
        # Second route to the answer: breadth-first search on the read-back cells.
        start = next((r, c) for r in range(n) for c in range(n) if kinds[r][c] == "start")
        dist, queue = {start: 0}, deque([start])
        while queue:
            r, c = queue.popleft()
            for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if kinds[nr][nc] != "wall" and (nr, nc) not in dist:
                    dist[nr, nc] = dist[r, c] + 1
                    queue.append((nr, nc))
        goal = next(p for p in dist if kinds[p[0]][p[1]] == "goal")
        assert str(dist[goal]) == sample.answer
        assert "image" in sample.prompt and meta["grid"][1] not in sample.prompt


def test_largest_island_image_reads_back():
    task = gym(dataset="largest_island", render=True)
    for seed in SEEDS:
        sample = task.generate(seed, 2)
        grid = sample.meta["metadata"]["grid"]
        cells = read_cells(sample.images[0], len(grid), len(grid[0]))
        land = np.array([[invert(ISLAND_COLOURS)[rgb] for rgb in row] for row in cells])
        assert land.tolist() == grid
        labels, n = ndimage.label(land)  # default structure: 4-connectivity
        largest = max((int((labels == k).sum()) for k in range(1, n + 1)), default=0)
        assert str(largest) == sample.answer


def test_arc_1d_image_reads_back_the_examples():
    task = gym(dataset="arc_1d", render=True)
    number = {rgb: k for k, (_, rgb) in ARC_COLOURS.items()} | {(255, 255, 255): None}
    for seed in SEEDS:
        sample = task.generate(seed, 2)
        meta = sample.meta["metadata"]
        width = len(meta["test_example"]["input"])
        k = len(meta["train_examples"])
        cells = read_cells(sample.images[0], 3 * k + 1, width)
        rows = [[number[rgb] for rgb in row] for row in cells]
        for i, example in enumerate(meta["train_examples"]):
            assert rows[3 * i] == example["input"] and rows[3 * i + 1] == example["output"]
            assert rows[3 * i + 2] == [None] * width
        assert rows[-1] == meta["test_example"]["input"]
        assert sample.answer == " ".join(map(str, meta["test_example"]["output"]))


def digit_templates(cell):
    """Each digit drawn alone the way a sudoku cell holds it (bold DejaVu, 0.7 x cell, centred)."""
    font = load_font("DejaVuSans-Bold.ttf", max(6, round(cell * 0.7)))
    out = {}
    for d in range(1, 10):
        image = Image.new("RGB", (cell, cell), (255, 255, 255))
        ImageDraw.Draw(image).text(
            (cell // 2, cell // 2), str(d), fill=(0, 0, 0), font=font, anchor="mm"
        )
        out[d] = np.asarray(image.convert("L"), dtype=int)[3:-2, 3:-2]
    return out


@pytest.mark.parametrize("dataset, n, box", [("mini_sudoku", 4, 2), ("sudoku", 9, 3)])
def test_sudoku_digits_read_back(dataset, n, box):
    task = gym(dataset=dataset, render=True)
    for seed in range(3):
        sample = task.generate(seed, 3)
        image = sample.images[0]
        cell = (image.width - 1) // n
        grey = np.asarray(image.convert("L"), dtype=int)
        templates = digit_templates(cell)
        read = []
        for r in range(n):
            row = []
            for c in range(n):
                # The cell's interior starts 1 px past its rule; keep clear of thick box rules.
                inner = grey[r * cell + 1 : (r + 1) * cell + 1, c * cell + 1 : (c + 1) * cell + 1]
                inner = inner[3:-2, 3:-2]
                if inner.min() > 200:
                    row.append(0)
                    continue
                diffs = {d: np.abs(inner - t).sum() for d, t in templates.items()}
                best = sorted(diffs.values())
                assert best[0] < best[1]
                row.append(min(diffs, key=diffs.get))
            read.append(row)
        puzzle = sample.meta["metadata"]["puzzle"]
        assert read == puzzle
        # The gold grid keeps every clue and is a valid solution.
        solution = [[int(v) for v in line.split()] for line in sample.answer.splitlines()]
        grid, clues = np.array(solution), np.array(puzzle)
        assert ((clues == 0) | (clues == grid)).all()
        blocks = grid.reshape(n // box, box, n // box, box).swapaxes(1, 2).reshape(n, n)
        for lines in (grid, grid.T, blocks):
            assert all(sorted(line) == list(range(1, n + 1)) for line in lines.tolist())


def test_doctests():
    result = doctest.testmod(mmrft.tasks.gym)
    assert result.attempted and not result.failed


def test_tsumego_board_reads_back_from_the_image():
    from mmrft.tasks.gym import GO_STONES, go_board

    task = gym(dataset="tsumego", render=True)
    colour_of = {rgb: stone for stone, rgb in GO_STONES.items()}
    for seed in SEEDS:
        sample = task.generate(seed, 2)
        board = go_board(sample.meta["metadata"])
        n = len(board)
        px = np.asarray(sample.images[0])
        cell = px.shape[0] // (n + 1)
        read = [
            [colour_of.get(tuple(px[(r + 1) * cell, (c + 1) * cell]), ".") for c in range(n)]
            for r in range(n)
        ]
        assert read == board
        assert sum(row.count("O") for row in board) >= 1  # there is something to capture


def test_dataset_method_is_not_shadowed_by_the_dataset_name():
    # GymTask once stored its dataset name as ``self.dataset``, hiding Task.dataset(n, seed):
    # ``data.task=gym`` then failed with "'str' object is not callable".
    from mmrft.tasks.base import sample_seeds

    task = gym(dataset="basic_arithmetic")
    got = task.dataset(3, seed=5, level=1)
    want = [task.generate(s, 1) for s in sample_seeds(5, 3)]
    assert [(s.id, s.answer) for s in got] == [(s.id, s.answer) for s in want]
    assert task.dataset_name == "basic_arithmetic"


def test_training_data_from_the_gym_task():
    from mmrft.build import make_data
    from mmrft.config import load_config

    cfg = load_config(None, ["data.task=gym", "data.eval_size=2", "data.prefetch=false"])
    sft, rl, held, skipped = make_data(cfg)
    assert [s.meta["dataset"] for s in held] == ["basic_arithmetic"] * 2
    assert rl.next_batch(2)[0].task == "gym" and skipped == []
