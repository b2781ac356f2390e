"""A bridge to reasoning-gym: its ~100 seeded generators as one task, scored by its own verifiers.

Design note: reasoning-gym (``pip install 'mmrft[gym]'``) generates entries
``{"question", "answer", "metadata"}`` from a dataset config and a seed, and each dataset
scores an answer with ``dataset.score_answer(answer, entry)``. ``TASKS.get("gym")(dataset=...)``
turns entry ``create_dataset(dataset, seed=seed, size=1, **config)[0]`` into a text ``Sample``
(no images), and the ``gym`` reward hands the model's answer block to that dataset's own
``score_answer``. Nothing of the verifier is re-implemented here.

The scorer needs the entry exactly as reasoning-gym made it (some compare tuples inside
``metadata``, which JSON would turn into lists), so the reward regenerates the entry from
``meta["dataset"]``, ``meta["level"]``, ``meta["overrides"]`` and ``meta["seed"]`` (cached, so
scoring right after generation costs nothing). ``meta["config"]`` shows the full config used. ``meta["metadata"]`` keeps a JSON copy of the entry's metadata for
inspection; it is the fallback, with a warning, if a different reasoning-gym version
regenerates a different question. Entries whose ``answer`` is None (puzzles with many valid
solutions, e.g. ``graph_color``) get ``answer=""``: usable for RL, not for an SFT cold start.
A scorer that raises on an odd answer scores 0.

Levels: level L (1-5) sets every attribute of the dataset's reasoning-gym curriculum to its
level L-1 (attributes with fewer levels stay at their last, as ``set_global_level`` does), and
ranges span from the easiest value up to that level's (the library's default ``INCLUSIVE``
mode), the way mmrft's own levels widen a range. E.g. ``basic_arithmetic``: level 1 = 2 terms
of 1 digit, level 3 = 2-4 terms of 1-3 digits, level 5 = 2-6 terms of 1-4 digits. Datasets
without a curriculum (``acre``, ``gsm_symbolic``, ``list_functions``) have level 1 only, their
default config. ``config={...}`` overrides single fields on top of the level's config. A level
whose config fails the dataset's own ``validate()`` is dropped from ``task.levels`` (in
reasoning-gym 0.1.25: caesar_cipher 3-5, modulo_grid 2, rubiks_cube 5, survo 3-5, and every
level of knight_swap, whose curriculum starts below its own ``min_nodes >= 6``).

Rendering (``render=True``): grid and board datasets are drawn from the entry's metadata with
PIL and the prompt refers to the image instead of spelling out the board; the answer format and
the scorer are unchanged. Cells are ``cell_size`` px (shrunk so the image stays within
``max_image_side``) with 1 px grid lines; a cell's colour is read at its centre.

    dataset         image                                               prompt asks for
    maze            walls dark, passages white, start green, goal red   fewest steps
    sudoku          9x9 digits, blanks empty, 3x3 boxes ruled thick     the solved grid
    mini_sudoku     4x4 digits, 2x2 boxes ruled thick                   the solved grid
    arc_1d          example input/output rows in ARC colours, test row  the output row
    largest_island  land green, water blue                              the largest area
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.registry import Registry
from mmrft.rewards.base import REWARDS, score_answers
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.ocr import load_font

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'mmrft[gym]' (or pip install reasoning-gym)"
LEVELS = (1, 2, 3, 4, 5)
RGB = tuple[int, int, int]
Grid = list[list[Any]]

LINE: RGB = (128, 128, 128)  # 1 px rules between cells: mid grey, unlike any cell colour
BOX_LINE: RGB = (0, 0, 0)  # thick rules around sudoku boxes
# The ARC-AGI colour convention (number -> colour) used by every ARC viewer.
ARC_COLOURS: dict[int, tuple[str, RGB]] = {
    0: ("black", (0, 0, 0)),
    1: ("blue", (0, 116, 217)),
    2: ("red", (255, 65, 54)),
    3: ("green", (46, 204, 64)),
    4: ("yellow", (255, 220, 0)),
    5: ("grey", (170, 170, 170)),
    6: ("magenta", (240, 18, 190)),
    7: ("orange", (255, 133, 27)),
    8: ("azure", (127, 219, 255)),
    9: ("maroon", (135, 12, 37)),
}
MAZE_COLOURS: dict[str, RGB] = {
    "wall": (40, 40, 40),
    "path": (255, 255, 255),
    "start": (60, 180, 75),
    "goal": (230, 25, 75),
}
ISLAND_COLOURS: dict[int, RGB] = {0: (0, 130, 200), 1: (60, 180, 75)}  # water, land


def _reasoning_gym():
    try:
        import reasoning_gym
    except ImportError:
        raise ImportError(f"the gym task needs reasoning-gym: {INSTALL_HINT}") from None
    return reasoning_gym


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (tuples become lists; anything else unknown, a string)."""
    return json.loads(json.dumps(value, default=str))


def level_config(dataset: str, level: int, overrides: dict[str, Any] | None = None) -> Any:
    """The reasoning-gym config object of ``dataset`` at mmrft ``level`` (module note), with
    ``overrides`` applied; ``seed`` and ``size`` are left to the caller.

    >>> level_config("basic_arithmetic", 3).max_terms, level_config("maze", 1).max_dist
    (4, 10)
    """
    _reasoning_gym()
    from reasoning_gym.factory import DATASETS, create_curriculum, has_curriculum

    if has_curriculum(dataset):
        curriculum = create_curriculum(dataset)
        curriculum.set_global_level(level - 1)
        config = curriculum.generate_configuration()
    else:
        config = DATASETS[dataset][1]()
    return replace(config, **(overrides or {}))


def config_fields(config: Any) -> dict[str, Any]:
    """A config's fields but ``seed``/``size``, as the native values reasoning-gym expects."""
    return {
        f.name: getattr(config, f.name) for f in fields(config) if f.name not in ("seed", "size")
    }


@functools.lru_cache(maxsize=4096)
def gym_entry(dataset: str, level: int, overrides_json: str, seed: int) -> dict[str, Any]:
    """reasoning-gym's entry for ``seed`` at ``level`` (shared and cached: do not modify it).

    The config is rebuilt from ``(level, overrides)`` rather than read back from JSON, since
    some configs hold enums or tuples that JSON would not give back.
    """
    config = config_fields(level_config(dataset, level, json.loads(overrides_json)))
    return _reasoning_gym().create_dataset(dataset, seed=seed, size=1, **config)[0]


@functools.lru_cache(maxsize=64)
def _scoring_dataset(dataset: str, level: int, overrides_json: str):
    config = config_fields(level_config(dataset, level, json.loads(overrides_json)))
    return _reasoning_gym().create_dataset(dataset, seed=0, size=1, **config)


def _overrides_json(overrides: dict[str, Any]) -> str:
    return json.dumps(overrides, sort_keys=True)


# ---------------------------------------------------------------------------- the task
@TASKS.register("gym")
class GymTask(Task):
    """One reasoning-gym dataset as a task; ``answer`` is the entry's answer string.

    Args:
        dataset: a reasoning-gym dataset name, e.g. "basic_arithmetic", "maze", "sudoku".
        render: draw the board as an image (datasets in ``RENDERERS`` only; module note).
        config: dataset config fields that override the level's, e.g. ``{"max_terms": 3}``.
        cell_size / max_image_side: pixels per board cell, and the largest image side.

    >>> s = GymTask(dataset="basic_arithmetic").generate(seed=0, level=1)
    >>> s.task, s.meta["dataset"], s.meta["config"]["max_terms"], s.images
    ('gym', 'basic_arithmetic', 2, [])
    """

    name = "gym"
    description = "A reasoning-gym dataset (text, or its board drawn), scored by its own verifier."
    reward_name = "gym"
    levels = LEVELS

    def __init__(
        self,
        dataset: str = "basic_arithmetic",
        render: bool = False,
        config: dict[str, Any] | None = None,
        cell_size: int = 20,
        max_image_side: int = 640,
    ) -> None:
        _reasoning_gym()
        from reasoning_gym.factory import DATASETS, has_curriculum

        if dataset not in DATASETS:
            close = difflib.get_close_matches(dataset, DATASETS, n=3)
            raise ValueError(
                f"unknown reasoning-gym dataset {dataset!r}"
                + (f" (did you mean {close}?)" if close else f"; known: {sorted(DATASETS)}")
            )
        if render and dataset not in RENDERERS:
            raise ValueError(f"render=True: no renderer for {dataset!r}; have {RENDERERS.names()}")
        if cell_size < 4:
            raise ValueError(f"cell_size must be >= 4 px, got {cell_size}")
        # not ``self.dataset``: that would shadow ``Task.dataset(n, seed, level)``
        self.dataset_name = dataset
        self.render = render
        self.overrides = jsonable(dict(config or {}))
        self.cell_size = cell_size
        self.max_image_side = max_image_side
        # Keep the levels whose config passes the dataset's own validate(): a few curricula
        # step past their dataset's limits (e.g. caesar_cipher from level 3).
        candidates = LEVELS if has_curriculum(dataset) else (1,)
        problems: dict[int, str] = {}
        for level in candidates:
            try:
                config = level_config(dataset, level, self.overrides)
                if hasattr(config, "validate"):
                    config.validate()
            except Exception as e:  # TypeError (unknown field), AssertionError, ValueError
                problems[level] = repr(e)
        self.levels = tuple(k for k in candidates if k not in problems)
        if not self.levels:
            raise ValueError(
                f"reasoning-gym dataset {dataset!r} rejected config at every level: "
                f"{next(iter(problems.values()))}; fix it with config={{...}}"
            )
        if problems:
            logger.info("gym %s: levels %s skipped: %s", dataset, sorted(problems), problems)

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        try:
            entry = gym_entry(self.dataset_name, level, _overrides_json(self.overrides), seed)
        except Exception as e:
            raise ValueError(
                f"reasoning-gym {self.dataset_name!r} failed at level {level}, seed {seed}: {e!r}"
            ) from e
        config = config_fields(level_config(self.dataset_name, level, self.overrides))
        images: list[Image.Image] = []
        prompt = entry["question"]
        if self.render:
            image, prompt = RENDERERS.get(self.dataset_name)(entry["metadata"], self._cell)
            images = [image]
        answer = entry["answer"]
        return Sample(
            id=f"{self.name}-{self.dataset_name}-L{level}-{seed}",
            prompt=prompt,
            answer="" if answer is None else str(answer),
            images=images,
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "dataset": self.dataset_name,
                "config": jsonable(config),
                "overrides": self.overrides,
                "question": entry["question"],
                "metadata": jsonable(entry["metadata"]),
                "rendered": self.render,
            },
        )

    def _cell(self, rows: int, cols: int) -> int:
        """Cell side in px: ``cell_size``, shrunk so the board fits ``max_image_side``."""
        return max(4, min(self.cell_size, (self.max_image_side - 1) // max(rows, cols, 1)))


# ---------------------------------------------------------------------------- the reward
_stale_warned: set[str] = set()


def _entry_for(sample: Sample) -> dict[str, Any]:
    """The entry reasoning-gym made for ``sample`` (regenerated; see the module note)."""
    meta = sample.meta
    entry = gym_entry(
        meta["dataset"], meta["level"], _overrides_json(meta["overrides"]), meta["seed"]
    )
    if entry["question"] == meta["question"]:
        return entry
    if meta["dataset"] not in _stale_warned:
        _stale_warned.add(meta["dataset"])
        logger.warning(
            "gym %s: this reasoning-gym version regenerates a different question for sample %s; "
            "scoring with the stored metadata instead",
            meta["dataset"],
            sample.id,
        )
    answer = sample.answer if sample.answer else None
    return {"question": meta["question"], "answer": answer, "metadata": meta["metadata"]}


def gym_score(answer: str | None, sample: Sample) -> float:
    """reasoning-gym's own ``score_answer`` for the sample's entry, clipped to [0, 1]."""
    meta = sample.meta
    dataset = _scoring_dataset(meta["dataset"], meta["level"], _overrides_json(meta["overrides"]))
    entry = _entry_for(sample)  # outside the try: a sample that cannot be rebuilt is an error
    try:
        score = float(dataset.score_answer(answer, entry))
    except Exception as e:  # some scorers raise on malformed answers: that answer is wrong
        logger.debug("gym %s: score_answer raised %r on %s", meta["dataset"], e, sample.id)
        return 0.0
    return min(max(score, 0.0), 1.0)


@REWARDS.register("gym")
def gym_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * score_answer(answer block, entry) + 0.1 * format``; reasoning-gym's scorer.

    >>> s = GymTask(dataset="basic_arithmetic").generate(seed=0)
    >>> gym_reward([f"<answer>{s.answer}</answer>", "<answer>1e9</answer>"], [s, s])["overall"]
    [1.0, 0.1]
    """
    return score_answers(completions, samples, gym_score)


# ---------------------------------------------------------------------------- rendering
Renderer = Callable[[dict[str, Any], Callable[[int, int], int]], tuple[Image.Image, str]]
RENDERERS: Registry[Renderer] = Registry("board renderer")
"""``renderer(metadata, cell_for) -> (image, prompt)``; ``cell_for(rows, cols)`` gives the cell
side in px for a board of that shape."""


def draw_grid(grid: Grid, colours: Callable[[Any], RGB], cell: int) -> Image.Image:
    """``grid[r][c]`` as ``cell`` px squares with 1 px ``LINE`` rules around every cell.

    Cell (r, c) fills ``[c*cell + 1, (c+1)*cell)`` x ``[r*cell + 1, (r+1)*cell)``; the image is
    ``cols*cell + 1`` by ``rows*cell + 1``.
    """
    rows, cols = len(grid), max(len(row) for row in grid)
    image = Image.new("RGB", (cols * cell + 1, rows * cell + 1), LINE)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            x, y = c * cell, r * cell
            draw.rectangle([x + 1, y + 1, x + cell - 1, y + cell - 1], fill=colours(value))
    return image


@RENDERERS.register("maze")
def render_maze(
    meta: dict[str, Any], cell_for: Callable[[int, int], int]
) -> tuple[Image.Image, str]:
    grid = [list(row) for row in meta["grid"]]
    kinds = {
        meta["wall"]: "wall",
        meta["path"]: "path",
        meta["start"]: "start",
        meta["goal"]: "goal",
    }
    image = draw_grid(grid, lambda ch: MAZE_COLOURS[kinds[ch]], cell_for(len(grid), len(grid[0])))
    prompt = (
        f"The image shows a maze of {len(grid)}x{len(grid[0])} cells: dark cells are walls, "
        "white cells are passages, the green cell is the start and the red cell is the goal. "
        "Each move to the next cell up, down, left or right is one step, through passages only.\n"
        "What is the minimum number of steps to reach the goal?\n"
        "Give only the number of steps as your final answer, no other text or formatting."
    )
    return image, prompt


def _render_sudoku(meta: dict[str, Any], cell_for, box: int) -> tuple[Image.Image, str]:
    puzzle = meta["puzzle"]
    n = len(puzzle)
    cell = cell_for(n, n)
    image = draw_grid(puzzle, lambda v: (255, 255, 255), cell)
    draw = ImageDraw.Draw(image)
    for k in range(0, n + 1, box):  # 3 px box rules centred on the cell rules
        p = k * cell
        draw.rectangle([p - 1, 0, p + 1, n * cell], fill=BOX_LINE)
        draw.rectangle([0, p - 1, n * cell, p + 1], fill=BOX_LINE)
    font = load_font("DejaVuSans-Bold.ttf", max(6, round(cell * 0.7)))
    for r, row in enumerate(puzzle):
        for c, value in enumerate(row):
            if value:
                centre = (c * cell + cell // 2 + 1, r * cell + cell // 2 + 1)
                draw.text(centre, str(value), fill=(0, 0, 0), font=font, anchor="mm")
    prompt = (
        f"Solve the {n}x{n} Sudoku puzzle in the image: fill each empty cell with a digit "
        f"1-{n} so that every row, every column and every {box}x{box} box (ruled thick) holds "
        "each digit exactly once.\n"
        f"Respond with only your answer, formatted as the puzzle: a {n}x{n} grid with numbers "
        "separated by spaces, and rows separated by newlines."
    )
    return image, prompt


@RENDERERS.register("sudoku")
def render_sudoku(meta: dict[str, Any], cell_for) -> tuple[Image.Image, str]:
    return _render_sudoku(meta, cell_for, box=3)


@RENDERERS.register("mini_sudoku")
def render_mini_sudoku(meta: dict[str, Any], cell_for) -> tuple[Image.Image, str]:
    return _render_sudoku(meta, cell_for, box=2)


def arc_1d_rows(meta: dict[str, Any]) -> list[list[int] | None]:
    """The rows ``render_arc_1d`` draws, top to bottom; None is a one-cell white gap."""
    rows: list[list[int] | None] = []
    for example in meta["train_examples"]:
        rows += [example["input"], example["output"], None]
    return [*rows, meta["test_example"]["input"]]


@RENDERERS.register("arc_1d")
def render_arc_1d(meta: dict[str, Any], cell_for) -> tuple[Image.Image, str]:
    rows = arc_1d_rows(meta)
    width = max(len(r) for r in rows if r is not None)
    grid = [r if r is not None else [None] * width for r in rows]
    white: RGB = (255, 255, 255)
    image = draw_grid(
        grid,
        lambda v: white if v is None else ARC_COLOURS[v][1],
        cell_for(len(grid), width),
    )
    legend = ", ".join(f"{k} {name}" for k, (name, _) in ARC_COLOURS.items())
    k = len(meta["train_examples"])
    prompt = (
        f"The image shows {k} examples of a rule that maps an input row of coloured cells to "
        "an output row. Each example is two rows, the input above its output, and examples are "
        "separated by a white gap; the last row on its own is the test input. Colours stand for "
        f"the numbers {legend}.\n"
        "Apply the rule to the test input and give the output row as numbers separated by "
        "single spaces."
    )
    return image, prompt


@RENDERERS.register("largest_island")
def render_largest_island(meta: dict[str, Any], cell_for) -> tuple[Image.Image, str]:
    grid = meta["grid"]
    rows, cols = len(grid), len(grid[0])
    image = draw_grid(grid, lambda v: ISLAND_COLOURS[v], cell_for(rows, cols))
    prompt = (
        f"The image shows a {rows} x {cols} grid: green cells are land and blue cells are "
        "water. An island is a group of land cells connected up, down, left or right (not "
        "diagonally); its area is its number of cells, and everything outside the grid is "
        "water.\nReturn the maximum area of an island in the grid. If there is no island, "
        "return 0."
    )
    return image, prompt


GO_BOARD, GO_LINE = (220, 179, 92), (40, 30, 10)
GO_STONES: dict[str, RGB] = {"X": (15, 15, 15), "O": (245, 245, 245)}


def go_board(meta: dict[str, Any]) -> list[list[str]]:
    """The tsumego board, rows top (highest number) to bottom; reasoning-gym stores a repr."""
    board = meta["board"]
    return ast.literal_eval(board) if isinstance(board, str) else board


@RENDERERS.register("tsumego")
def render_tsumego(meta: dict[str, Any], cell_for) -> tuple[Image.Image, str]:
    """A Go board: intersection (r, c) at ``((c + 1) * cell, (r + 1) * cell)``, column letters
    above, row numbers (1 at the bottom) on the left, as in the text diagram it replaces."""
    board = go_board(meta)
    n = len(board)
    cell = cell_for(n + 1, n + 1)
    side = (n + 1) * cell
    image = Image.new("RGB", (side, side), GO_BOARD)
    draw = ImageDraw.Draw(image)
    for k in range(1, n + 1):
        draw.line([(cell, k * cell), (n * cell, k * cell)], fill=GO_LINE)
        draw.line([(k * cell, cell), (k * cell, n * cell)], fill=GO_LINE)
    font = load_font("DejaVuSans.ttf", max(6, round(cell * 0.45)))
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for k in range(n):
        draw.text(((k + 1) * cell, cell // 2), letters[k], fill=GO_LINE, font=font, anchor="mm")
        draw.text((cell // 2, (k + 1) * cell), str(n - k), fill=GO_LINE, font=font, anchor="mm")
    radius = cell * 0.45
    for r, row in enumerate(board):
        for c, stone in enumerate(row):
            if stone in GO_STONES:
                x, y = (c + 1) * cell, (r + 1) * cell
                draw.ellipse(
                    [x - radius, y - radius, x + radius, y + radius],
                    fill=GO_STONES[stone],
                    outline=GO_LINE,
                )
    prompt = (
        f"The image shows a {n}x{n} Go board: black and white stones, columns lettered A-"
        f"{letters[n - 1]} from the left, rows numbered 1-{n} from the bottom. Playing as Black, "
        "how can you capture as many white stones as possible?\n"
        "Specify your move in coordinates (e.g. 'C4' for column C, row 4)."
    )
    return image, prompt
