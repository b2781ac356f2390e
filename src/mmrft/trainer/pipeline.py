"""A whole run from one Config: data -> SFT cold start -> GRPO -> evaluation -> summary + report.

``mmrft train`` and ``mmrft demo`` both call ``run``. Stages are resumable: SFT writes a complete
model to ``out_dir/sft`` (skipped on rerun once it exists) and RL resumes from its last checkpoint.
The RL stage loads the SFT policy back through ``load_policy`` — the same ``from_pretrained`` path
a hub checkpoint takes.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path

import numpy as np
import torch

from mmrft.build import make_data, make_family, make_reward
from mmrft.config import Config, save_config
from mmrft.data.sample import Sample
from mmrft.eval.harness import EvalResult
from mmrft.models import load_policy, save_policy
from mmrft.models.loading import load_family
from mmrft.models.lora import save_merged
from mmrft.models.setup import is_lora, prepare_policy, resolve_device
from mmrft.trainer.rl import train_rl
from mmrft.trainer.sft import train_sft

log = logging.getLogger(__name__)

N_EXAMPLES = 24


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run(cfg: Config) -> dict:
    """Run every stage of ``cfg``; returns the summary dict also written to summary.json."""
    t_start = time.time()
    out = Path(cfg.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    seed_everything(cfg.run.seed)
    family = load_family(
        cfg.model.name_or_path,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
    )  # the box convention and resized image size, before any weights are loaded
    sft_stream, rl_stream, eval_samples, skipped = make_data(cfg, family)
    reward_fn = make_reward(cfg)

    # --- cold start --------------------------------------------------------------------
    sft_dir = out / "sft"
    if cfg.sft.steps > 0 and not (sft_dir / "COMPLETE").exists():
        model, processor = _load(cfg, cfg.model.name_or_path)
        family = make_family(cfg, model.config.model_type, processor)
        model = prepare_policy(model, cfg.model)
        sft_losses = train_sft(
            model,
            family,
            sft_stream,
            steps=cfg.sft.steps,
            batch_size=cfg.sft.batch_size,
            lr=cfg.sft.lr,
            warmup_steps=cfg.sft.warmup_steps,
            weight_decay=cfg.sft.weight_decay,
            stop_accuracy=cfg.sft.stop_accuracy,
        )
        # RL starts from a plain model either way: LoRA adapters are merged into the export.
        (save_merged if is_lora(model) else save_policy)(model, processor, sft_dir)
        (sft_dir / "sft_metrics.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in sft_losses)
        )
        (sft_dir / "COMPLETE").write_text("")
        del model
    init_path = str(sft_dir) if cfg.sft.steps > 0 else cfg.model.name_or_path

    # --- RL ------------------------------------------------------------------------------
    seed_everything(cfg.run.seed)
    model, processor = _load(cfg, init_path)
    model = prepare_policy(model, cfg.model)
    family = make_family(cfg, model.config.model_type, processor)
    ref_model = None
    if cfg.algorithm.kl_coef > 0 or cfg.rl.track_kl:  # beta = 0 skips it unless KL is tracked
        if is_lora(model):  # the frozen base under the adapters is the reference
            ref_model = model
        else:
            ref_model, _ = _load(cfg, init_path)
            ref_model.eval().requires_grad_(False)

    greedy: dict[int, EvalResult] = {}
    result = train_rl(
        cfg,
        model,
        processor,
        family,
        stream=rl_stream,
        reward_fn=reward_fn,
        eval_samples=eval_samples,
        ref_model=ref_model,
        on_eval=lambda step, res: greedy.__setitem__(step, res),
    )
    if is_lora(model):  # checkpoints hold adapters only; export a plain model too
        save_merged(model, processor, out / "merged")
    summary = summarize(cfg, result.evals, time.time() - t_start)
    summary["train_lines_skipped"] = len(skipped)
    if skipped:  # reported, not lost: every skipped line with its reason
        (out / "skipped.jsonl").write_text(
            "".join(json.dumps({"line": n, "reason": r}) + "\n" for n, r in skipped)
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if 0 in greedy and len(greedy) > 1:  # a resumed run lacks the step-0 completions
        write_examples(out, eval_samples[:N_EXAMPLES], greedy[min(greedy)], greedy[max(greedy)])
    from mmrft.report.html import write_report

    write_report(out)
    return summary


def _load(cfg: Config, name_or_path: str):
    model, processor = load_policy(
        name_or_path,
        dtype=cfg.model.dtype,
        attn_implementation=cfg.model.attn_implementation,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
        quantization=cfg.model.quantization,
    )
    return model.to(resolve_device(cfg.model.device)), processor


def summarize(cfg: Config, evals: list[dict], wall_seconds: float) -> dict:
    """Before = the evaluation at RL step 0; after = mean of the last ``rl.eval_last_k`` ones."""
    before = next((e for e in evals if e["step"] == 0), None)
    later = [e for e in evals if e["step"] > 0][-cfg.rl.eval_last_k :]
    summary: dict = {
        "wall_seconds": round(wall_seconds, 1),
        "eval_problems": cfg.data.eval_size,
        "eval_samples_per_problem": cfg.eval.n_samples,
        "rl_steps": cfg.rl.steps,
        "after_averaged_over_steps": [e["step"] for e in later],
    }
    for key in ("accuracy", "greedy_accuracy", "reward"):
        if before is not None:
            summary[f"{key}_before"] = before[key]
        if later:
            summary[f"{key}_after"] = sum(e[key] for e in later) / len(later)
            summary[f"{key}_final"] = later[-1][key]
    return summary


def write_examples(out: Path, samples: list[Sample], before: EvalResult, after: EvalResult) -> None:
    """Greedy completions before/after RL on the first eval problems, for the report."""
    img_dir = out / "examples"
    img_dir.mkdir(exist_ok=True)
    with (out / "examples.jsonl").open("w") as f:
        for i, s in enumerate(samples):
            rel = f"examples/{i:03d}.png"
            if s.images:
                s.images[0].save(out / rel)
            f.write(
                json.dumps(
                    {
                        "image": rel if s.images else None,
                        "prompt": s.prompt,
                        "answer": s.answer,
                        "completion_before": before.greedy_texts[i],
                        "completion_after": after.greedy_texts[i],
                        "reward_before": before.greedy_correct[i],
                        "reward_after": after.greedy_correct[i],
                    }
                )
                + "\n"
            )
