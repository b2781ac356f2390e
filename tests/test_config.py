"""Tests for mmrft.config: strict loading, helpful errors, overrides, and the default YAML."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from mmrft.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    default_yaml,
    field_docs,
    from_dict,
    load_config,
    save_config,
    to_dict,
)
from mmrft.dataclass_yaml import suggest_keys


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------- the default file never drifts


def test_default_yaml_loads_to_default_config():
    assert load_config(DEFAULT_CONFIG_PATH) == Config()
    assert load_config("src/mmrft/configs/default.yaml") == Config()


def test_default_yaml_is_up_to_date():
    # If this fails: python -m mmrft.config > src/mmrft/configs/default.yaml
    assert DEFAULT_CONFIG_PATH.read_text() == default_yaml()


def test_every_field_has_a_docstring():
    for cls in [Config, *typing.get_type_hints(Config).values()]:
        docs = field_docs(cls)
        missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
        assert not missing, f"{cls.__name__} fields without a docstring: {missing}"


def test_default_yaml_comments_every_key():
    lines = DEFAULT_CONFIG_PATH.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#"), f"no comment above {line!r}"


# ---------------------------------------------------------------- loading


def test_none_path_gives_defaults():
    assert load_config(None) == Config()


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_partial_file_keeps_other_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "rl:\n  steps: 7\nsft:\n"))
    assert cfg.rl.steps == 7
    assert cfg.rl.lr == Config().rl.lr
    assert cfg.sft == Config().sft  # an empty section is all defaults


def test_yaml_1_1_exponent_without_dot_is_a_float(tmp_path):
    # PyYAML reads 3e-4 as the string "3e-4"; float fields accept it
    assert load_config(write(tmp_path, "rl:\n  lr: 3e-4\n")).rl.lr == pytest.approx(3e-4)


def test_int_accepted_for_float_field():
    cfg = load_config(None, ["rl.max_grad_norm=2"])
    assert cfg.rl.max_grad_norm == 2.0
    assert isinstance(cfg.rl.max_grad_norm, float)


# ---------------------------------------------------------------- errors name the dotted key


def test_unknown_nested_key_suggests_nearest(tmp_path):
    path = write(tmp_path, "rl:\n  lerning_rate: 0.1\n")
    with pytest.raises(
        ConfigError, match=r"unknown config key 'rl\.lerning_rate'; did you mean 'rl\.lr'"
    ):
        load_config(path)


def test_unknown_nested_key_typo():
    with pytest.raises(
        ConfigError, match=r"'rollout\.group_sise'; did you mean 'rollout\.group_size'\?"
    ):
        load_config(None, ["rollout.group_sise=4"])


def test_unknown_top_level_key_suggests_section(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'rolout'; did you mean 'rollout'\?"):
        load_config(write(tmp_path, "rolout:\n  group_size: 4\n"))


def test_key_at_wrong_level_suggests_where_it_lives():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["lr=1e-5"])
    assert "'sft.lr'" in str(e.value) and "'rl.lr'" in str(e.value)
    with pytest.raises(ConfigError, match=r"'rl\.group_size'; did you mean 'rollout\.group_size'"):
        load_config(None, ["rl.group_size=4"])


def test_unknown_key_without_close_match_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"valid keys in 'run': \['out_dir'"):
        load_config(None, ["run.zzz=1"])


def test_suggest_keys_initials_and_prefix():
    keys = ["rollout.max_new_tokens", "rollout.temperature", "rollout.top_p"]
    assert suggest_keys("rollout.mnt", keys) == ["rollout.max_new_tokens"]
    assert suggest_keys("rollout.temp", keys) == ["rollout.temperature"]
    assert suggest_keys("rollout.xyzzy", keys) == []


def test_wrong_type_names_key_expected_and_got():
    with pytest.raises(
        ConfigError, match=r"config key 'rollout\.group_size' expects int, got str \('eight'\)"
    ):
        load_config(None, ["rollout.group_size=eight"])


def test_float_for_int_field_is_rejected():
    with pytest.raises(ConfigError, match=r"'rl\.steps' expects int, got float"):
        load_config(None, ["rl.steps=10.5"])


def test_literal_error_names_allowed_values():
    with pytest.raises(ConfigError) as e:
        load_config(None, ["model.dtype=fp16"])
    msg = str(e.value)
    assert "model.dtype" in msg and "'float32', 'bfloat16', 'float16'" in msg and "fp16" in msg


@pytest.mark.parametrize("value", ["'true'", "1", "0"])
def test_bool_is_strict(tmp_path, value):
    with pytest.raises(ConfigError, match=r"'run\.resume' expects bool"):
        load_config(write(tmp_path, f"run:\n  resume: {value}\n"))


def test_optional_error_names_union():
    with pytest.raises(ConfigError, match=r"'algorithm\.dual_clip' expects float \| None, got str"):
        load_config(None, ["algorithm.dual_clip=abc"])


def test_list_item_error_names_index():
    with pytest.raises(ConfigError, match=r"'data\.count_range\[1\]' expects int"):
        load_config(None, ["data.count_range=[1, x]"])


def test_section_must_be_mapping():
    with pytest.raises(ConfigError, match=r"config section 'rl' expects a mapping, got int"):
        load_config(None, ["rl=3"])


def test_validation_names_full_key():
    with pytest.raises(ConfigError, match=r"config key 'rollout\.group_size' must be >= 2, got 1"):
        load_config(None, ["rollout.group_size=1"])
    with pytest.raises(ConfigError, match=r"'algorithm\.clip_low' must be > 0"):
        load_config(None, ["algorithm.clip_low=0"])
    with pytest.raises(ConfigError, match=r"'data\.count_range' must be \[low, high\]"):
        load_config(None, ["data.count_range=[6,1]"])


# ---------------------------------------------------------------- overrides


def test_overrides_parse_values():
    cfg = load_config(
        None,
        [
            "rl.lr=3e-4",
            "model.name_or_path=/a/b",
            "data.count_range=[1,6]",
            "algorithm.dual_clip=2.0",
            "algorithm.dual_clip=null",  # later overrides win
            "run.resume=false",
        ],
    )
    assert cfg.rl.lr == 0.0003 and isinstance(cfg.rl.lr, float)
    assert cfg.model.name_or_path == "/a/b"
    assert cfg.data.count_range == [1, 6]
    assert cfg.algorithm.dual_clip is None
    assert cfg.run.resume is False


def test_overrides_apply_on_top_of_file(tmp_path):
    cfg = load_config(write(tmp_path, "rl:\n  steps: 7\n  lr: 0.5\n"), ["rl.lr=0.25"])
    assert (cfg.rl.steps, cfg.rl.lr) == (7, 0.25)


def test_str_fields_take_override_text_verbatim():
    cfg = load_config(
        None, ["run.out_dir=2024-01-01", "model.name_or_path=123", "data.train_path=x.jsonl"]
    )
    assert cfg.run.out_dir == "2024-01-01"
    assert cfg.model.name_or_path == "123"
    assert cfg.data.train_path == "x.jsonl"
    assert load_config(None, ["data.train_path=null"]).data.train_path is None


def test_override_without_equals_is_an_error():
    with pytest.raises(ConfigError, match="'rl.lr'.*key=value"):
        load_config(None, ["rl.lr"])


def test_override_of_nonexistent_key_suggests_nearest():
    with pytest.raises(
        ConfigError, match=r"unknown config key 'eval\.n_sample'; did you mean 'eval\.n_samples'"
    ):
        load_config(None, ["eval.n_sample=8"])


def test_override_into_a_leaf_is_an_error():
    with pytest.raises(ConfigError, match=r"'rl\.lr' expects float, got dict"):
        load_config(None, ["rl.lr.x=1"])


# ---------------------------------------------------------------- saving


def test_save_load_round_trip(tmp_path):
    cfg = load_config(
        None,
        [
            "rl.lr=3e-7",
            "data.count_range=[2,9]",
            "algorithm.dual_clip=3",
            "run.out_dir=yes",
            "model.dtype=bfloat16",
            "data.train_path=a b.jsonl",
        ],
    )
    path = save_config(cfg, tmp_path / "sub" / "config.yaml")
    assert load_config(path) == cfg
    assert path.read_text().startswith("#")


def test_to_dict_is_plain_data():
    d = to_dict(Config())
    assert d["rl"]["lr"] == Config().rl.lr
    assert from_dict(Config, d) == Config()


# ---------------------------------------------------------------- generic machinery, other types


@dataclass
class Inner:
    pair: tuple[int, float] = (1, 2.0)
    """A fixed-length tuple."""
    many: tuple[str, ...] = ()
    """A variable-length tuple."""


@dataclass
class Outer:
    inner: Inner = field(default_factory=Inner)
    """A nested section."""
    weights: dict[str, float] = field(default_factory=dict)
    """A mapping."""
    mode: Literal["a", "b"] = "a"
    """A choice."""


def test_generic_types_and_round_trip(tmp_path):
    from mmrft.dataclass_yaml import load, save

    cfg = load(
        Outer, None, ["inner.pair=[3, 4]", "inner.many=[x, y]", "weights={acc: 1, fmt: 0.5}"]
    )
    assert cfg.inner.pair == (3, 4.0) and cfg.inner.many == ("x", "y")
    assert cfg.weights == {"acc": 1.0, "fmt": 0.5}
    assert load(Outer, save(cfg, tmp_path / "o.yaml")) == cfg
    with pytest.raises(ConfigError, match=r"'inner\.pair' expects tuple\[int, float\] \(2 items\)"):
        from_dict(Outer, {"inner": {"pair": [1, 2, 3]}})
    with pytest.raises(ConfigError, match=r"'weights\.acc' expects float, got str"):
        from_dict(Outer, {"weights": {"acc": "high"}})
    with pytest.raises(ConfigError, match=r"'mode' expects one of \['a', 'b'\]"):
        from_dict(Outer, {"mode": "c"})


def test_optional_literal_quantization_key():
    cfg = load_config(None, ["model.quantization=nf4", "model.lora_rank=8"])
    assert cfg.model.quantization == "nf4"
    assert load_config(None, ["model.quantization=null"]).model.quantization is None
    with pytest.raises(ConfigError, match="model.quantization"):
        load_config(None, ["model.quantization=int4", "model.lora_rank=8"])
    with pytest.raises(ConfigError, match="model.quantization.*lora_rank > 0"):
        load_config(None, ["model.quantization=nf4"])
