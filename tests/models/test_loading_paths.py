"""Model paths: a missing local path is named without a hub request; a LoRA checkpoint
(adapters only) loads as its base plus the adapters."""

from __future__ import annotations

import json

import pytest
import torch

from mmrft.cli import main
from mmrft.config import ModelConfig
from mmrft.models import load_policy, save_policy
from mmrft.models.loading import adapter_base, looks_local
from mmrft.models.setup import prepare_policy
from mmrft.trainer.pipeline import name_lora_base


@pytest.mark.parametrize("name", ["runs/missing", "./missing", "/no/such/model", "a/b/c", "m/"])
def test_a_missing_local_path_is_named_and_not_looked_up_on_the_hub(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()  # so "runs/missing" is a local path, not a hub name

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub was asked")

    monkeypatch.setattr("transformers.AutoConfig.from_pretrained", no_hub)
    with pytest.raises(FileNotFoundError, match=f"model path not found: {name}"):
        load_policy(name)


def test_hub_names_still_look_like_hub_names():
    assert not looks_local("Qwen/Qwen2.5-VL-3B-Instruct")
    assert looks_local("runs/demo/sft") and looks_local("~/models/x")


def test_a_lora_checkpoint_loads_as_base_plus_adapters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    save_policy(base, processor, tmp_path / "base")
    policy = prepare_policy(load_policy(str(tmp_path / "base"))[0], ModelConfig(lora_rank=4))
    torch.manual_seed(1)
    with torch.no_grad():  # adapters start as a no-op (B = 0): make them do something
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    name_lora_base(policy, "base")  # relative: recorded as an absolute path
    ckpt = tmp_path / "checkpoints" / "step_000002"
    save_policy(policy, processor, ckpt)  # what a LoRA run's checkpoint holds
    assert not (ckpt / "config.json").exists()
    assert adapter_base(str(ckpt)) == str((tmp_path / "base").resolve())

    loaded, loaded_processor = load_policy(str(ckpt))
    ids = torch.tensor([[1, 5, 9, 12, 7]])
    with torch.no_grad():
        want = policy(input_ids=ids).logits
        assert not torch.allclose(want, base(input_ids=ids).logits, atol=1e-4)
        assert torch.allclose(loaded(input_ids=ids).logits, want, atol=1e-5)
    assert type(loaded_processor).__name__ == type(processor).__name__


def test_mmrft_eval_runs_on_a_lora_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    policy = prepare_policy(base, ModelConfig(lora_rank=4))
    name_lora_base(policy, "tiny-qwen2.5-vl")
    save_policy(policy, processor, tmp_path / "ck")
    assert main(["eval", str(tmp_path / "ck"), "--task", "count", "--limit", "2",
                 "--out", str(tmp_path / "ev")]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n_problems"] == 2


def test_an_adapter_folder_without_its_base_says_so(tmp_path):
    (tmp_path / "adapter_config.json").write_text('{"base_model_name_or_path": null}')
    with pytest.raises(ValueError, match="names no base model"):
        load_policy(str(tmp_path))
