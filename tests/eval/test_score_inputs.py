"""``mmrft score`` on inputs that are not a JSONL file, or have nothing scorable: named, non-zero."""

from __future__ import annotations

import argparse
import io

from PIL import Image

from mmrft.cli import main
from mmrft.eval.score_cli import cmd_score


def test_a_folder_is_named(tmp_path, capsys):
    assert main(["score", "count", str(tmp_path)]) == 2
    assert f"{tmp_path}: a folder" in capsys.readouterr().err


def test_an_image_is_named(tmp_path, capsys):
    png = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(png)
    assert main(["score", "count", str(png)]) == 2
    assert f"{png}: not a UTF-8 text file" in capsys.readouterr().err


def test_all_bad_or_empty_input_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('garbage\n{"x": 1}\n')
    assert main(["score", "count", str(bad)]) == 1
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["score", "count", str(empty)]) == 1
    args = argparse.Namespace(scorer="count", file=str(empty), mode="official", out=None)
    err = io.StringIO()
    assert cmd_score(args, stdout=io.StringIO(), stderr=err) == 1
    assert f"{empty}: no line could be scored" in err.getvalue()
