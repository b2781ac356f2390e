"""Data parallelism computes the same update: 2 ranks x b rows == 1 rank x 2b rows.

Each case launches ``rl_worker.py`` / ``sft_worker.py`` under ``torchrun --nproc_per_node 2``
(gloo on the CPU) and compares rank 0's gathered parameters and the logged losses after 3 steps
with the same worker run as one plain process on all rows. The tiny model runs in float64 (its
RMSNorms too: ``rl_worker.float64_norms``) except Qwen2.5-VL's vision rotary tables (float32 in
any model dtype), which leave ~2e-8 between the two runs (measured); the bound 1e-6 leaves room for that, while normalising each rank by its own
token count (the bug the all-reduced normaliser prevents) moves parameters by ~7e-3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
PARAM_TOL = 1e-6
LOSS_REL = 1e-6

needs_torchrun = pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not found")


def _launch(worker: str, *args: str, nproc: int = 1) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    script = str(HERE / worker)
    if nproc == 1:
        cmd = [sys.executable, script, *args]
    else:
        cmd = ["torchrun", "--standalone", f"--nproc_per_node={nproc}", script, *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _run(worker: str, out: Path, *args: str, nproc: int = 1) -> dict:
    _launch(worker, str(out), *args, nproc=nproc)
    return torch.load(out, weights_only=True)


def _max_param_diff(a: dict, b: dict) -> float:
    assert a["params"].keys() == b["params"].keys()
    return max((a["params"][k] - b["params"][k]).abs().max().item() for k in a["params"])


@pytest.fixture(scope="module")
def one_rank_rl(tmp_path_factory):
    return _run("rl_worker.py", tmp_path_factory.mktemp("rl") / "one.pt", "none", "0")


@needs_torchrun
@pytest.mark.parametrize("strategy,micro", [("fsdp2", "3"), ("ddp", "0")])
def test_two_ranks_take_the_one_rank_rl_steps(one_rank_rl, tmp_path, strategy, micro):
    """3 RL steps (2 PPO epochs each, KL + entropy, unequal lengths); with FSDP2 the 8 rows a
    rank holds also go through micro-batches of 3."""
    two = _run("rl_worker.py", tmp_path / "two.pt", strategy, micro, nproc=2)
    assert two["world"] == 2
    assert two["losses"] == pytest.approx(one_rank_rl["losses"], rel=LOSS_REL)
    assert _max_param_diff(one_rank_rl, two) < PARAM_TOL


@pytest.fixture(scope="module")
def one_rank_ppo(tmp_path_factory):
    """The GAE critic's one-process runs, by layout (separate backbone / shared value head)."""
    cache: dict[str, dict] = {}

    def run(layout: str) -> dict:
        if layout not in cache:
            out = tmp_path_factory.mktemp("ppo") / f"one-{layout}.pt"
            cache[layout] = _run("rl_worker.py", out, "none", "0", "global", layout)
        return cache[layout]

    return run


@needs_torchrun
@pytest.mark.parametrize(
    "strategy,micro,layout",
    [("fsdp2", "3", "separate"), ("fsdp2", "0", "shared"), ("ddp", "0", "separate")],
)
def test_two_ranks_train_the_gae_critic_as_one_rank_does(
    one_rank_ppo, tmp_path, strategy, micro, layout
):
    """PPO with a learned critic: the critic is sharded (or replicated) like the policy, its
    value loss normalised over both ranks' tokens, and the GAE advantages whitened over every
    rank's rows; policy, critic and both losses match the one-process run."""
    one = one_rank_ppo(layout)
    two = _run("rl_worker.py", tmp_path / "two.pt", strategy, micro, "global", layout, nproc=2)
    assert any(k.startswith("critic.") for k in two["params"])
    assert two["losses"] == pytest.approx(one["losses"], rel=LOSS_REL)
    assert two["vf_losses"] == pytest.approx(one["vf_losses"], rel=LOSS_REL)
    assert _max_param_diff(one, two) < PARAM_TOL
    head = "critic.head.weight"  # the critic really trained: its head moved from zero
    assert one["params"][head].abs().max() > 1e-4


@needs_torchrun
def test_a_per_rank_normaliser_would_not(one_rank_rl, tmp_path):
    two = _run("rl_worker.py", tmp_path / "two.pt", "fsdp2", "0", "local", nproc=2)
    assert _max_param_diff(one_rank_rl, two) > 1000 * PARAM_TOL


@pytest.fixture(scope="module")
def one_rank_skipping(tmp_path_factory):
    out = tmp_path_factory.mktemp("skip") / "one.pt"
    return _run("rl_worker.py", out, "none", "3", "global", "none", "skip")


@needs_torchrun
@pytest.mark.parametrize("strategy,micro", [("fsdp2", "3"), ("ddp", "0"), ("ddp", "3")])
def test_ranks_skipping_unequal_rows_take_the_one_rank_steps(
    one_rank_skipping, tmp_path, strategy, micro
):
    """rl.skip_zero_advantage under torchrun: only group 0 has a learning signal, so rank 0
    trains its 4 informative rows (2 micro-batches of 3) and rank 1 one row (1 micro-batch,
    padded with a zero-weight repeat so both run FSDP/DDP's collectives equally often)."""
    two = _run(
        "rl_worker.py", tmp_path / "two.pt", strategy, micro, "global", "none", "skip", nproc=2
    )
    assert one_rank_skipping["trained_rows"] == [4 / 16] * 3
    assert two["trained_rows"] == [5 / 16] * 3  # rank 1 keeps one row of its all-alike groups
    assert two["losses"] == pytest.approx(one_rank_skipping["losses"], rel=LOSS_REL)
    assert _max_param_diff(one_rank_skipping, two) < PARAM_TOL


@needs_torchrun
def test_two_ranks_take_the_one_rank_sft_steps(tmp_path):
    one = _run("sft_worker.py", tmp_path / "one.pt", "none", "0")
    two = _run("sft_worker.py", tmp_path / "two.pt", "fsdp2", "2", nproc=2)
    assert two["losses"] == pytest.approx(one["losses"], rel=LOSS_REL)
    assert _max_param_diff(one, two) < PARAM_TOL


def _same_state(a: dict, b: dict, name: str = "model", optim: str = "optim") -> None:
    """Weights and AdamW states equal; weights without AdamW state (frozen: the critic's unused
    LM head, rebuilt from the starting policy by every run) are compared for the policy only."""
    sa, sb = a[optim]["state"], b[optim]["state"]
    assert a[name].keys() == b[name].keys()
    for k in a[name]:
        if name == "model" or k in sa:
            assert torch.equal(a[name][k], b[name][k]), k
    trained = [k for k in a[name] if k in sa]
    assert sa.keys() == sb.keys() and len(trained) == len(sa) > 0  # AdamW states of weights
    for key_ in sa:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(torch.as_tensor(sa[key_][key]), torch.as_tensor(sb[key_][key]))


@needs_torchrun
@pytest.mark.parametrize("saved_on,resumed_on", [(2, 1), (1, 2), (2, 2)])
def test_checkpoint_resumes_exactly_on_another_world_size(tmp_path, saved_on, resumed_on):
    """Weights and AdamW states come back bit for bit, resharded (DCP) or read in full."""
    _launch("ckpt_worker.py", "save", str(tmp_path), nproc=saved_on)
    _launch("ckpt_worker.py", "load", str(tmp_path), nproc=resumed_on)
    assert (tmp_path / "checkpoints" / "step_000001" / "dcp").exists() == (saved_on > 1)
    saved = torch.load(tmp_path / "save.pt", weights_only=True)
    loaded = torch.load(tmp_path / "load.pt", weights_only=True)
    _same_state(saved, loaded)


@needs_torchrun
@pytest.mark.parametrize("saved_on,resumed_on", [(2, 1), (1, 2)])
def test_the_gae_critic_resumes_with_the_policy_on_another_world_size(
    tmp_path, saved_on, resumed_on
):
    """The critic and its AdamW states are checkpointed beside the policy (DCP shards under
    torchrun, full state dicts in one process) and come back bit for bit, resharded."""
    _launch("ckpt_worker.py", "save", str(tmp_path), "critic", nproc=saved_on)
    _launch("ckpt_worker.py", "load", str(tmp_path), "critic", nproc=resumed_on)
    saved = torch.load(tmp_path / "save.pt", weights_only=True)
    loaded = torch.load(tmp_path / "load.pt", weights_only=True)
    _same_state(saved, loaded)
    _same_state(saved, loaded, "critic", "critic_optim")
    assert saved["critic"]["head.weight"].abs().max() > 0  # the saved critic had trained
