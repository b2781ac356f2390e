"""The command line: help lists every command; user errors are one clear line, exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmrft.cli import main


def test_help_lists_every_command():
    out = subprocess.run(
        [sys.executable, "-m", "mmrft.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for command in ("demo", "train", "eval", "tasks", "score"):
        assert command in out.stdout


def test_unknown_config_key_names_it_and_suggests(capsys):
    assert main(["eval", "tiny-qwen2.5-vl", "rl.lerning_rate=3"]) == 2
    err = capsys.readouterr().err
    assert "rl.lerning_rate" in err and "rl.lr" in err
    assert "Traceback" not in err


def test_wrong_type_names_field_and_type(capsys):
    assert main(["eval", "tiny-qwen2.5-vl", "rollout.group_size=eight"]) == 2
    err = capsys.readouterr().err
    assert "rollout.group_size" in err and "int" in err


def test_missing_config_file(capsys):
    assert main(["train", "no/such/config.yaml"]) == 2
    assert "no/such/config.yaml" in capsys.readouterr().err


def test_tasks_list(capsys):
    assert main(["tasks", "list"]) == 0
    assert "count" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["eval", "tiny-qwen2.5-vl", "data.eval_size=4", "eval.n_samples=1"]]
)
def test_eval_prints_json(argv, capsys):
    import json

    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["n_problems"] == 4 and 0 <= row["accuracy"] <= 1


def test_overrides_may_follow_the_options():
    from mmrft.cli import parse_args

    args = parse_args(["eval", "tiny-qwen2", "data.eval_size=3", "--k", "2", "run.seed=7"])
    assert args.k == 2 and args.overrides == ["data.eval_size=3", "run.seed=7"]
    with pytest.raises(SystemExit):  # a real unknown option still fails
        parse_args(["eval", "tiny-qwen2", "--kk", "2"])
