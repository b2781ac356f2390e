"""Checks every task family shares: determinism, levels, and gold answers their reward accepts."""

import doctest
import hashlib
import io
import json
import os
import subprocess
import sys

import pytest

import mmrft.tasks.charts
import mmrft.tasks.cli
import mmrft.tasks.digits
import mmrft.tasks.grounding
import mmrft.tasks.multi_image
import mmrft.tasks.ocr
import mmrft.tasks.paths
import mmrft.tasks.puzzles
import mmrft.tasks.scene
import mmrft.tasks.spatial
import mmrft.tasks.video
from mmrft.rewards import REWARDS
from mmrft.tasks import TASKS

FAMILIES = ["spatial", "chart", "ground", "ocr", "digits", "clock", "grid_count", "compare_count"]


def digest(sample) -> str:
    h = hashlib.sha256()
    for image in sample.images:
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        h.update(buf.getvalue())
    row = [sample.id, sample.prompt, sample.answer, sample.task, sample.meta]
    h.update(json.dumps(row, sort_keys=True).encode())
    return h.hexdigest()


@pytest.fixture(scope="module", params=FAMILIES)
def task(request):
    return TASKS.get(request.param)()


def test_registered(task):
    cls = type(task)
    assert cls.levels == (1, 2, 3, 4, 5)
    assert cls.reward_name in REWARDS
    assert cls.description and "\n" not in cls.description


def test_same_seed_same_sample(task):
    for level in task.levels:
        a, b = task.generate(11, level), task.generate(11, level)
        assert digest(a) == digest(b)
        assert digest(a) != digest(task.generate(12, level))
        assert a.id == f"{task.name}-L{level}-11" and a.task == task.name
        assert all(im.mode == "RGB" for im in a.images)
        json.dumps(a.meta)  # meta must survive write_jsonl


def test_gold_answer_gets_full_reward(task):
    reward = REWARDS.get(task.reward_name)
    samples = [task.generate(seed, level) for level in task.levels for seed in range(4)]
    scores = reward([f"<think>.</think><answer>{s.answer}</answer>" for s in samples], samples)
    assert scores["accuracy"] == [1.0] * len(samples)
    wrong = reward(["<think>.</think><answer>zzz</answer>"] * len(samples), samples)
    assert max(wrong["accuracy"]) < 0.5


def test_bad_level_raises(task):
    with pytest.raises(ValueError, match="levels"):
        task.generate(0, 6)


CROSS_PROCESS = ["chart", "ocr", "clock", "spatial"]  # matplotlib, FreeType, PIL lines, shapes


def test_deterministic_across_processes():
    code = (
        "import hashlib, io, json, sys; from mmrft.tasks import TASKS\n"
        "out = {}\n"
        f"for name in {CROSS_PROCESS!r}:\n"
        "    s = TASKS.get(name)().generate(5, 5); h = hashlib.sha256()\n"
        "    for im in s.images:\n"
        "        b = io.BytesIO(); im.save(b, format='PNG'); h.update(b.getvalue())\n"
        "    out[name] = h.hexdigest()\n"
        "print(json.dumps(out))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "3"}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    theirs = json.loads(res.stdout.strip().splitlines()[-1])
    for name in CROSS_PROCESS:
        h = hashlib.sha256()
        for image in TASKS.get(name)().generate(5, 5).images:
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            h.update(buf.getvalue())
        assert theirs[name] == h.hexdigest(), name


@pytest.mark.parametrize(
    "module",
    [
        mmrft.tasks.charts,
        mmrft.tasks.cli,
        mmrft.tasks.digits,
        mmrft.tasks.grounding,
        mmrft.tasks.multi_image,
        mmrft.tasks.ocr,
        mmrft.tasks.puzzles,
        mmrft.tasks.paths,
        mmrft.tasks.scene,
        mmrft.tasks.spatial,
        mmrft.tasks.video,
    ],
)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted and not result.failed
