"""THE training loop: GRPO-family RL on verifiable rewards, readable top to bottom.

One step is: next prompts -> G sampled completions each (rollout engine) -> reward per completion
(registered reward function, failures score 0) -> advantages (registered estimator) -> for each
epoch and mini-batch: log-probs under the current policy, configured loss (registered policy loss,
aggregation, KL, entropy; plus the value loss when a critic is configured) -> optimizer step. Which math runs is decided by ``AlgorithmConfig``
through registries; nothing algorithm-specific is written in this file.

Plumbing around it: held-out evaluation every ``rl.eval_every`` steps, metrics.jsonl/TensorBoard,
and checkpoints every ``run.save_every`` steps from which a rerun of the same command resumes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mmrft.algorithms.aggregation import masked_mean
from mmrft.algorithms.kl import AdaptiveKLController, FixedKLController
from mmrft.config import Config
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.eval.harness import EvalResult
from mmrft.models.families import ModelFamily
from mmrft.progress import progress_bar
from mmrft.rewards.base import RewardFn
from mmrft.rollout.base import Sampler, SamplingParams
from mmrft.rollout.packed_weights import onednn_enabled
from mmrft.trainer.allocator import retain_freed_memory
from mmrft.trainer.checkpoint import resume_checkpoint, save_checkpoint
from mmrft.trainer.critic import Critic, build_critic
from mmrft.trainer.distributed import RankShare, barrier, is_main, mean_over_ranks, rank, world_size
from mmrft.trainer.health import watch
from mmrft.trainer.metrics import MetricsLogger, truncate_jsonl
from mmrft.trainer.objective import (
    Objective,
    compute_advantages_all_ranks,
)
from mmrft.trainer.onednn_linear import onednn_linears
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.precision import autocast
from mmrft.trainer.rollout_step import collect_rollouts
from mmrft.trainer.sharded_eval import evaluate_sharded
from mmrft.trainer.signals import StopOnSignal
from mmrft.trainer.update import (
    NonFiniteGuard,
    critic_values,
    informative_rows,
    policy_logprobs,
    rollout_policy_logprobs,
    skips_zero_advantage,
    update_policy,
)

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
    objective: Objective,
    sampler: Sampler,
    ref_model: torch.nn.Module | None = None,
    critic: Critic | None = None,
    on_eval: Callable[[int, EvalResult], None] | None = None,
) -> RLResult:
    """RL-train ``model`` in place for ``cfg.rl.steps`` steps (resuming from out_dir).

    ``objective`` (the RL math) and ``sampler`` (the rollout engine over ``model``) come built
    from the config by ``mmrft.build``; ``cfg`` supplies sizes, schedules and paths.

    ``ref_model``: the frozen KL reference, or None when no KL is computed; passing ``model``
    itself (a LoRA policy) uses the policy with its adapters switched off, the base weights.

    ``critic``: the learned critic when the objective needs one (GAE), built (and under torchrun
    sharded) by ``mmrft.build``; one is built here from ``cfg.critic`` if it is not passed.
    """
    out_dir = Path(cfg.run.out_dir)
    rcfg, acfg = cfg.rollout, cfg.algorithm
    device = next(model.parameters()).device
    if cfg.run.retain_freed_memory:  # every step's activations reuse the last step's pages
        retain_freed_memory()
    opt, sched = make_optimizer(
        model,
        cfg.rl.lr,
        cfg.rl.weight_decay,
        cfg.rl.warmup_steps,
        schedule=cfg.rl.lr_schedule,
        total_steps=cfg.rl.steps,
        min_lr_ratio=cfg.rl.min_lr_ratio,
        betas=(0.9, cfg.rl.adam_beta2),
        bias_lr_scale=cfg.rl.bias_lr_scale,
    )
    if critic is None and objective.needs_critic:
        critic = build_critic(cfg.critic, model)
    critic_opt = None if critic is None else make_optimizer(critic, cfg.critic.lr, 0.0)[0]
    result, start = RLResult(), 0
    kl_ctl = (
        AdaptiveKLController(acfg.kl_coef, acfg.kl_target, acfg.kl_horizon)
        if acfg.kl_target is not None
        else FixedKLController(acfg.kl_coef)
    )

    # resume: weights, optimizer, data position, RNG, eval history (an unreadable checkpoint is
    # reported and the one before it used)
    extra = {} if critic is None else {"critic": (critic, critic_opt)}  # saved beside the policy
    found = resume_checkpoint(out_dir, model, opt, extra) if cfg.run.resume else None
    if found is not None:
        state = found[1]
        sched.load_state_dict(state["scheduler"])
        stream.load_state_dict(state["stream"])
        start, result.evals = state["step"], state["evals"]
        kl_ctl.value = state.get("kl_coef", kl_ctl.value)
    # no checkpoint: start afresh, so a step-0 eval logged by a stopped run is not kept twice
    main = is_main()  # under torchrun only rank 0 writes the run's files
    if main:
        truncate_jsonl(out_dir / "metrics.jsonl", start if found else -1)
        truncate_jsonl(out_dir / "evals.jsonl", start if found else -1)
    barrier()
    logger = MetricsLogger(
        out_dir / "metrics.jsonl" if main else out_dir / "ranks" / f"metrics.rank{rank()}.jsonl",
        out_dir / "tb" if cfg.run.tensorboard and main else None,
        wandb_project=cfg.run.wandb_project if main else None,
    )
    share = RankShare(stream)  # this rank's prompts: whole groups, the same count on every rank

    def run_eval(step: int) -> None:
        res = evaluate_sharded(  # each rank generates for its share of the problems
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
        if not main:  # every rank holds the merged result; rank 0 writes it
            return
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

    def save(step: int) -> Path:
        return save_checkpoint(
            out_dir,
            step,
            model,
            processor,
            {
                "scheduler": sched.state_dict(),
                "stream": stream.state_dict(),
                "evals": result.evals,
                "kl_coef": kl_ctl.value,
            },
            optimizer=opt,
            extra=extra,
        )

    params = SamplingParams(
        n=rcfg.group_size,
        temperature=rcfg.temperature,
        top_p=rcfg.top_p,
        top_k=rcfg.top_k,
        max_new_tokens=rcfg.max_new_tokens,
    )
    greedy_baseline = objective.needs_greedy_baseline
    no_grad_pass = {  # the rollout-policy, reference and critic-value passes
        "temp": rcfg.temperature,
        "micro_batch_size": cfg.rl.logprob_micro_batch_size,
        "share_prompt": cfg.rl.share_prompt,
    }
    guard = NonFiniteGuard(cfg.rl.max_nonfinite_updates)
    onednn = onednn_enabled(cfg.rl.onednn_matmul, "rl.onednn_matmul")  # the no-grad passes too
    # SIGTERM/SIGINT: finish the step, write a checkpoint, raise RunInterrupted (signals.py)
    # model.dtype is the compute dtype; weights and AdamW states stay float32 (precision.py)
    with StopOnSignal("RL") as stop, progress_bar() as bar, autocast(cfg.model.dtype, model):
        if start == 0 and eval_samples and not result.evals:  # not again after a step-0 stop
            run_eval(0)
        if stop.requested:
            logger.close()
            raise stop.interrupted(save(start))
        task = bar.add_task("GRPO", total=cfg.rl.steps, completed=start)
        for step in range(start + 1, cfg.rl.steps + 1):
            # --- rollout + reward (dynamic sampling drops zero-advantage groups) --------------
            t0 = time.perf_counter()
            if hasattr(reward_fn, "set_step"):  # rewards whose weights follow a schedule
                reward_fn.set_step(step)
            ro = collect_rollouts(
                sampler,
                share,
                reward_fn,
                params,
                rcfg.prompts_per_step // world_size(),
                dynamic=rcfg.dynamic_sampling,
                max_tries=rcfg.max_sampling_tries,
                oversample=rcfg.oversample,
                greedy_baseline=greedy_baseline,
            )
            batch = ro.batch
            mask = batch.completion_mask.to(device)  # [N, L]
            if acfg.overlong_filter and batch.finished is not None:  # truncated rows: no loss
                mask = mask * batch.finished.to(device).unsqueeze(1)
            rewards = torch.tensor(ro.scores["overall"], dtype=torch.float32, device=device)  # [N]
            level = stream.level  # of this step's problems; a curriculum may change the next
            stream.feedback(step, ro.scores.get("accuracy", ro.scores["overall"]), ro.rows)

            # --- reference log-probs, advantages, rollout-policy log-probs -------------------
            t1 = time.perf_counter()
            on_policy = acfg.ppo_epochs == 1 and acfg.mini_batches == 1 and not acfg.kl_in_reward
            old_logp = old_rows = None
            with _no_grad_onednn(model, ref_model, onednn):
                ref_logp = None
                # a KL that is only logged (kl_coef 0) may skip steps: rl.track_kl_every
                kl_due = acfg.kl_coef > 0 or step % cfg.rl.track_kl_every == 0
                if ref_model is not None and kl_due:  # is model: a LoRA policy, adapters off
                    with model.disable_adapter() if ref_model is model else nullcontext():
                        ref_logp = policy_logprobs(ref_model, family, batch, **no_grad_pass)
                old_values = (
                    None
                    if critic is None
                    else critic_values(critic, model, family, batch, **no_grad_pass)
                )  # [N, L]
                if acfg.kl_in_reward:  # the KL folded into the rewards reads every row's
                    old_logp = policy_logprobs(model, family, batch, **no_grad_pass)
            advantages, returns = compute_advantages_all_ranks(
                objective,
                rewards,
                rcfg.group_size,
                kl_coef=kl_ctl.value,
                logp=old_logp,
                ref_logp=ref_logp,
                mask=mask,
                baseline_rewards=ro.baseline,
                values=old_values,
            )  # [N], or [N, L] with a critic
            if not on_policy and old_logp is None:
                # an update that leaves zero-advantage rows out needs no old log-probs of theirs
                informative = None
                if skips_zero_advantage(cfg, objective, ref_logp=ref_logp, critic=critic):
                    informative = informative_rows(advantages, mask)
                with _no_grad_onednn(model, ref_model, onednn):
                    old_logp, old_rows = rollout_policy_logprobs(
                        model, family, batch, informative, **no_grad_pass
                    )

            # --- update (critic warm-up: the first critic.warmup_steps train the critic only) --
            train_policy = critic is None or step > cfg.critic.warmup_steps
            lr = sched.get_last_lr()[0]  # the rate this step's update runs with (logged below)
            metrics = update_policy(
                cfg,
                objective,
                model,
                opt,
                batch,
                advantages,
                mask,
                family,
                old_logp=old_logp,
                ref_logp=ref_logp,
                kl_coef=kl_ctl.value,
                old_rows=old_rows,
                critic=critic,
                critic_opt=critic_opt,
                old_values=old_values,
                returns=returns,
                train_policy=train_policy,
                guard=guard,
            )
            if train_policy:
                sched.step()
            kl_ctl.update(metrics.get("actor/kl", 0.0), len(batch.texts))
            t2 = time.perf_counter()

            n_tokens = batch.num_tokens
            t_gen = ro.metrics["time/rollout"]
            metrics.update(
                {
                    **ro.metrics,
                    "reward/mean": rewards.mean().item(),
                    "reward/std": rewards.std().item(),
                    **{
                        f"reward/{k}": sum(v) / len(v)
                        for k, v in ro.scores.items()
                        if k != "overall"
                    },
                    "advantage/mean": _mean(advantages, mask),
                    "advantage/abs_mean": _mean(advantages.abs(), mask),
                    "response_length/mean": batch.completion_mask.sum(1).mean().item(),
                    "response_length/truncated": 0.0
                    if batch.finished is None
                    else 1.0 - batch.finished.float().mean().item(),
                    "time/update": t2 - t1,
                    "time/step": t2 - t0,
                    "throughput/rollout_tokens_per_s": n_tokens / max(t_gen, 1e-9),
                    "throughput/update_tokens_per_s": acfg.ppo_epochs
                    * n_tokens
                    / max(t2 - t1, 1e-9),
                    "actor/kl_coef": kl_ctl.value,
                    "lr": lr,
                    "curriculum/level": level,
                    "curriculum/saturated": len(stream.saturated),
                }
            )
            if step % cfg.run.log_every == 0:  # health checks warn in the log and metrics.jsonl
                metrics = mean_over_ranks(metrics)  # rewards and rollout stats of all ranks
                metrics.update(
                    watch(
                        cfg.health,
                        logger.rows,
                        metrics,
                        result.evals,
                        ro.scores["overall"],
                        rcfg.group_size,
                    )
                )
                logger.log(step, metrics)
            if eval_samples and (step % cfg.rl.eval_every == 0 or step == cfg.rl.steps):
                run_eval(step)
            if step % cfg.run.save_every == 0 or step == cfg.rl.steps or stop.requested:
                saved = save(step)
                if stop.requested:
                    logger.close()
                    raise stop.interrupted(saved)
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


@contextmanager
def _no_grad_onednn(
    model: torch.nn.Module, ref_model: torch.nn.Module | None, onednn: bool
) -> Iterator[None]:
    """No gradients, large linear layers through oneDNN (``rl.onednn_matmul``): the second
    switch covers a separate reference model; on ``model`` itself it is a no-op."""
    with (
        torch.no_grad(),
        onednn_linears(model, onednn),
        onednn_linears(model if ref_model is None else ref_model, onednn),
    ):
        yield


def _mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of per-row [N] or per-token [N, L] values (real tokens only)."""
    return (x.mean() if x.dim() == 1 else masked_mean(x, mask)).item()
