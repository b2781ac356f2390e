"""``mmrft tasks generate`` / ``preview`` handlers and the contact sheet."""

import argparse

import pytest
from PIL import Image

from mmrft.data.jsonl import read_jsonl
from mmrft.tasks import TASKS
from mmrft.tasks.cli import add_parser
from mmrft.tasks.preview import contact_sheet


def parse(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="tasks_command", required=True)
    add_parser(sub)
    return parser.parse_args(argv)


def test_generate_writes_standard_dataset(tmp_path, capsys):
    args = parse(["generate", "compare_count", "--n", "5", "--seed", "2", "--level", "3",
                  "--out", str(tmp_path)])  # fmt: skip
    assert args.func(args) == 0
    path = tmp_path / "compare_count.jsonl"
    assert capsys.readouterr().out.strip() == str(path)
    loaded = read_jsonl(path)
    assert not loaded.skipped and len(loaded.samples) == 5
    task = TASKS.get("compare_count")()
    for got, seed in zip(loaded.samples, range(2_000_000, 2_000_005), strict=True):
        want = task.generate(seed, 3)
        assert (got.id, got.answer, got.meta) == (want.id, want.answer, want.meta)
        assert len(got.images) == 2 and got.images[1].tobytes() == want.images[1].tobytes()


def test_generate_passes_task_arguments(tmp_path):
    args = parse(["generate", "ground", "--n", "2", "--arg", "box_format=rel1000",
                  "--arg", "image_size=160", "--out", str(tmp_path)])  # fmt: skip
    assert args.func(args) == 0
    (sample, _) = read_jsonl(tmp_path / "ground.jsonl").samples
    assert sample.meta["box_format"] == "rel1000" and sample.images[0].size == (160, 160)


def test_preview_writes_contact_sheet(tmp_path, capsys):
    out = tmp_path / "sheet.png"
    args = parse(["preview", "clock", "--n", "6", "--level", "2", "--out", str(out)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(out)
    with Image.open(out) as sheet:
        assert sheet.size == (4 * 204, 2 * (192 + 3 * 14 + 12))


@pytest.mark.parametrize("argv", [["preview", "clock", "--level", "9"], ["generate", "nope"]])
def test_bad_task_or_level_raises(argv, tmp_path):
    args = parse([*argv, "--out", str(tmp_path / "x")])
    with pytest.raises((ValueError, KeyError)):
        args.func(args)


def test_bad_task_argument_raises(tmp_path):
    args = parse(["generate", "ocr", "--arg", "image_size", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="key=value"):
        args.func(args)


def test_contact_sheet_shows_answers():
    samples = TASKS.get("digits")().dataset(3, seed=0, level=2)
    sheet = contact_sheet(samples, cols=3)
    assert sheet.size == (3 * 204, 192 + 3 * 14 + 12)
    with pytest.raises(ValueError):
        contact_sheet([])


def test_contact_sheet_puts_a_multiline_answer_on_one_line():
    # A sudoku's answer is a grid of lines; Pillow cannot measure multiline text, so
    # `mmrft tasks preview gym --arg render=true --arg dataset=sudoku` used to fail.
    from PIL import ImageDraw

    from mmrft.data.sample import Sample
    from mmrft.tasks.ocr import load_font
    from mmrft.tasks.preview import _fit

    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    font = load_font("DejaVuSans.ttf", 11)
    assert _fit("1 2\n3 4\n", draw, font, 500) == "1 2 / 3 4"
    sample = Sample(id="s\n1", prompt="", answer="1 2\n3 4", images=[Image.new("RGB", (8, 8))])
    assert contact_sheet([sample], cols=1).size == (204, 192 + 3 * 14 + 12)


def test_preview_of_a_rendered_sudoku(tmp_path):
    pytest.importorskip("reasoning_gym")
    out = tmp_path / "sudoku.png"
    args = parse(["preview", "gym", "--arg", "render=true", "--arg", "dataset=mini_sudoku",
                  "--n", "2", "--out", str(out)])  # fmt: skip
    assert args.func(args) == 0 and out.stat().st_size > 0
