"""Loaders for the grounding benchmarks: RefCOCO (lmms-lab Parquet, Qwen-VL JSONL), ScreenSpot."""

import pytest
from benchmark_fixtures import by_id, hf_image, png, score, sizes, write_json, write_jsonl
from benchmark_fixtures import write_parquet as parquet

from mmrft.eval.benchmarks import load_benchmark


def test_refcoco_lmms_parquet(tmp_path):
    rows = [
        {
            "question_id": "101",
            "image": hf_image((100, 80)),
            "question": "caption the region",
            "answer": ["man on left", "guy in red"],
            "segmentation": [1.0, 2.0],
            "bbox": [10.0, 20.0, 30.0, 40.0],
            "iscrowd": 0,
            "file_name": "COCO_1.jpg",
        },
        {
            "question_id": "102",
            "image": hf_image((50, 50)),
            "question": "caption the region",
            "answer": ["cup"],
            "segmentation": [],
            "bbox": [1.0, 2.0, 3.0],
            "iscrowd": 0,
            "file_name": "COCO_2.jpg",
        },
    ]
    parquet(tmp_path / "data" / "testA-00000-of-00001.parquet", rows)

    data = load_benchmark("refcoco", tmp_path, split="testA")
    s = by_id(data.samples)
    assert sorted(s) == ["101-0", "101-1"]  # one sample per referring expression
    assert '"guy in red"' in s["101-1"].prompt and sizes(s["101-0"]) == [(100, 80)]
    rec = s["101-0"].meta["record"]
    assert rec["answer"] == [10.0, 20.0, 30.0, 40.0] and rec["answer_format"] == "xywh"
    assert rec["image_size"] == [100, 80] and s["101-0"].meta["category"] == "testA"
    assert [r for r, _ in data.skipped] == ["102"] and "bbox" in data.skipped[0][1]

    # Gold xywh [10, 20, 30, 40] is the corner box (10, 20)-(40, 60): IoU 1.
    assert score("refcoco", s["101-0"], "<answer>[10, 20, 40, 60]</answer>") == 1.0
    # (10, 20)-(40, 40) covers half of it: IoU 600/1200 = 0.5 >= 0.5.
    assert score("refcoco", s["101-0"], "[10, 20, 40, 40]") == 1.0
    assert score("refcoco", s["101-0"], "[60, 60, 90, 79]") == 0.0


def test_refcoco_qwen_jsonl(tmp_path):
    png(tmp_path / "train2014" / "COCO_train2014_000000000009.jpg", (64, 48))
    rows = [
        {
            "image": "/cpfs/user/coco/train2014/COCO_train2014_000000000009.jpg",
            "sent": "left bowl",
            "bbox": [4, 8, 20, 30],
            "height": 48,
            "width": 64,
        },
        {
            "image": "coco/COCO_train2014_missing.jpg",
            "sent": "x",
            "bbox": [0, 0, 1, 1],
            "height": 1,
            "width": 1,
        },
    ]
    write_jsonl(tmp_path / "refcoco_val.jsonl", rows)

    data = load_benchmark("refcoco", tmp_path)
    (sample,) = data.samples
    assert sample.meta["record"]["answer_format"] == "xyxy"
    assert sample.meta["record"]["image_size"] == [64, 48] and sizes(sample) == [(64, 48)]
    assert data.skipped[0][0] == "refcoco_val.jsonl:2" and "missing" in data.skipped[0][1]
    assert score("refcoco", sample, "(4,8),(20,30)") == 1.0
    assert score("refcoco", sample, "(40,30),(60,45)") == 0.0

    write_jsonl(tmp_path / "refcoco+_val.jsonl", rows[:1])
    with pytest.raises(ValueError, match="pass one of them"):
        load_benchmark("refcoco", tmp_path)
    assert len(load_benchmark("refcoco", tmp_path / "refcoco+_val.jsonl").samples) == 1


def test_screenspot(tmp_path):
    png(tmp_path / "images" / "mobile_1.png", (100, 50))
    png(tmp_path / "images" / "web_1.png", (40, 40))
    write_json(
        tmp_path / "screenspot_mobile.json",
        [
            {
                "img_filename": "mobile_1.png",
                "bbox": [10, 10, 20, 20],
                "instruction": "open settings",
                "data_type": "icon",
                "data_source": "ios",
            },
            {"img_filename": "mobile_1.png", "instruction": "no box", "data_type": "text"},
        ],
    )
    write_json(tmp_path / "screenspot_desktop.json", [])
    write_json(
        tmp_path / "screenspot_web.json",
        [
            {
                "img_filename": "web_1.png",
                "bbox": [0, 0, 4, 4],
                "instruction": "logo",
                "data_type": "text",
                "data_source": "shop",
            },
            {
                "img_filename": "gone.png",
                "bbox": [0, 0, 4, 4],
                "instruction": "x",
                "data_type": "text",
            },
        ],
    )

    data = load_benchmark("screenspot", tmp_path)
    s = by_id(data.samples)
    assert sorted(s) == ["mobile-0", "web-0"]
    assert s["mobile-0"].prompt == (
        "In this UI screenshot, what is the position of the element corresponding to the "
        'command "open settings" (with point)?'
    )
    assert s["mobile-0"].meta["category"] == "mobile/icon" and sizes(s["web-0"]) == [(40, 40)]
    assert s["mobile-0"].meta["record"]["image_size"] == [100, 50]
    assert dict(data.skipped).keys() == {"mobile-1", "web-1"}
    assert "'bbox'" in dict(data.skipped)["mobile-1"] and "gone.png" in dict(data.skipped)["web-1"]

    # Gold xywh [10, 10, 20, 20] is x 10..30, y 10..30 on a 100x50 screen; the norm_1 point
    # (0.25, 0.5) is pixel (25, 25): inside (it would be outside were the box read as xyxy).
    assert score("screenspot", s["mobile-0"], "<answer>(0.25, 0.5)</answer>") == 1.0
    assert score("screenspot", s["mobile-0"], "<answer>(0.9, 0.9)</answer>") == 0.0

    only_web = load_benchmark("screenspot", tmp_path, split="web")
    assert [x.id for x in only_web.samples] == ["web-0"]
    with pytest.raises(ValueError, match="unknown screenspot split"):
        load_benchmark("screenspot", tmp_path, split="tablet")
    (tmp_path / "screenspot_desktop.json").unlink()
    with pytest.raises(FileNotFoundError, match="screenspot_desktop.json"):
        load_benchmark("screenspot", tmp_path)
