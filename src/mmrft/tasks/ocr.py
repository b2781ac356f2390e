"""OCR: read rendered words and numbers in varied DejaVu fonts, sizes, angles and noise.

Design note: text is drawn with PIL/FreeType from the DejaVu TrueType files that ship inside
matplotlib (``mpl-data/fonts/ttf``). The files are taken from matplotlib's data folder by name,
not through ``font_manager.findfont``, which may prefer a system copy of a different version
and so change pixels from machine to machine. The text goes on a transparent layer, which is
rotated (bicubic, ``expand=True``) and pasted at a random spot that keeps it whole inside the
image; if it does not fit, the font size steps down. Levels 4-5 add a tinted background and
Gaussian pixel noise drawn from a ``numpy`` Generator seeded with ``(seed, level)``.

``answer`` is the tokens joined by single spaces (a line break reads as a space); the "ocr"
reward scores ``1 - normalised edit distance``, case-sensitive. ``meta`` records the lines,
font file, size, angle, position and colours, so the image can be re-rendered and checked.

Levels:

    level  text                                   fonts         size px  angle   noise
    1      one 2-4 digit number                   Sans          26-32    0       none
    2      one lowercase word                     4 faces       22-30    0       none
    3      two lowercase words                    all 9 faces   16-24    +-8     none
    4      2-3 tokens (Capitalised words, ints)   all           14-22    +-15    sigma 12
    5      3-4 tokens (words, CAPS, decimals)     all           12-18    +-25    sigma 24
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

FONTS = (  # all in matplotlib's mpl-data/fonts/ttf
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono-Bold.ttf",
)
WORDS = (
    "apple", "river", "stone", "cloud", "green", "house", "light", "music", "ocean", "paper",
    "quiet", "radio", "sugar", "table", "water", "zebra", "bread", "chair", "dream", "eagle",
    "flame", "grape", "horse", "index", "juice", "knife", "lemon", "maple", "north", "olive",
    "piano", "queen", "robot", "solar", "tiger", "urban", "vivid", "whale", "yield", "amber",
    "cable", "delta", "ember", "frost", "giant", "honey", "ivory", "jolly", "karma", "lunar",
    "metal", "noble", "orbit", "pixel", "rapid", "shade", "token", "vapor", "wagon", "atlas",
    "bison", "coral", "dune", "echo", "fern", "glow", "hill", "iris", "jade", "kite", "lamp",
    "mint", "nest", "opal", "pond", "reef", "sand", "tide", "vine", "wind", "yarn", "zinc",
    "bold", "calm", "dark", "fast", "gold", "high", "kind", "loud", "mild", "neat", "pure",
    "rich", "safe", "tall", "warm", "wise", "bright", "silver", "garden", "market", "winter",
    "summer", "bridge", "castle", "forest", "planet", "rocket", "signal", "velvet", "window",
)  # fmt: skip
MARGIN = 4  # px kept free around the text block
MIN_FONT = 10


@dataclass(frozen=True)
class LevelSpec:
    tokens: tuple[int, int]
    fonts: int  # the first ``fonts`` of FONTS
    size: tuple[int, int]
    angle: int
    noise: float
    style: str  # "number", "lower", "mixed", "hard"


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((1, 1), 1, (26, 32), 0, 0.0, "number"),
    2: LevelSpec((1, 1), 4, (22, 30), 0, 0.0, "lower"),
    3: LevelSpec((2, 2), 9, (16, 24), 8, 0.0, "lower"),
    4: LevelSpec((2, 3), 9, (14, 22), 15, 12.0, "mixed"),
    5: LevelSpec((3, 4), 9, (12, 18), 25, 24.0, "hard"),
}


@functools.cache
def font_path(name: str) -> Path:
    """Path of a font file bundled with matplotlib."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    if not path.is_file():
        raise FileNotFoundError(f"matplotlib font {name!r} not found at {path}")
    return path


@functools.lru_cache(maxsize=256)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(name)), size)


def _token(rng: random.Random, style: str) -> str:
    if style == "number":
        return str(rng.randint(10, 9999))
    if style == "lower":
        return rng.choice(WORDS)
    roll = rng.random()
    if roll < 0.3:
        return str(rng.randint(0, 99999))
    if style == "hard" and roll < 0.45:
        return f"{rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
    word = rng.choice(WORDS)
    if style == "hard" and roll < 0.6:
        return word.upper()
    return word.capitalize() if rng.random() < 0.5 else word


def render_text_layer(
    lines: list[str], font: ImageFont.FreeTypeFont, rgb: tuple[int, int, int], angle: float
) -> Image.Image:
    """The text block on a transparent RGBA layer, rotated by ``angle`` degrees (CCW)."""
    text = "\n".join(lines)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.multiline_textbbox((0, 0), text, font=font, spacing=4)
    layer = Image.new("RGBA", (right - left + 4, bottom - top + 4), (*rgb, 0))
    ImageDraw.Draw(layer).multiline_text(
        (2 - left, 2 - top), text, font=font, fill=(*rgb, 255), spacing=4
    )
    if angle:
        layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return layer


@TASKS.register("ocr")
class OCRTask(Task):
    """Transcribe rendered text; ``answer`` is the words joined by single spaces.

    Args:
        image_size: side of the square image in pixels.

    >>> s = OCRTask().generate(seed=1, level=1)
    >>> s.answer.isdigit(), s.meta["font"], s.images[0].size
    (True, 'DejaVuSans.ttf', (224, 224))
    """

    name = "ocr"
    description = "Transcribe rendered words and numbers (varied fonts, sizes, angles, noise)."
    reward_name = "ocr"
    levels = tuple(LEVELS)

    def __init__(self, image_size: int = 224) -> None:
        if image_size < 96:
            raise ValueError(f"ocr needs image_size >= 96, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        tokens = [_token(rng, spec.style) for _ in range(rng.randint(*spec.tokens))]
        lines = [" ".join(tokens[i : i + 2]) for i in range(0, len(tokens), 2)]
        font_name = rng.choice(FONTS[: spec.fonts])
        size = rng.randint(*spec.size)
        angle = rng.randint(-spec.angle, spec.angle) if spec.angle else 0
        dark = level >= 3
        rgb = tuple(rng.randint(0, 90) for _ in range(3)) if dark else (0, 0, 0)
        bg = tuple(rng.randint(200, 255) for _ in range(3)) if spec.noise else (255, 255, 255)
        n = self.image_size
        while True:  # step the font down until the rotated block fits
            layer = render_text_layer(lines, load_font(font_name, size), rgb, angle)
            if max(layer.size) <= n - 2 * MARGIN or size <= MIN_FONT:
                break
            size -= 2
        x = rng.randint(MARGIN, max(MARGIN, n - MARGIN - layer.width))
        y = rng.randint(MARGIN, max(MARGIN, n - MARGIN - layer.height))
        image = Image.new("RGB", (n, n), bg)
        image.paste(layer, (x, y), layer)
        if spec.noise:
            gen = np.random.default_rng([seed, level])
            noisy = np.asarray(image, dtype=np.float32) + gen.normal(0, spec.noise, (n, n, 3))
            image = Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8))
        meta: dict[str, Any] = {
            "level": level,
            "seed": seed,
            "image_size": n,
            "lines": lines,
            "font": font_name,
            "font_size": size,
            "angle": angle,
            "position": [x, y],
            "text_rgb": list(rgb),
            "background_rgb": list(bg),
            "noise_sigma": spec.noise,
        }
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt="Read the text in the image. Answer with the exact text.",
            answer=" ".join(tokens),
            images=[image],
            task=self.name,
            meta=meta,
        )
