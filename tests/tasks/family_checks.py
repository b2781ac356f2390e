"""Checks shared by the clevr / geometry / maze / detect task tests (imported by module name)."""

import hashlib
import io
import json

from PIL import Image

from mmrft.rewards import REWARDS


def png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def reload_png(image) -> Image.Image:
    """The image as a model would see it from disk: encoded to PNG and decoded again."""
    return Image.open(io.BytesIO(png_bytes(image))).convert("RGB")


def digest(sample) -> str:
    """Hash of every image's PNG bytes and the whole row (id, prompt, answer, task, meta)."""
    h = hashlib.sha256()
    for image in sample.images:
        h.update(png_bytes(image))
    row = [sample.id, sample.prompt, sample.answer, sample.task, sample.meta]
    h.update(json.dumps(row, sort_keys=True).encode())
    return h.hexdigest()


def check_contract(task) -> None:
    """Registered shape, levels 1-5, determinism (byte-identical PNG and row), JSON-able meta."""
    cls = type(task)
    assert cls.levels == (1, 2, 3, 4, 5)
    assert cls.reward_name in REWARDS
    assert cls.description and "\n" not in cls.description
    for level in task.levels:
        a, b = task.generate(11, level), task.generate(11, level)
        assert digest(a) == digest(b)
        assert digest(a) != digest(task.generate(12, level))
        assert a.id == f"{task.name}-L{level}-11" and a.task == task.name
        assert a.meta["level"] == level and a.meta["seed"] == 11
        assert all(im.mode == "RGB" for im in a.images)
        json.loads(json.dumps(a.meta))


def gold_scores(task, samples) -> dict:
    """The task's own reward on completions that answer each sample's gold answer."""
    reward = REWARDS.get(task.reward_name)
    return reward([f"<think>.</think><answer>{s.answer}</answer>" for s in samples], samples)
