"""make_optimizer runs AdamW fused where torch has the kernel, with the loop implementation's update."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor

from mmrft.trainer.optim import fused_supported, make_optimizer


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))


def _train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int = 5) -> None:
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(4, 6, generator=gen)
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()


def test_plain_cpu_parameters_get_the_fused_kernel_and_the_loop_update():
    fused_model, loop_model = _model(), _model()
    opt, _ = make_optimizer(fused_model, 1e-2, 0.1, bias_lr_scale=0.5, betas=(0.9, 0.95))
    assert opt.defaults["fused"] is True
    # the reference: torch's per-tensor loop (its CPU default), the same groups and settings
    named = list(loop_model.named_parameters())
    groups = [
        {"params": [p for n, p in named if not n.endswith("bias")]},
        {"params": [p for n, p in named if n.endswith("bias")], "lr": 5e-3},
    ]
    ref = torch.optim.AdamW(groups, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.95), foreach=False)
    _train(fused_model, opt)
    _train(loop_model, ref)
    for (name, got), want in zip(
        fused_model.named_parameters(), loop_model.parameters(), strict=True
    ):
        moved = (want.detach() - _model().state_dict()[name]).abs().max()
        assert moved > 1e-3  # five steps of lr 1e-2 did move it
        torch.testing.assert_close(got.detach(), want.detach(), rtol=1e-6, atol=1e-7)


def test_fused_only_where_torch_has_the_kernel():
    assert fused_supported([torch.zeros(2, requires_grad=True)])
    assert not fused_supported([])
    assert not fused_supported([torch.zeros(2, device="meta")])
    assert not fused_supported([torch.zeros(2), torch.zeros(2, device="meta")])  # mixed devices
    assert not fused_supported([torch.zeros(2, dtype=torch.int64)])


def test_fsdp2_shards_keep_the_default_implementation(tmp_path):
    """A DTensor parameter (what FSDP2 leaves in the model) is not given the fused kernel."""
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        mesh = init_device_mesh("cpu", (1,))
        shard = torch.nn.Parameter(distribute_tensor(torch.zeros(4, 2), mesh, [Shard(0)]))
        assert not fused_supported([shard])
        model = torch.nn.Linear(2, 4)
        model.weight = shard
        assert make_optimizer(model, 1e-3, 0.0)[0].defaults["fused"] is False
    finally:
        dist.destroy_process_group()
