"""The ``mmrft dpo`` stage: preference alignment of ``model.name_or_path`` on (chosen, rejected)
pairs, evaluated on the held-out problems before and after.

Pairs come from ``dpo.pairs_path`` (a JSONL pair file; bad rows skipped, counted and listed in
``skipped_pairs.jsonl``) or are built from the starting policy's own rollouts on ``dpo.prompts``
training prompts, ranked by ``rl.reward`` (``trainer.pair_sampling``). Built pairs are a function
of the seed and the starting weights, so a resumed run rebuilds the same pairs (and its
checkpoint carries the reference log-probs); they are also written to ``pairs.jsonl`` (text
only) for inspection.

Writes under ``run.out_dir``: config.yaml, eval_before.json, pairs.jsonl, metrics.jsonl,
checkpoints/ (removed at the end), model/ (the aligned policy, LoRA merged), summary.json and,
last, COMPLETE; called again after COMPLETE it returns the saved summary.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from functools import partial
from pathlib import Path

from mmrft.algorithms.preference import PREFERENCE_LOSSES
from mmrft.build.components import (
    held_out_eval,
    make_data,
    make_family,
    make_reward,
    make_sampler,
)
from mmrft.build.stage import MARKER, begin_stage, saved_summary
from mmrft.config import PREFERENCE_OPTIONS, Config, PreferenceConfig
from mmrft.data.pairs import Pair, read_pairs
from mmrft.models.setup import is_lora, prepare_policy
from mmrft.report.html import write_report
from mmrft.trainer.distributed import barrier
from mmrft.trainer.pair_sampling import sample_pairs
from mmrft.trainer.pipeline import (
    export_policy,
    load_model,
    name_lora_base,
    rebuild_policy,
    shard,
)
from mmrft.trainer.preference import PairLoss, train_preference

log = logging.getLogger(__name__)


def preference_loss(cfg: PreferenceConfig) -> tuple[PairLoss, bool]:
    """The ``dpo.loss`` entry bound to exactly the options it declares, and whether it needs
    the reference log-probs."""
    entry = PREFERENCE_LOSSES.entry(cfg.loss)
    options = {
        kw: getattr(cfg, key) for key, kw in PREFERENCE_OPTIONS.items() if kw in entry.options
    }
    return partial(entry.obj, **options), "reference" in entry.needs


def _write_pairs(path: Path, pairs: list[Pair]) -> None:
    with path.open("w") as f:
        for p in pairs:
            row = {"id": p.sample.id, "prompt": p.sample.prompt, "answer": p.sample.answer}
            f.write(json.dumps({**row, "chosen": p.chosen, "rejected": p.rejected}) + "\n")


def run_dpo(cfg: Config) -> dict:
    """Align ``model.name_or_path`` with ``dpo.loss`` on preference pairs; the summary dict also
    written to summary.json (accuracy/greedy_accuracy/reward before and after, pair counts)."""
    out = Path(cfg.run.out_dir)
    if (saved := saved_summary(out)) is not None:
        return saved
    world, out, family, t_start = begin_stage(cfg)
    _, prompt_stream, eval_samples, _ = make_data(cfg, family)
    reward_fn = make_reward(cfg)
    loss_fn, needs_reference = preference_loss(cfg.dpo)

    model, processor = load_model(cfg, cfg.model.name_or_path)
    family = make_family(cfg, model.config.model_type, processor)
    model = shard(cfg, prepare_policy(model, cfg.model), family)
    name_lora_base(model, cfg.model.name_or_path)
    sampler = make_sampler(cfg.rollout, model, family)
    before = held_out_eval(cfg, sampler, eval_samples, reward_fn)
    log.info("before: accuracy %.3f greedy %.3f", before.accuracy, before.greedy_accuracy)

    stats: dict = {}
    if cfg.dpo.pairs_path:
        loaded = read_pairs(
            cfg.dpo.pairs_path,
            allow_outside_paths=cfg.data.allow_outside_paths,
            max_pixels=cfg.model.max_pixels,
        )
        pairs = loaded.pairs
        stats = {"pairs": len(pairs), "pairs_skipped": len(loaded.skipped)}
        if world.is_main:
            (out / "skipped_pairs.jsonl").write_text(
                "".join(json.dumps({"line": n, "reason": r}) + "\n" for n, r in loaded.skipped)
            )
        if not pairs:
            first = f" (first: {loaded.skipped[0][1]})" if loaded.skipped else ""
            raise ValueError(f"{cfg.dpo.pairs_path}: no usable preference pairs{first}")
    else:
        pairs, stats = sample_pairs(
            sampler,
            prompt_stream.next_batch(cfg.dpo.prompts),
            reward_fn,
            group_size=cfg.dpo.samples_per_prompt,
            pairs_per_prompt=cfg.dpo.pairs_per_prompt,
            temperature=cfg.rollout.temperature,
            max_new_tokens=cfg.rollout.max_new_tokens,
            seed=cfg.run.seed,
        )
        log.info(
            "built %d pairs from %d of %d prompts (%d always right, %d never right)",
            len(pairs),
            stats["prompts_paired"],
            stats["prompts"],
            stats["prompts_all_correct"],
            stats["prompts_all_wrong"],
        )
        if not pairs:
            raise ValueError(
                f"no preference pairs: of {stats['prompts']} prompts x {cfg.dpo.samples_per_prompt} "
                "samples none had both a correct and an incorrect completion; raise "
                "dpo.samples_per_prompt or dpo.prompts, or give dpo.pairs_path"
            )
    if world.is_main:
        _write_pairs(out / "pairs.jsonl", pairs)

    ref_model = None
    if needs_reference:
        if is_lora(model):  # the frozen base under the adapters is the reference
            ref_model = model
        else:
            ref_model, _ = load_model(cfg, cfg.model.name_or_path, trainable=False)
            ref_model = shard(cfg, ref_model.eval().requires_grad_(False), family)
    history = train_preference(
        model,
        family,
        pairs,
        loss_fn,
        ref_model=ref_model,
        steps=cfg.dpo.steps,
        batch_size=cfg.dpo.batch_size,
        lr=cfg.dpo.lr,
        warmup_steps=cfg.dpo.warmup_steps,
        weight_decay=cfg.dpo.weight_decay,
        max_grad_norm=cfg.dpo.max_grad_norm,
        micro_batch_size=cfg.dpo.micro_batch_size,
        logprob_micro_batch_size=cfg.dpo.logprob_micro_batch_size,
        compute_dtype=cfg.model.dtype,
        seed=cfg.run.seed,
        save_every=cfg.dpo.save_every,
        out_dir=out,
        processor=processor,
    )
    del ref_model
    after = held_out_eval(cfg, sampler, eval_samples, reward_fn)
    log.info("after: accuracy %.3f greedy %.3f", after.accuracy, after.greedy_accuracy)
    export_policy(
        model, processor, out / "model", lambda: rebuild_policy(cfg, cfg.model.name_or_path)
    )
    summary = {
        "stage": "dpo",
        "loss": cfg.dpo.loss,
        "wall_seconds": round(time.time() - t_start, 1),
        "eval_problems": before.n_problems,
        "eval_samples_per_problem": cfg.eval.n_samples,
        "dpo_steps": cfg.dpo.steps,
        "pair_stats": stats,
    }
    for key in ("accuracy", "greedy_accuracy", "reward"):
        summary[f"{key}_before"] = getattr(before, key)
        summary[f"{key}_after"] = getattr(after, key)
    last = history[-1] if history else {}
    summary.update({f"final_{k.split('/')[1]}": v for k, v in last.items() if "/" in k})
    if world.is_main:
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        write_report(out)  # summary, metrics.jsonl and config as a page
        (out / MARKER).write_text("")
    barrier()
    return summary
