"""`torchrun -m mmrft train` end to end on 2 CPU ranks (gloo), and the checks before it starts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mmrft.build import check_world
from mmrft.config import ConfigError, load_config
from mmrft.trainer import distributed
from mmrft.trainer.distributed import init_distributed

TINY_RUN = [
    "src/mmrft/configs/default.yaml",
    "sft.steps=2", "sft.batch_size=4", "rl.eval_every=2", "run.save_every=2",
    "rollout.prompts_per_step=4", "rollout.group_size=4", "data.eval_size=4",
    "eval.n_samples=1", "rl.micro_batch_size=3", "run.tensorboard=false",
]  # fmt: skip
ROOT = Path(__file__).parents[2]
needs_torchrun = pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not found")


def _train(out: Path, steps: int, nproc: int, extra: tuple[str, ...] = ()) -> None:
    args = [*TINY_RUN, f"run.out_dir={out}", f"rl.steps={steps}", *extra]
    launch = (
        [sys.executable]
        if nproc == 1
        else ["torchrun", "--standalone", f"--nproc_per_node={nproc}"]
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [*launch, "-m", "mmrft", "train", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def _weights(out: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(out / "checkpoints" / f"step_{step:06d}" / "model.safetensors")


def _steps(path: Path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


@needs_torchrun
def test_two_ranks_run_sft_and_grpo_and_rank0_alone_writes_the_run(tmp_path):
    _train(tmp_path, steps=2, nproc=2)
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2]  # one row per step, not one per rank
    assert _steps(tmp_path / "evals.jsonl") == [0, 2]
    assert (tmp_path / "sft" / "COMPLETE").exists() and (tmp_path / "report.html").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["accuracy_before"] is not None
    ckpt = tmp_path / "checkpoints" / "step_000002"
    assert (ckpt / "dcp").is_dir() and (ckpt / "COMPLETE").exists()
    assert (tmp_path / "ranks" / "metrics.rank1.jsonl").exists()  # rank 1's own log, aside


@pytest.mark.slow
@needs_torchrun
def test_a_resumed_two_rank_run_matches_the_uninterrupted_one(tmp_path):
    _train(tmp_path / "whole", steps=4, nproc=2)
    _train(tmp_path / "cut", steps=2, nproc=2)
    _train(tmp_path / "cut", steps=4, nproc=2)  # resumes from step 2's sharded checkpoint
    whole, cut = _weights(tmp_path / "whole", 4), _weights(tmp_path / "cut", 4)
    assert whole.keys() == cut.keys()
    for name in whole:
        assert torch.equal(whole[name], cut[name]), name
    assert _steps(tmp_path / "cut" / "metrics.jsonl") == [1, 2, 3, 4]


@pytest.mark.slow
@needs_torchrun
@pytest.mark.parametrize("first,then", [(2, 1), (1, 2)])
def test_a_run_resumes_on_another_number_of_ranks(tmp_path, first, then):
    _train(tmp_path, steps=2, nproc=first)
    _train(tmp_path, steps=3, nproc=then)
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2, 3]
    assert (tmp_path / "checkpoints" / "step_000003" / "COMPLETE").exists()


def test_torchrun_variables_half_set_are_named(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="MASTER_ADDR.*torchrun --nproc_per_node"):
        init_distributed("cpu")


@pytest.mark.parametrize("cuda,backend", [(True, "cpu:gloo,cuda:nccl"), (False, "gloo")])
def test_a_cuda_run_joins_a_group_that_also_reduces_cpu_tensors(monkeypatch, cuda, backend):
    """The trainers all-reduce CPU tensors (metrics, token counts) in CUDA runs too, which an
    NCCL-only process group refuses; gloo serves those."""
    joined = []
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **kw: joined.append(kw))
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(distributed.torch.cuda, "set_device", lambda i: None)
    monkeypatch.setattr(distributed, "current_world", lambda: distributed.World(1, 2, 1))
    for name, value in [("WORLD_SIZE", "2"), ("RANK", "1"), ("LOCAL_RANK", "1")]:
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MASTER_ADDR", "localhost")
    monkeypatch.setenv("MASTER_PORT", "29500")
    init_distributed("auto")
    assert joined == [{"backend": backend}]


@pytest.mark.parametrize(
    "overrides,world,key",
    [
        (["rollout.prompts_per_step=6"], 4, "rollout.prompts_per_step"),
        (["sft.batch_size=6"], 4, "sft.batch_size"),
        (["rl.micro_batch_size=33"], 4, "rl.micro_batch_size"),  # 16 x 8 / 4 = 32 per rank
        (["rl.micro_batch_size=129"], 1, "rl.micro_batch_size"),
        (["sft.micro_batch_size=33"], 1, "sft.micro_batch_size"),
        (["model.lora_rank=4", "model.quantization=nf4"], 2, "model.quantization"),
    ],
)
def test_batch_layouts_that_cannot_run_are_named_before_anything_runs(overrides, world, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        check_world(load_config(None, overrides), world)


def test_layouts_that_can_run_pass():
    check_world(load_config(None, ["rl.micro_batch_size=32"]), 4)
    check_world(load_config(None, ["model.lora_rank=4"]), 2)  # LoRA shards with FSDP2
    check_world(load_config(None, ["model.lora_rank=4", "distributed.strategy=ddp"]), 2)
    check_world(load_config(None, ["algorithm.adv_estimator=gae", "critic.model=shared"]), 2)
    check_world(
        load_config(None, ["algorithm.adv_estimator=gae", "rollout.dynamic_sampling=true"]), 4
    )


@needs_torchrun
def test_ppo_with_a_critic_and_dynamic_sampling_run_on_two_ranks_and_resume_on_one(tmp_path):
    """GAE's critic trains sharded beside the policy and is checkpointed with it (DCP keys
    ``critic.*``); dynamic sampling's rounds agree across ranks; the run resumes on one rank."""
    import torch.distributed.checkpoint as dcp

    ppo = ["algorithm.adv_estimator=gae", "rollout.dynamic_sampling=true", "sft.steps=0"]
    _train(tmp_path, steps=2, nproc=2, extra=ppo)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert all("critic/vf_loss" in r and r["sampling/tries"] >= 1 for r in rows)
    keys = dcp.FileSystemReader(str(tmp_path / "checkpoints" / "step_000002" / "dcp"))
    saved = keys.read_metadata().state_dict_metadata
    assert any(k.startswith("critic.head") for k in saved)
    assert any(k.startswith("critic_optim.state.backbone") for k in saved)
    _train(tmp_path, steps=3, nproc=1, extra=ppo)
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2, 3]


@needs_torchrun
def test_mmrft_train_nproc_relaunches_itself_under_torchrun(tmp_path):
    """`mmrft train --nproc 2` is the torchrun run above, started by mmrft itself."""
    args = [*TINY_RUN, f"run.out_dir={tmp_path}", "rl.steps=1", "sft.steps=0", "--nproc", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mmrft", "train", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "torchrun --standalone --nproc_per_node=2 -m mmrft train" in done.stdout
    assert (tmp_path / "ranks" / "metrics.rank1.jsonl").exists()  # two ranks really ran
    assert _steps(tmp_path / "metrics.jsonl") == [1]


@needs_torchrun
def test_lora_under_fsdp2_trains_checkpoints_and_exports_a_merged_model(tmp_path):
    """The adapters train sharded; checkpoints hold them (plus DCP shards); SFT's and the run's
    exports are plain merged models that load and differ from the untrained base."""
    _train(tmp_path, steps=2, nproc=2, extra=["model.lora_rank=4", "model.lora_alpha=8"])
    ckpt = tmp_path / "checkpoints" / "step_000002"
    assert (ckpt / "adapter_model.safetensors").exists() and (ckpt / "dcp").is_dir()
    from mmrft.models import load_policy

    merged, _ = load_policy(str(tmp_path / "model"))
    base, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    assert not hasattr(merged, "peft_config")
    moved = [
        n
        for n, p in merged.named_parameters()
        if not torch.equal(p, dict(base.named_parameters())[n])
    ]
    assert moved and all("language_model" in n for n in moved)  # LoRA targets only
