"""ScreenSpot (Cheng et al., 2024, SeeClick): GUI grounding on mobile, desktop and web screenshots.

Layout read (source: njucckevin/SeeClick ``pretrain/screenspot_test.py`` and its data readme):
``screenspot_{mobile,desktop,web}.json``, each a list of ``{"img_filename", "bbox" (``[x, y, w,
h]`` in pixels), "instruction", "data_type" (text / icon), "data_source"}``, with the screenshots
in ``images/`` (or SeeClick's ``screenspot_imgs/``) beside the JSON files. ``split`` picks one
platform; by default all three are read.

Prompt: SeeClick's ``In this UI screenshot, what is the position of the element corresponding
to the command "<instruction>" (with point)?``. The record says ``box_format: "norm_1"``
(SeeClick's [0, 1] points, the scorer's default); a runner evaluating a model that writes pixels
or a 0-1000 grid overrides it. Category: ``<platform>/<data_type>``, e.g. ``mobile/icon``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    BadRow,
    Collector,
    existing,
    image_file,
    image_size,
    json_rows,
    locate,
    need,
)

PLATFORMS = ("mobile", "desktop", "web")
PROMPT = (
    "In this UI screenshot, what is the position of the element corresponding to the command "
    '"{}" (with point)?'
)


@BENCHMARKS.register("screenspot")
class ScreenSpot(Benchmark):
    name = "screenspot"
    scorer = "screenspot"
    description = "ScreenSpot: screenspot_{mobile,desktop,web}.json + images/"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        if split is not None and split not in PLATFORMS:
            raise ValueError(f"unknown screenspot split {split!r}; known: {list(PLATFORMS)}")
        path = existing(path)
        files = [path] if path.is_file() else []
        if path.is_dir():
            for platform in [split] if split else PLATFORMS:
                name = f"screenspot_{platform}.json"
                files += locate(path, [name, f"*/{name}"], f"ScreenSpot {platform} annotations")
        collector = Collector(self.name, path)
        for file in files:
            platform = file.stem.removeprefix("screenspot_")
            roots = [file.parent / "images", file.parent / "screenspot_imgs", file.parent]
            for i, (_, row) in enumerate(json_rows(file)):
                row_id = f"{platform}-{i}"
                with collector.row(row_id):
                    _add(collector, row_id, row, platform, roots)
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, platform: str, roots: list[Path]) -> None:
    instruction, filename = need(row, "instruction"), need(row, "img_filename")
    box = need(row, "bbox", list)
    if len(box) != 4 or not all(isinstance(v, int | float) for v in box):
        raise BadRow(f"'bbox' must be [x, y, w, h], got {box!r}")
    data_type = row.get("data_type") or "unknown"
    image = image_file(filename, roots)
    record = {
        "img_filename": filename,
        "instruction": instruction,
        "data_type": data_type,
        "data_source": row.get("data_source"),
        "answer_format": "xywh",
        "box_format": "norm_1",
        "image_size": image_size(image),
    }
    c.add(row_id, PROMPT.format(instruction), box, [image], record, f"{platform}/{data_type}")
