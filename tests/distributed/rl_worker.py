"""One process of the data-parallel equivalence check (run by torchrun, or alone for 1 rank).

Every rank builds the same tiny policy, samples the same fixed rollout of ``PROMPTS`` prompts x
``GROUP`` completions (before sharding, so all ranks hold identical rows), keeps its own
prompts' rows (whole groups), shards the policy with FSDP2 (or replicates it), and runs
``STEPS`` RL updates on those rows: rollout-policy log-probs, reference KL, entropy, two PPO
epochs, micro-batches. Rank 0 writes the full parameters and the per-step losses to ARGV[1].

    torchrun --standalone --nproc_per_node 2 tests/distributed/rl_worker.py out.pt fsdp2 3
    python tests/distributed/rl_worker.py out.pt none 0
    (a 4th argument ``local`` normalises each rank by its own token count: the bug, on purpose;
    a 5th, ``separate`` or ``shared``, trains PPO's GAE critic too: values from the critic each
    step, advantages whitened over all ranks' rows, the critic sharded like the policy; a 6th,
    ``skip``, makes groups 1-3 score alike and drops the KL and entropy terms, so
    rl.skip_zero_advantage leaves their rows out: rank 0 trains 4 rows, rank 1 one; and the
    old log-probs are taken of the informative rows only, shared-prompt, in micro-batches:
    rank 0 forwards its 4 rows, rank 1 none, padded to as many forwards)
"""

from __future__ import annotations

import dataclasses
import sys

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from mmrft.algorithms.advantages import ADV_ESTIMATORS
from mmrft.build import make_objective
from mmrft.config import load_config
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.tasks import TASKS
from mmrft.trainer import update
from mmrft.trainer.critic import build_critic
from mmrft.trainer.distributed import (
    destroy,
    init_distributed,
    shard_critic,
    shard_model,
    shard_rows,
)
from mmrft.trainer.objective import compute_advantages_all_ranks
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.update import (
    critic_values,
    policy_logprobs,
    rollout_policy_logprobs,
    update_policy,
)

PROMPTS, GROUP, STEPS = 4, 4, 3


def _rms_norm(self: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    eps = getattr(self, "variance_epsilon", getattr(self, "eps", 1e-6))
    return self.weight * (hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + eps))


def float64_norms(model: torch.nn.Module) -> None:
    """RMSNorm in the model's float64: transformers computes it in float32 whatever the dtype,
    which rounds the gradient entering it, differently where the one-process run's shared
    prompt sums a group's gradient before the rounding (a few 1e-6 after 3 steps). Bound as a
    method: FSDP2 swaps ``weight`` for its gathered copy at each forward."""
    for norm in (m for m in model.modules() if type(m).__name__.endswith("RMSNorm")):
        norm.forward = _rms_norm.__get__(norm)


def main(
    out: str,
    strategy: str,
    micro: int,
    normaliser: str = "global",
    critic_layout: str = "none",
    rows: str = "all",
) -> None:
    world = init_distributed("cpu")
    if normaliser == "local":  # the bug the global normaliser prevents, for the test to see
        update.all_reduce_sum = lambda x: x
    torch.set_num_threads(1)
    cfg = load_config(
        None,
        [
            "algorithm.loss_agg_mode=token-mean",
            f"algorithm.kl_coef={0.0 if rows == 'skip' else 0.05}",
            f"algorithm.entropy_coef={0.0 if rows == 'skip' else 0.01}",
            "algorithm.ppo_epochs=2",
            "rollout.max_new_tokens=10",
            f"rollout.group_size={GROUP}",
            f"rl.micro_batch_size={micro or 'null'}",
            *(
                []
                if critic_layout == "none"
                else [
                    "algorithm.adv_estimator=gae",
                    f"critic.model={'shared' if critic_layout == 'shared' else 'null'}",
                ]
            ),
        ],
    )
    objective = make_objective(cfg.algorithm)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    model = model.double()
    float64_norms(model)
    ref, _ = load_policy("tiny-qwen2.5-vl", seed=1)
    ref = ref.double().requires_grad_(False)
    family = family_for(model.config.model_type, processor)
    samples = TASKS.get("count")().dataset(PROMPTS, seed=5, level=2)
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=GROUP, max_new_tokens=10, seed=0)
    )
    # unequal lengths, so the global token count differs from a per-rank one
    lengths = torch.tensor([2 + (7 * i) % 9 for i in range(len(batch.texts))])
    cut = (torch.arange(batch.completion_mask.shape[1]) < lengths[:, None]).double()
    batch = dataclasses.replace(batch, completion_mask=cut * batch.completion_mask.double())
    rewards = torch.arange(len(batch.texts), dtype=torch.float64).remainder(3)  # [N] 0,1,2,...
    if rows == "skip":  # only the first group's completions disagree
        rewards[GROUP:] = 1.0

    mine = shard_rows(PROMPTS)  # this rank's prompts
    own = list(range(mine.start * GROUP, mine.stop * GROUP))
    batch, rewards = batch.subset(own), rewards[own]
    advantages = ADV_ESTIMATORS.get("grpo")(rewards, GROUP)  # groups are whole on each rank
    ref_logp = None
    if rows != "skip":
        with torch.no_grad():
            ref_logp = policy_logprobs(ref, family, batch, temp=1.0)
    critic = None  # built before sharding, from the unsharded policy, as mmrft.build does
    if objective.needs_critic:
        critic = build_critic(cfg.critic, model).double()
    if strategy != "none":
        shard_model(model, strategy, units=family.vision_tower)
        if critic is not None:
            shard_critic(critic, strategy, units=family.vision_tower)
    opt, _ = make_optimizer(model, lr=1e-3, weight_decay=0.0)
    critic_opt = None if critic is None else make_optimizer(critic, lr=1e-3, weight_decay=0.0)[0]
    losses, vf_losses, trained = [], [], []
    for _ in range(STEPS):
        old_values = returns = None
        old_rows = None
        with torch.no_grad():
            if rows == "skip":  # old log-probs of the informative rows only, as train_rl takes
                # rank 1: none
                informative = update.informative_rows(advantages, batch.completion_mask)
                old_logp, old_rows = rollout_policy_logprobs(
                    model, family, batch, informative, temp=1.0, micro_batch_size=micro or None,
                    share_prompt=True,
                )  # fmt: skip
            else:
                old_logp = policy_logprobs(model, family, batch, temp=1.0)
            if critic is not None:
                old_values = critic_values(critic, model, family, batch, temp=1.0)
        if critic is not None:  # token-level, whitened over every rank's rows
            advantages, returns = compute_advantages_all_ranks(
                objective, rewards, GROUP, values=old_values, mask=batch.completion_mask,
                kl_coef=cfg.algorithm.kl_coef,
            )  # fmt: skip
        m = update_policy(
            cfg, objective, model, opt, batch, advantages, batch.completion_mask, family,
            old_logp=old_logp, ref_logp=ref_logp, kl_coef=cfg.algorithm.kl_coef,
            old_rows=old_rows, critic=critic, critic_opt=critic_opt, old_values=old_values, returns=returns,
        )  # fmt: skip
        losses.append(m["actor/loss"])
        trained.append(m["actor/trained_rows"])
        vf_losses.append(m.get("critic/vf_loss"))
    full_opts = StateDictOptions(full_state_dict=True, cpu_offload=True)
    full = get_model_state_dict(model, options=full_opts)
    if critic is not None:
        full.update(
            {f"critic.{k}": v for k, v in get_model_state_dict(critic, options=full_opts).items()}
        )
    if world.is_main:
        torch.save(
            {
                "params": full,
                "losses": losses,
                "vf_losses": vf_losses,
                "trained_rows": trained,
                "world": world.size,
            },
            out,
        )
    destroy()


if __name__ == "__main__":
    main(*sys.argv[1:3], int(sys.argv[3]), *sys.argv[4:])
