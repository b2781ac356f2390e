"""Preference alignment (DPO and relatives) on fixed (chosen, rejected) pairs.

Design note. The data is a list of ``Pair``s (a pair file, or rollouts ranked by the reward,
``pair_sampling``); the loss is a ``PREFERENCE_LOSSES`` entry with its options bound. One step:

1. take the step's ``batch_size`` pairs (a seeded shuffle per epoch over the pairs, so the
   order is a function of (seed, step) and a resumed run sees the same pairs);
2. per micro-batch of pairs, one forward over [chosen rows; rejected rows] (each pair's prompt
   encoded twice, its images encoded once through ``share_vision``) gives per-sequence summed
   log-probs; the loss's per-pair values are summed and divided by the step's pair count
   (all-reduced over ranks, and scaled by the world size that FSDP/DDP divide by), so any
   micro-batch split or rank split computes the one-pass gradient;
3. clip, AdamW step.

The reference log-probs are computed once per pair, before the first step, in no-grad chunks
(``logprob_micro_batch_size`` pairs), and saved in every checkpoint, so neither epochs nor a
resume recompute them. With LoRA the reference is the frozen base: the policy with its adapter
disabled. Reference-free losses (SimPO, ORPO) skip that pass.

Targets are the completion texts tokenized as SFT tokenizes its target (``encode_targets``: the
text, then EOS), so a pair file and sampled completions are scored alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch

from mmrft.algorithms.preference import PreferenceOutput
from mmrft.data.pairs import Pair
from mmrft.models.families import ModelFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.progress import progress_bar
from mmrft.trainer.checkpoint import resume_checkpoint, save_checkpoint
from mmrft.trainer.distributed import all_reduce_sum, barrier, is_main, shard_rows, world_size
from mmrft.trainer.metrics import MetricsLogger, truncate_jsonl
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.precision import autocast
from mmrft.trainer.sft import encode_targets
from mmrft.trainer.signals import StopOnSignal
from mmrft.trainer.update import grad_norm, micro_batches

log = logging.getLogger(__name__)

PairLoss = Callable[..., PreferenceOutput]


def step_pairs(n_pairs: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Indices of the pairs step ``step`` (1-based) trains on: consecutive ``batch_size``-wide
    windows over epoch after epoch, each epoch a fresh permutation seeded by (seed, epoch).

    >>> step_pairs(4, 3, 1, 0) + step_pairs(4, 3, 2, 0) == (_epoch(4, 0, 0) + _epoch(4, 0, 1))[:6]
    True
    """
    start = (step - 1) * batch_size
    out: list[int] = []
    for pos in range(start, start + batch_size):
        epoch, offset = divmod(pos, n_pairs)
        out.append(_epoch(n_pairs, seed, epoch)[offset])
    return out


def _epoch(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def pair_logprobs(
    model: torch.nn.Module, family: ModelFamily, pairs: list[Pair]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probs [2k] and token counts [2k] of k pairs' completions, chosen rows first
    (rows i and k + i are pair i's chosen and rejected)."""
    device = next(model.parameters()).device
    k = len(pairs)
    samples = [p.sample for p in pairs] * 2
    prompt = {key: v.to(device) for key, v in family.encode(samples).items()}
    prompt = family.share_vision(model, prompt, list(range(k)) * 2)  # row k+i repeats row i
    ids, mask = encode_targets(family, [p.chosen for p in pairs] + [p.rejected for p in pairs])
    ids, mask = ids.to(device), mask.to(device)
    logp, _ = completion_logprobs(
        model, prompt, ids, mask, suppressed_ids=family.suppressed_token_ids()
    )  # [2k, L], 0 at padding
    return logp.sum(dim=1), mask.sum(dim=1)  # [2k], [2k]


@torch.no_grad()
def reference_logprobs(
    ref_model: torch.nn.Module,
    family: ModelFamily,
    pairs: list[Pair],
    *,
    micro_batch_size: int | None = None,
    base_of_lora: bool = False,
) -> torch.Tensor:
    """[P, 2] reference log-probs (chosen, rejected) of every pair, one forward per chunk of
    ``micro_batch_size`` pairs. ``base_of_lora``: ``ref_model`` is the LoRA policy itself and
    the reference is its base (adapter disabled)."""
    was_training = ref_model.training
    ref_model.eval()
    parts = []
    with ref_model.disable_adapter() if base_of_lora else nullcontext():
        for chunk in micro_batches(list(range(len(pairs))), micro_batch_size):
            logps, _ = pair_logprobs(ref_model, family, [pairs[i] for i in chunk])
            parts.append(logps.float().view(2, len(chunk)).T.cpu())  # [k, 2]
    ref_model.train(was_training)
    return torch.cat(parts) if parts else torch.zeros(0, 2)


def preference_backward(
    model: torch.nn.Module,
    family: ModelFamily,
    pairs: list[Pair],
    ref: torch.Tensor | None,
    loss_fn: PairLoss,
    micro_batch_size: int | None = None,
) -> tuple[float, dict[str, float]]:
    """Accumulate one step's gradient over ``pairs`` (this rank's share), ``micro_batch_size``
    pairs per forward/backward; ``ref`` [len(pairs), 2] or None (reference-free loss).

    Each micro-batch's loss is its per-pair losses summed over the step's pair count (summed
    over ranks), times the world size that FSDP/DDP divide gradients by, so the pieces add up
    to the one-pass mean. Returns the step's loss and pair-weighted mean metrics (all ranks).
    """
    denom = all_reduce_sum(torch.tensor(float(len(pairs))))
    scale = world_size()
    device = next(model.parameters()).device
    loss_sum, sums = 0.0, {}
    for chunk in micro_batches(list(range(len(pairs))), micro_batch_size):
        k = len(chunk)
        logps, tokens = pair_logprobs(model, family, [pairs[i] for i in chunk])
        ref_c = ref_r = None
        if ref is not None:
            ref_c, ref_r = ref[chunk, 0].to(device), ref[chunk, 1].to(device)  # [k]
        losses, metrics = loss_fn(
            logps[:k], logps[k:], ref_c, ref_r, tokens[:k], tokens[k:]
        )  # [k] per-pair losses
        loss = losses.sum() / denom.to(losses.device)
        (loss * scale if scale > 1 else loss).backward()
        loss_sum += loss.item()
        for key, value in metrics.items():
            sums[key] = sums.get(key, 0.0) + value * k
    keys = sorted(sums)
    totals = all_reduce_sum(torch.tensor([loss_sum, *(sums[k] for k in keys)], dtype=torch.float64))
    n = max(denom.item(), 1.0)
    return totals[0].item(), {k: totals[i + 1].item() / n for i, k in enumerate(keys)}


def train_preference(
    model: torch.nn.Module,
    family: ModelFamily,
    pairs: list[Pair],
    loss_fn: PairLoss,
    *,
    ref_model: torch.nn.Module | None,
    steps: int,
    batch_size: int,
    lr: float,
    warmup_steps: int = 0,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    micro_batch_size: int | None = None,
    logprob_micro_batch_size: int | None = None,
    compute_dtype: str = "float32",
    seed: int = 0,
    save_every: int = 0,
    out_dir: str | Path | None = None,
    processor: object | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` on ``pairs`` for ``steps`` optimizer steps; per-step metrics.

    ``ref_model``: None for a reference-free loss; the policy itself when it is a LoRA model
    (its base is the reference); else a frozen copy of the starting policy. With ``out_dir``,
    steps go to ``out_dir/metrics.jsonl`` (rank 0), a checkpoint is written every
    ``save_every`` steps (0: none) and on SIGTERM/SIGINT, and a rerun resumes from the last.
    """
    if not pairs:
        raise ValueError("no preference pairs to train on")
    opt, sched = make_optimizer(model, lr, weight_decay, warmup_steps)
    model.train()
    history: list[dict[str, float]] = []
    start, ref = 0, None
    found = None if out_dir is None else resume_checkpoint(out_dir, model, opt)
    if found is not None:
        state = found[1]
        sched.load_state_dict(state["scheduler"])
        start, history, ref = state["step"], state["history"], state.get("ref")
    if ref is None and ref_model is not None:
        log.info("reference log-probs of %d pairs (computed once)", len(pairs))
        ref = reference_logprobs(
            ref_model,
            family,
            pairs,
            micro_batch_size=logprob_micro_batch_size,
            base_of_lora=ref_model is model,
        )
    logger = None
    if out_dir is not None and is_main():
        truncate_jsonl(Path(out_dir) / "metrics.jsonl", start)
        logger = MetricsLogger(Path(out_dir) / "metrics.jsonl")
    barrier()

    def save(step: int) -> Path | None:
        if out_dir is None:
            return None
        state = {"scheduler": sched.state_dict(), "history": history, "ref": ref}
        return save_checkpoint(out_dir, step, model, processor, state, optimizer=opt)

    with StopOnSignal("preference") as stop, progress_bar() as bar, autocast(compute_dtype, model):
        task = bar.add_task("preference", total=steps, completed=start)
        for step in range(start + 1, steps + 1):
            opt.zero_grad(set_to_none=True)
            chosen = step_pairs(len(pairs), batch_size, step, seed)
            chosen = chosen[shard_rows(batch_size, "dpo.batch_size")]  # this rank's share
            step_ref = None if ref is None else ref[chosen]
            loss, metrics = preference_backward(
                model, family, [pairs[i] for i in chosen], step_ref, loss_fn, micro_batch_size
            )
            norm = grad_norm(model, max_grad_norm)
            opt.step()
            sched.step()
            row = {"step": step, "dpo/loss": loss, **metrics, "dpo/grad_norm": float(norm)}
            history.append(row)
            if logger is not None:
                logger.log(step, {k: v for k, v in row.items() if k != "step"})
            acc = metrics.get("dpo/reward_accuracy", 0.0)
            bar.update(task, advance=1, description=f"preference  loss {loss:.3f}  acc {acc:.2f}")
            if stop.requested:
                raise stop.interrupted(save(step))
            if save_every and step % save_every == 0 and step < steps:
                save(step)
    if logger is not None:
        logger.close()
    log.info("preference done: %d steps, final loss %.4f", len(history), history[-1]["dpo/loss"])
    return history
