"""Contact sheets: a grid of a task's samples with each answer written under its image.

Design note: a quick visual check of a task (is the answer what a person would say?) should
take one command, so ``contact_sheet`` tiles samples into one PNG: each tile shows the sample's
images side by side, scaled to fit the tile (nearest-neighbour, so small images stay crisp),
and under them the sample id and answer, cut to fit. Text uses matplotlib's DejaVu Sans, so
the sheet is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.tasks.base import Task, sample_seeds
from mmrft.tasks.ocr import load_font

CAPTION_LINES = 3
PAD = 6


def _fit(text: str, draw: ImageDraw.ImageDraw, font, width: int) -> str:
    """``text`` on one line (newlines shown as " / ": a sudoku answer is a grid of lines, and
    Pillow cannot measure multiline text) cut with an ellipsis to fit ``width`` px."""
    text = " / ".join(line.strip() for line in text.splitlines() if line.strip())
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def contact_sheet(samples: Sequence[Sample], cols: int = 4, tile: int = 192) -> Image.Image:
    """One RGB image: ``samples`` in a grid, ``cols`` wide, each image area ``tile`` px square,
    captioned with the sample id, the prompt's first line and ``answer: ...``."""
    if not samples:
        raise ValueError("contact_sheet needs at least one sample")
    font = load_font("DejaVuSans.ttf", 11)
    line_h = 14
    cell_w, cell_h = tile + 2 * PAD, tile + CAPTION_LINES * line_h + 2 * PAD
    rows = -(-len(samples) // cols)
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), (235, 235, 235))
    draw = ImageDraw.Draw(sheet)
    for k, sample in enumerate(samples):
        x0, y0 = (k % cols) * cell_w + PAD, (k // cols) * cell_h + PAD
        draw.rectangle([x0, y0, x0 + tile - 1, y0 + tile - 1], fill=(255, 255, 255))
        images = sample.images or []
        slot = tile // max(1, len(images))
        for i, image in enumerate(images):
            scale = min(slot / image.width, tile / image.height)
            w, h = max(1, int(image.width * scale)), max(1, int(image.height * scale))
            resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
            shown = image.convert("RGB").resize((w, h), resample)
            sheet.paste(shown, (x0 + i * slot + (slot - w) // 2, y0 + (tile - h) // 2))
        first_line = sample.prompt.splitlines()[0] if sample.prompt else ""
        caption = [sample.id, first_line, f"answer: {sample.answer}"]
        for j, text in enumerate(caption):
            fill = (0, 0, 0) if j != 2 else (180, 0, 0)
            draw.text(
                (x0, y0 + tile + 2 + j * line_h), _fit(text, draw, font, tile), font=font, fill=fill
            )
    return sheet


def write_preview(task: Task, path: str | Path, n: int = 16, seed: int = 0, level: int = 1) -> Path:
    """Generate ``n`` samples of ``task`` (seeds from ``sample_seeds(seed, n)``) and save their
    contact sheet as a PNG at ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = [task.generate(s, level) for s in sample_seeds(seed, n)]
    cols = min(4, n) if n > 0 else 1
    contact_sheet(samples, cols=cols).save(path, format="PNG")
    return path
