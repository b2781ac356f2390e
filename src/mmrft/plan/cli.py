"""``mmrft plan CONFIG [--gpus N] [--gpu-mem 80GB] [--json] [key=value ...]``."""

from __future__ import annotations

import argparse
import json


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the per-device memory plan of a run config (table, or JSON with --json)."""
    from mmrft.config import load_config
    from mmrft.plan.report import parse_gib, plan_config, print_plan

    if args.gpus < 1:
        raise ValueError(f"--gpus must be >= 1, got {args.gpus}")
    cfg = load_config(args.config, args.overrides)
    setup, plan = plan_config(
        cfg, gpus=args.gpus, gpu_mem_gib=parse_gib(args.gpu_mem), prompt_tokens=args.prompt_tokens
    )
    if args.json:
        print(json.dumps({"model": cfg.model.name_or_path, "setup": setup.__dict__,
                          **plan.to_dict()}))  # fmt: skip
    else:
        print_plan(setup, plan, cfg.model.name_or_path)
    return 0


def add_parser(sub) -> None:
    """Register ``plan`` on the top-level subparsers."""
    p = sub.add_parser(
        "plan",
        help="per-device memory of a run before launch, from the model's config.json only",
        description="Reads model.name_or_path's config.json offline (a directory, a file, a "
        "hub name in the local cache, a shipped config or a builtin tiny model) and prints "
        "per-device memory for weights, gradients, optimizer states, activations (with and "
        "without gradient checkpointing), logits, rollout, reference and critic, the peak of "
        "each phase, whether it fits and the largest micro-batch sizes that do.",
    )
    p.add_argument("config", help="YAML run config")
    p.add_argument("--gpus", type=int, default=1, help="devices (torchrun world size)")
    p.add_argument("--gpu-mem", default="80GB", help="memory per device, e.g. 80GB (GiB)")
    p.add_argument(
        "--prompt-tokens", type=int, default=None,
        help="prompt length in tokens (default: one image at model.max_pixels + 64 text)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("overrides", nargs="*", help="config overrides key=value")
    p.set_defaults(func=cmd_plan)
