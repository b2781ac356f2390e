"""`mmrft plan` against measured peak memory of one RL update step on this CPU.

Models: Qwen2.5-VL with the published structure (GQA 8:1, SwiGLU at ~5.4x, gated vision MLP,
2x2 merger, tied embeddings) scaled down in width and depth, random init, float32, one
forward + backward + AdamW step over N sequences of (text + one image) prompt + completion,
through the project's log-prob path. Each measurement runs in a fresh process
(`python -m mmrft.plan.measure`), which resets the kernel's peak-RSS counter right before the
step. "static" is weights + AdamW states (resident before the step), "step" the peak extra of
the step (gradients, activations, logits); the planner's numbers are the same split.

    python benchmarks/plan_vs_measured.py   # ~30M and ~300M models; 1-4 min, ~8 GB of RAM
"""

from __future__ import annotations

import json
import subprocess
import sys

from rich.console import Console
from rich.table import Table

from mmrft.plan.measure import scaled_qwen2_5_vl_config
from mmrft.plan.memory import Setup, plan_memory
from mmrft.plan.shapes import count_params, shape_from_config

MODELS = {
    "~30M": dict(hidden=512, intermediate=2752, layers=4, heads=8, kv_heads=1, vocab=32000,
                 vision_hidden=256, vision_intermediate=684, vision_depth=2),
    "~300M": dict(hidden=1024, intermediate=5504, layers=6, heads=16, kv_heads=2, vocab=151936,
                  vision_hidden=640, vision_intermediate=1710, vision_depth=4),
}  # fmt: skip
RUNS = [  # (model, sequences, text tokens, image grid side in patches, completion, checkpointing)
    ("~30M", 8, 64, 16, 64, False),
    ("~30M", 16, 128, 16, 128, False),
    ("~30M", 16, 128, 16, 128, True),
    ("~300M", 4, 64, 16, 64, False),
]


def planned(cfg: dict, n: int, text: int, grid: int, completion: int, ckpt: bool) -> dict[str, int]:
    """The planner's static (weights + AdamW) and step (the rest of the update) bytes."""
    setup = Setup(
        gpus=1, strategy="none", dtype="float32", prompts_per_step=n, group_size=1,
        prompt_tokens=text + grid * grid // 4, image_patches=grid * grid,
        max_new_tokens=completion, gradient_checkpointing=ckpt,
    )  # fmt: skip
    plan = plan_memory(shape_from_config(cfg), setup)
    c = plan.components
    static = c["policy weights"] + c["optimizer states"]
    return {"static": static, "step": plan.phases["update"] - static}


def measure(cfg: dict, n: int, text: int, grid: int, completion: int, ckpt: bool) -> dict[str, int]:
    """Run ``mmrft.plan.measure`` in a fresh process (it changes malloc settings)."""
    spec = {"cfg": cfg, "n": n, "text_tokens": text, "grid": grid, "completion": completion,
            "checkpointing": ckpt}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "mmrft.plan.measure", json.dumps(spec)],
        capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    table = Table(title="mmrft plan vs measured peak (CPU, float32, one update step), MiB")
    for col in ("model", "params", "N x (P+L)", "ckpt", "static plan", "static meas",
                "step plan", "step meas", "step err", "total err"):  # fmt: skip
        table.add_column(col, justify="right")
    for name, n, text, grid, completion, ckpt in RUNS:
        cfg = scaled_qwen2_5_vl_config(**MODELS[name])
        params = count_params(shape_from_config(cfg)).total
        p = planned(cfg, n, text, grid, completion, ckpt)
        m = measure(cfg, n, text, grid, completion, ckpt)
        mib = 2**20
        err = p["step"] / m["step"] - 1
        total_err = (p["static"] + p["step"]) / (m["static"] + m["step"]) - 1
        seq = text + grid * grid // 4 + completion
        table.add_row(
            name, f"{params / 1e6:.1f}M", f"{n} x {seq}", "yes" if ckpt else "no",
            f"{p['static'] / mib:.0f}",
            f"{m['static'] / mib:.0f}", f"{p['step'] / mib:.0f}", f"{m['step'] / mib:.0f}",
            f"{err:+.0%}", f"{total_err:+.0%}",
        )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
