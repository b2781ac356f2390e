"""The OCR task: a tiny template-matching OCR reads levels 1-2 back from pixels; every level's
meta re-renders to the same image."""

import string

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from mmrft.rewards.ocr import levenshtein
from mmrft.tasks import TASKS
from mmrft.tasks.ocr import FONTS, LEVELS, load_font, render_text_layer

EIGHT = np.ones((3, 3), dtype=bool)


@pytest.fixture(scope="module")
def task():
    return TASKS.get("ocr")()


INK = 170  # grey below this is ink; generous, so thin joins (the arches of a serif m) hold
LIGATURES = ("fi", "fl", "ff")  # DejaVu draws these pairs as one glyph


def ink_mask(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < INK


def glyphs(mask: np.ndarray) -> list[np.ndarray]:
    """Glyph masks left to right: 8-connected blobs, with blobs stacked in one column (the dot
    of an i) merged."""
    labels, _ = ndimage.label(mask, structure=EIGHT)
    boxes = [
        [sl[1].start, sl[1].stop, sl[0].start, sl[0].stop] for sl in ndimage.find_objects(labels)
    ]
    groups: list[list[int]] = []
    for k in sorted(range(len(boxes)), key=lambda k: boxes[k][0]):
        x0, x1 = boxes[k][:2]
        for group in groups:
            g0, g1 = min(boxes[i][0] for i in group), max(boxes[i][1] for i in group)
            if min(x1, g1) - max(x0, g0) >= 0.6 * min(x1 - x0, g1 - g0):
                group.append(k)
                break
        else:
            groups.append([k])
    out = []
    for group in groups:
        x0, x1 = min(boxes[i][0] for i in group), max(boxes[i][1] for i in group)
        y0, y1 = min(boxes[i][2] for i in group), max(boxes[i][3] for i in group)
        member = np.isin(labels[y0:y1, x0:x1], [i + 1 for i in group])
        out.append(member)
    return out


def signature(glyph: np.ndarray) -> np.ndarray:
    h, w = glyph.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.uint8)
    square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = (
        glyph * 255
    )
    return np.asarray(Image.fromarray(square).resize((16, 16), Image.Resampling.BILINEAR)) / 255


def read(image: Image.Image, font_name: str, size: int, charset: str) -> str:
    """Template OCR: each glyph takes the character whose rendering it resembles most."""
    font = load_font(font_name, size)
    templates = {}
    for ch in [*charset, *(lig for lig in LIGATURES if set(lig) <= set(charset))]:
        canvas = Image.new("L", (4 * size, 4 * size), 255)
        ImageDraw.Draw(canvas).text((size, size), ch, font=font, fill=0)
        ink = np.asarray(canvas) < INK
        rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
        glyph = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        templates[ch] = (signature(glyph), glyph.shape)
    text = ""
    for glyph in glyphs(ink_mask(image)):
        sig = signature(glyph)

        def cost(ch, sig=sig, shape=glyph.shape):
            t_sig, t_shape = templates[ch]
            return np.abs(sig - t_sig).mean() + 0.02 * (
                abs(shape[0] - t_shape[0]) + abs(shape[1] - t_shape[1])
            )

        text += min(templates, key=cost)
    return text


@pytest.mark.parametrize("level, charset", [(1, string.digits), (2, string.ascii_lowercase)])
def test_text_read_back_from_pixels(task, level, charset):
    fonts, exact, n = set(), 0, 60
    for seed in range(n):
        sample = task.generate(seed, level)
        meta = sample.meta
        got = read(sample.images[0], meta["font"], meta["font_size"], charset)
        exact += got == sample.answer
        if "Serif" in meta["font"]:  # serifs of neighbours can touch ("rt"): one blob, one miss
            assert levenshtein(got, sample.answer) <= 2, (seed, meta["font"], got, sample.answer)
        else:
            assert got == sample.answer, (seed, meta["font"], got, sample.answer)
        fonts.add(meta["font"])
    assert fonts == set(FONTS[: LEVELS[level].fonts])
    assert exact >= 0.9 * n


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_meta_rerenders_the_image(task, level):
    for seed in range(15):
        sample = task.generate(seed, level)
        m = sample.meta
        assert sample.answer == " ".join(m["lines"])
        assert all(len(line.split()) <= 2 for line in m["lines"])
        lo, hi = LEVELS[level].tokens
        assert lo <= len(sample.answer.split()) <= hi
        layer = render_text_layer(
            m["lines"], load_font(m["font"], m["font_size"]), tuple(m["text_rgb"]), m["angle"]
        )
        x, y = m["position"]
        assert x + layer.width <= m["image_size"] and y + layer.height <= m["image_size"]
        clean = Image.new("RGB", sample.images[0].size, tuple(m["background_rgb"]))
        clean.paste(layer, (x, y), layer)
        diff = np.abs(np.asarray(clean, dtype=float) - np.asarray(sample.images[0], dtype=float))
        if m["noise_sigma"]:
            assert diff.mean() < m["noise_sigma"]  # only noise (clipped) separates them
        else:
            assert diff.max() == 0
        assert abs(m["angle"]) <= LEVELS[level].angle


def test_bad_kwargs_raise():
    with pytest.raises(ValueError):
        TASKS.get("ocr")(image_size=32)
