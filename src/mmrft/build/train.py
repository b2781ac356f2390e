"""The RL run: the components of ``mmrft.build.components`` into the trainer's stages
(data -> SFT cold start -> GRPO -> evaluation and report), on one process or under torchrun."""

from __future__ import annotations

import json
import logging
import time
from functools import partial

from mmrft.build.components import (
    held_out_eval,
    make_data,
    make_family,
    make_objective,
    make_reward,
    make_sampler,
    make_task,
)
from mmrft.build.sft import check_sft_world, sft_stage
from mmrft.build.stage import begin_stage
from mmrft.config import Config
from mmrft.data.screen import encode_screen
from mmrft.dataclass_yaml import check
from mmrft.eval.harness import EvalResult
from mmrft.models.setup import is_lora, prepare_policy
from mmrft.trainer.critic import build_critic
from mmrft.trainer.distributed import barrier, shard_critic
from mmrft.trainer.pipeline import (
    N_EXAMPLES,
    OODCheck,
    export_policy,
    keep_eval,
    load_model,
    name_lora_base,
    prepare_dataset,
    rebuild_policy,
    saved_before,
    seed_everything,
    shard,
    shard_options,
    summarize,
    write_examples,
)
from mmrft.trainer.rl import train_rl

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# The whole run: components into the trainer's stages
# --------------------------------------------------------------------------------------------


def check_world(cfg: Config, world_size: int) -> None:
    """Batch-layout checks that need the world size: every rank must get the same share of
    whole groups, and a micro-batch cannot exceed what it divides. Raises ``ConfigError``
    naming the key before any work starts."""
    rl_rows = cfg.rollout.prompts_per_step * cfg.rollout.group_size
    per_rank = rl_rows // world_size // cfg.algorithm.mini_batches
    micro = cfg.rl.micro_batch_size
    check(
        micro is None or micro <= per_rank,
        "rl.micro_batch_size",
        f"is {micro}, larger than the {per_rank} sequences of a mini-batch on each rank "
        "(rollout.prompts_per_step x rollout.group_size / algorithm.mini_batches / ranks)",
    )
    if cfg.sft.steps > 0:
        check_sft_world(cfg, world_size)
    if world_size == 1:
        return
    ranks = f"the {world_size} ranks of this torchrun"
    check(
        cfg.rollout.prompts_per_step % world_size == 0,
        "rollout.prompts_per_step",
        f"is {cfg.rollout.prompts_per_step}: it must divide evenly among {ranks}",
    )
    if cfg.distributed.strategy == "fsdp2":
        check(
            cfg.model.quantization is None,
            "model.quantization",
            "needs distributed.strategy=ddp under torchrun: FSDP2 cannot shard bitsandbytes' "
            "quantized weights",
        )


def run(cfg: Config) -> dict:
    """Run every stage of ``cfg``; returns the summary dict also written to summary.json.

    Under torchrun every rank runs this; the policy (and reference) are sharded with FSDP2 or
    replicated (``distributed.strategy``), each rank trains on its share of the prompts, and
    only rank 0 writes the run's files.
    """
    world, out, family, t_start = begin_stage(cfg, check_world)
    sft_stream, rl_stream, eval_samples, skipped = make_data(cfg, family)
    skip_dir = out if world.is_main else out / "ranks" / f"rank{world.rank}"  # same data per rank
    skip_log = prepare_dataset(cfg, skip_dir, family, (sft_stream, rl_stream), skipped)
    reward_fn = make_reward(cfg)
    ood = OODCheck(cfg, make_task(cfg, family))  # eval.ood_level: a level RL never trains on

    # --- cold start --------------------------------------------------------------------
    sft_dir = out / "sft"
    if cfg.sft.steps > 0 and not (sft_dir / "COMPLETE").exists():
        # mmrft sft's own stage function; RL starts from the plain model it exports here.
        sft_losses = sft_stage(
            cfg, sft_stream, init_path=cfg.model.name_or_path, work_dir=sft_dir, export_dir=sft_dir
        )
        if world.is_main:
            (sft_dir / "sft_metrics.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in sft_losses)
            )
            (sft_dir / "COMPLETE").write_text("")
        barrier()
    init_path = str(sft_dir) if cfg.sft.steps > 0 else cfg.model.name_or_path

    # --- RL ------------------------------------------------------------------------------
    seed_everything(cfg.run.seed)
    model, processor = load_model(cfg, init_path)
    family = make_family(cfg, model.config.model_type, processor)
    model = prepare_policy(model, cfg.model)
    objective = make_objective(cfg.algorithm)
    # a critic starts as a copy of the starting policy (or its own checkpoint): built before the
    # policy is sharded, then sharded (or replicated) the same way
    critic = build_critic(cfg.critic, model) if objective.needs_critic else None
    model = shard(cfg, model, family)
    if critic is not None:
        shard_critic(critic, **shard_options(cfg, family))
    name_lora_base(model, init_path)
    rl_stream.screen = encode_screen(family)
    ref_model = None
    if cfg.algorithm.kl_coef > 0 or cfg.rl.track_kl:  # beta = 0 skips it unless KL is tracked
        if is_lora(model):  # the frozen base under the adapters is the reference
            ref_model = model
        else:
            ref_model, _ = load_model(cfg, init_path, trainable=False)
            ref_model = shard(cfg, ref_model.eval().requires_grad_(False), family)

    greedy: dict[int, EvalResult] = {}
    sampler = make_sampler(cfg.rollout, model, family)
    ood_eval = partial(held_out_eval, cfg, sampler, reward_fn=reward_fn)
    ood.evaluate(ood_eval)  # the cold start (train_rl loads a checkpoint itself on resume)
    result = train_rl(
        cfg,
        model,
        processor,
        family,
        stream=rl_stream,
        reward_fn=reward_fn,
        eval_samples=eval_samples,
        objective=objective,
        sampler=sampler,
        ref_model=ref_model,
        critic=critic,
        on_eval=lambda step, res: keep_eval(out, greedy, step, res),
    )
    ood.evaluate(ood_eval)  # the final policy
    # The run's final policy as a plain from_pretrained folder (LoRA merged; under torchrun
    # gathered from the shards): what eval, release and the next chained stage load.
    export_policy(model, processor, out / "model", lambda: rebuild_policy(cfg, init_path))
    if not world.is_main:
        return {}
    summary = summarize(cfg, result.evals, time.time() - t_start)
    summary["eval_problems"] = len(eval_samples)  # data.eval_path / a hold-out may be fewer
    summary["train_lines_skipped"] = len(skipped)
    summary["train_samples_skipped"] = skip_log.count("id")  # loaded, but cannot be encoded
    summary.update(ood.summary())
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    before = greedy.get(0) or saved_before(out)  # a resumed run: saved at step 0
    if before is not None and greedy and max(greedy) > 0:
        write_examples(out, eval_samples[:N_EXAMPLES], before, greedy[max(greedy)])
    from mmrft.report.html import write_report

    write_report(out)
    return summary
