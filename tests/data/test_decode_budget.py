"""Dataset images are scaled down as they are decoded, never held at full size."""

from __future__ import annotations

import json

from PIL import Image

from mmrft.data.load import load_dataset_file
from mmrft.data.rows import DECODE_HEADROOM

BUDGET = 112 * 112


def _dataset(tmp_path, images: dict[str, Image.Image]):
    for name, image in images.items():
        image.save(tmp_path / name)
    rows = [{"id": name, "prompt": "How many?", "answer": "1", "images": [name]} for name in images]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_huge_image_is_decoded_near_the_budget_with_its_aspect_ratio(tmp_path):
    path = _dataset(
        tmp_path,
        {
            "huge.png": Image.new("RGB", (3000, 1500), "red"),
            "photo.jpg": Image.new("RGB", (4000, 3000), "blue"),  # JPEG: draft decode
            "small.png": Image.new("RGB", (64, 48), "green"),
        },
    )
    huge, photo, small = (s.images[0] for s in load_dataset_file(path, max_pixels=BUDGET).samples)
    for image, (w, h) in ((huge, (3000, 1500)), (photo, (4000, 3000))):
        assert image.width * image.height <= DECODE_HEADROOM * BUDGET  # 50,176 px, not 4.5M
        assert image.width * image.height > BUDGET  # headroom kept for the exact resize later
        assert abs(image.width / image.height - w / h) < 0.02
    assert small.size == (64, 48)  # small images untouched
    assert huge.getpixel((0, 0)) == (255, 0, 0)


def test_without_a_budget_images_keep_their_size(tmp_path):
    path = _dataset(tmp_path, {"huge.png": Image.new("RGB", (3000, 1500), "red")})
    assert load_dataset_file(path).samples[0].images[0].size == (3000, 1500)
