"""A config file is read as plain YAML: no Python tags, and a broken file is an error naming
the file and line, not a traceback (issue #14)."""

import pytest

from mmrft.cli import main
from mmrft.config import ConfigError, load_config

EVIL = 'rl:\n  lr: !!python/object/apply:os.system ["touch {marker}"]\n'


def test_python_tags_are_refused_in_a_file_and_in_an_override(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.yaml"
    path.write_text(EVIL.format(marker=marker))
    with pytest.raises(
        ConfigError, match=r"evil\.yaml, line 2, column 7: refused: .*python/object"
    ):
        load_config(path)
    with pytest.raises(ConfigError, match="python/object"):
        load_config(None, [f"rl.lr=!!python/object/apply:os.system ['touch {marker}']"])
    assert not marker.exists()


@pytest.mark.parametrize(
    "text, where",
    [
        ("rl:\n  lr: [1, 2\nrun: {\n", "line 3, column 4"),  # unclosed flow sequence
        ("rl:\n\tlr: 1\n", "line 2, column 1"),  # a tab
        ("rl: {lr: 1\n", "line 2, column 1"),
        ("a: 1\na: : 2\n", "line 2, column 4"),
    ],
)
def test_malformed_yaml_names_the_file_and_line(tmp_path, text, where):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"config file .*bad\.yaml, {where}: not valid YAML"):
        load_config(path)


def test_a_binary_config_file_is_named(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ConfigError, match=r"cfg\.yaml is not UTF-8 text"):
        load_config(path)


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "evil.yaml"
    path.write_text(EVIL.format(marker=tmp_path / "PWNED"))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "evil.yaml, line 2" in err and "Traceback" not in err


def alias_bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for k in range(1, levels):
        lines.append(f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, match",
    [
        (alias_bomb(), "more than 100000 values once its aliases"),  # 9**9 values: minutes, GBs
        ("a: &a [*a]\n", "an alias that contains itself"),  # used to recurse forever
        ("a: " + "[" * 50000 + "]" * 50000 + "\n", "nested too deeply"),  # was a RecursionError
    ],
)
def test_yaml_that_would_exhaust_memory_or_recursion_is_refused_at_once(tmp_path, text, match):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_ordinary_anchors_still_work(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("sft: {lr: &lr 0.0002}\nrl: {lr: *lr}\n")
    assert load_config(path).rl.lr == 0.0002
