"""Device selection from config, and the GPU path of a short run (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

from mmrft.models.setup import resolve_device


def test_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="model.device 'gpu' is not a torch device"):
        resolve_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda:0")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_reduced_run_trains_on_the_gpu(tmp_path):
    from mmrft.build import run
    from mmrft.config import load_config

    summary = run(
        load_config(
            None,
            [
                f"run.out_dir={tmp_path}",
                "model.device=cuda",
                "model.dtype=bfloat16",
                "sft.steps=4",
                "rl.steps=2",
                "data.eval_size=4",
                "eval.n_samples=2",
                "rollout.prompts_per_step=2",
                "rollout.group_size=2",
                "run.tensorboard=false",
            ],
        )
    )
    assert 0 <= summary["accuracy_after"] <= 1
