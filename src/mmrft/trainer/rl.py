"""THE training loop: GRPO-family RL on verifiable rewards, readable top to bottom.

One step is: next prompts -> G sampled completions each (rollout engine) -> reward per completion
(registered reward function, failures score 0) -> advantages (registered estimator) -> for each
epoch and mini-batch: log-probs under the current policy, configured loss (registered policy loss,
aggregation, KL, entropy) -> optimizer step. Which math runs is decided by ``AlgorithmConfig``
through registries; nothing algorithm-specific is written in this file.

Plumbing around it: held-out evaluation every ``rl.eval_every`` steps, metrics.jsonl/TensorBoard,
and checkpoints every ``run.save_every`` steps from which a rerun of the same command resumes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mmrft.config import Config
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.eval.harness import EvalResult, evaluate
from mmrft.models.families import ModelFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.rewards.base import RewardFn, safe_reward
from mmrft.rollout.base import SAMPLERS, RolloutBatch, SamplingParams
from mmrft.trainer.checkpoint import latest_checkpoint, load_trainer_state, save_checkpoint
from mmrft.trainer.metrics import MetricsLogger, truncate_jsonl
from mmrft.trainer.objective import compute_advantages, compute_loss
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.progress import progress_bar

log = logging.getLogger(__name__)


@dataclass
class RLResult:
    """What a finished RL run hands back: every evaluation (step 0 = before RL) and the last step."""

    evals: list[dict] = field(default_factory=list)
    last_step: int = 0


def train_rl(
    cfg: Config,
    model: torch.nn.Module,
    processor: object,
    family: ModelFamily,
    *,
    stream: ProblemStream,
    reward_fn: RewardFn,
    eval_samples: list[Sample],
    ref_model: torch.nn.Module | None = None,
    on_eval: Callable[[int, EvalResult], None] | None = None,
) -> RLResult:
    out_dir = Path(cfg.run.out_dir)
    rcfg, acfg = cfg.rollout, cfg.algorithm
    device = next(model.parameters()).device
    opt, sched = make_optimizer(model, cfg.rl.lr, cfg.rl.weight_decay)
    sampler = SAMPLERS.get(rcfg.engine)(model, family)
    result, start = RLResult(), 0

    ckpt = latest_checkpoint(out_dir) if cfg.run.resume else None
    if ckpt is not None:  # resume: weights, optimizer, data position, RNG, eval history
        model.load_state_dict(type(model).from_pretrained(ckpt).state_dict())
        state = load_trainer_state(ckpt)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        stream.position, start, result.evals = (
            state["stream_position"],
            state["step"],
            state["evals"],
        )
    truncate_jsonl(out_dir / "metrics.jsonl", start)
    truncate_jsonl(out_dir / "evals.jsonl", start)
    logger = MetricsLogger(
        out_dir / "metrics.jsonl", out_dir / "tb" if cfg.run.tensorboard else None
    )

    def run_eval(step: int) -> None:
        res = evaluate(
            sampler,
            eval_samples,
            reward_fn,
            n_samples=cfg.eval.n_samples,
            temperature=cfg.eval.temperature,
            max_new_tokens=cfg.eval.max_new_tokens,
            seed=cfg.run.seed,
        )
        row = {"step": step, **res.metrics()}
        result.evals.append(row)
        with (out_dir / "evals.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        log.info(
            "eval step %d: accuracy %.3f greedy %.3f reward %.3f",
            step,
            res.accuracy,
            res.greedy_accuracy,
            res.reward,
        )
        if on_eval is not None:
            on_eval(step, res)

    if start == 0 and eval_samples:
        run_eval(0)

    params = SamplingParams(
        n=rcfg.group_size,
        temperature=rcfg.temperature,
        top_p=rcfg.top_p,
        top_k=rcfg.top_k,
        max_new_tokens=rcfg.max_new_tokens,
    )
    with progress_bar() as bar:
        task = bar.add_task("GRPO", total=cfg.rl.steps, completed=start)
        for step in range(start + 1, cfg.rl.steps + 1):
            # --- rollout ---------------------------------------------------------------
            t0 = time.perf_counter()
            samples = stream.next_batch(rcfg.prompts_per_step)
            batch = sampler.generate(samples, params)
            t1 = time.perf_counter()

            # --- reward + advantages -----------------------------------------------------
            rows = [samples[i] for i in batch.sample_index]
            scores, n_failed = safe_reward(reward_fn, batch.texts, rows)
            rewards = torch.tensor(scores["overall"], dtype=torch.float32, device=device)  # [N]
            advantages = compute_advantages(acfg, rewards, rcfg.group_size)  # [N]
            t2 = time.perf_counter()

            # --- update --------------------------------------------------------------------
            metrics = update_policy(cfg, model, opt, batch, advantages, family, ref_model)
            sched.step()
            t3 = time.perf_counter()

            n_tokens = batch.num_tokens
            metrics.update(
                {
                    "reward/mean": rewards.mean().item(),
                    "reward/std": rewards.std().item(),
                    **{f"reward/{k}": sum(v) / len(v) for k, v in scores.items() if k != "overall"},
                    "reward/failures": n_failed,
                    "advantage/mean": advantages.mean().item(),
                    "advantage/abs_mean": advantages.abs().mean().item(),
                    "response_length/mean": batch.completion_mask.sum(1).mean().item(),
                    "time/rollout": t1 - t0,
                    "time/reward": t2 - t1,
                    "time/update": t3 - t2,
                    "time/step": t3 - t0,
                    "throughput/rollout_tokens_per_s": n_tokens / max(t1 - t0, 1e-9),
                    "throughput/update_tokens_per_s": acfg.ppo_epochs
                    * n_tokens
                    / max(t3 - t2, 1e-9),
                    "lr": sched.get_last_lr()[0],
                }
            )
            if step % cfg.run.log_every == 0:
                logger.log(step, metrics)
            if eval_samples and (step % cfg.rl.eval_every == 0 or step == cfg.rl.steps):
                run_eval(step)
            if step % cfg.run.save_every == 0 or step == cfg.rl.steps:
                save_checkpoint(
                    out_dir,
                    step,
                    model,
                    processor,
                    {
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "stream_position": stream.position,
                        "evals": result.evals,
                    },
                )
            bar.update(
                task,
                advance=1,
                description=(
                    f"GRPO  reward {metrics['reward/mean']:.2f}  acc {metrics.get('reward/accuracy', 0):.2f}"
                ),
            )
            result.last_step = step
    logger.close()
    return result


def update_policy(
    cfg: Config,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batch: RolloutBatch,
    advantages: torch.Tensor,
    family: ModelFamily,
    ref_model: torch.nn.Module | None,
) -> dict[str, float]:
    """``ppo_epochs`` passes over ``mini_batches`` shuffled slices; one optimizer step per slice.

    Old log-probs are taken once, before any update, so every epoch's ratio is against the
    rollout policy. With one epoch and one mini-batch the policy is still the rollout policy at
    the only forward pass, so its detached log-probs serve as old log-probs (ratio == 1) and the
    extra forward pass is skipped.
    """
    acfg, temp = cfg.algorithm, cfg.rollout.temperature
    suppressed = family.suppressed_token_ids()
    device = next(model.parameters()).device
    ids = batch.completion_ids.to(device)  # [N, L]
    mask = batch.completion_mask.to(device)  # [N, L]
    N = ids.shape[0]
    on_policy = acfg.ppo_epochs == 1 and acfg.mini_batches == 1

    def logprobs(net: torch.nn.Module, rows: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        prompt = {k: v.to(device) for k, v in batch.select(rows).items()}
        first: dict[int, int] = {}  # a group's rows share one image: encode it once
        source = [first.setdefault(batch.sample_index[r], i) for i, r in enumerate(rows)]
        prompt = family.share_vision(net, prompt, source)
        return completion_logprobs(
            net, prompt, ids[rows], mask[rows], temperature=temp, suppressed_ids=suppressed
        )

    all_rows = list(range(N))
    old_logp = ref_logp = None
    with torch.no_grad():
        if not on_policy:
            old_logp, _ = logprobs(model, all_rows)
        if ref_model is not None:
            ref_logp, _ = logprobs(ref_model, all_rows)

    model.train()
    history: dict[str, list[float]] = {}
    for _ in range(acfg.ppo_epochs):
        perm = torch.randperm(N).tolist() if not on_policy else all_rows
        for chunk in torch.tensor(perm).chunk(acfg.mini_batches):
            rows = chunk.tolist()
            logp, logits = logprobs(model, rows)
            old = logp.detach() if old_logp is None else old_logp[rows]
            ref = None if ref_logp is None else ref_logp[rows]
            loss, m = compute_loss(
                acfg, logp, old, advantages[rows], mask[rows], ref_logp=ref, logits=logits
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            m["actor/grad_norm"] = torch.nn.utils.clip_grad_norm_(
                model.parameters(), cfg.rl.max_grad_norm
            ).item()
            opt.step()
            for k, v in m.items():
                history.setdefault(k, []).append(v)
    return {k: sum(v) / len(v) for k, v in history.items()}
