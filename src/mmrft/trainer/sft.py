"""Supervised cold start: teach the answer format (and a first guess) before RL.

The target is the completion the reward wants, ``<answer>{answer}</answer>`` then EOS; the loss
is token-mean cross-entropy over completion tokens only, computed by the same log-prob pass RL
uses (so SFT and RL agree on what "the policy's probability of a completion" means).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models.families import ModelFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.progress import progress_bar
from mmrft.trainer.checkpoint import resume_checkpoint, save_checkpoint
from mmrft.trainer.distributed import all_reduce_sum, shard_rows, world_size
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.precision import autocast
from mmrft.trainer.signals import StopOnSignal
from mmrft.trainer.update import grad_norm, micro_batches

log = logging.getLogger(__name__)


def format_target(sample: Sample) -> str:
    """The completion SFT teaches: exactly what the format reward accepts."""
    return f"<answer>{sample.answer}</answer>"


def encode_targets(family: ModelFamily, targets: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded target ids [B, L] ending in EOS, and their mask [B, L]."""
    tok = family.tokenizer
    rows = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in targets]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width))
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1.0
    return ids, mask


def sft_loss(
    model: torch.nn.Module,
    family: ModelFamily,
    samples: list[Sample],
    denominator: torch.Tensor | None = None,
    targets: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, float]:
    """Token-mean negative log-likelihood of the targets, and the fraction of targets whose every
    token is the argmax under teacher forcing (a free, greedy-like training accuracy).

    ``denominator``: the whole step's target-token count when ``samples`` are one micro-batch
    (or one rank's share) of it, so the pieces' losses add up to the step's token mean.
    ``targets``: ``encode_targets`` of ``samples`` when the caller already has them.
    """
    device = next(model.parameters()).device
    prompt = {k: v.to(device) for k, v in family.encode(samples).items()}
    if targets is None:
        targets = encode_targets(family, [format_target(s) for s in samples])
    ids, mask = targets[0].to(device), targets[1].to(device)
    logp, logits = completion_logprobs(
        model, prompt, ids, mask, suppressed_ids=family.suppressed_token_ids()
    )
    hit = (logits.argmax(-1) == ids) | (mask == 0)  # [B, L]
    exact = hit.all(dim=1).float().mean().item()
    denom = mask.sum() if denominator is None else denominator.to(mask.dtype)
    return -(logp.sum() / denom.clamp(min=1)), exact


def sft_backward(
    model: torch.nn.Module,
    family: ModelFamily,
    samples: list[Sample],
    micro_batch_size: int | None = None,
) -> tuple[float, float]:
    """Accumulate the gradient of one SFT step over ``samples`` (this rank's share of the
    step), ``micro_batch_size`` samples per forward/backward; returns the step's loss and
    exact-match rate over all ranks. Each piece is normalised by the step's target-token count
    summed over ranks (and scaled by the world size, which FSDP/DDP divide gradients by), so
    any split computes the one-pass gradient."""
    ids, mask = encode_targets(family, [format_target(s) for s in samples])  # tokenized once
    denom = all_reduce_sum(mask.sum())
    scale = world_size()
    loss_sum, exact_sum = 0.0, 0.0
    for chunk in micro_batches(list(range(len(samples))), micro_batch_size):
        parts = [samples[i] for i in chunk]
        loss, exact = sft_loss(model, family, parts, denom, targets=(ids[chunk], mask[chunk]))
        (loss * scale if scale > 1 else loss).backward()
        loss_sum, exact_sum = loss_sum + loss.item(), exact_sum + exact * len(chunk)
    totals = all_reduce_sum(torch.tensor([loss_sum, exact_sum, float(len(samples))]))
    return totals[0].item(), totals[1].item() / max(totals[2].item(), 1.0)


def train_sft(
    model: torch.nn.Module,
    family: ModelFamily,
    stream: ProblemStream,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    warmup_steps: int = 0,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    stop_accuracy: float | None = None,
    micro_batch_size: int | None = None,
    compute_dtype: str = "float32",
    out_dir: str | Path | None = None,
    processor: object | None = None,
) -> list[dict[str, float]]:
    """Run up to ``steps`` SFT steps (fewer when ``stop_accuracy`` is reached); per-step metrics.

    With ``out_dir`` (and the ``processor`` to save beside the weights), a SIGTERM/SIGINT writes
    a checkpoint under ``out_dir/checkpoints`` before raising ``RunInterrupted``, and a rerun
    resumes from it.
    """
    opt, sched = make_optimizer(model, lr, weight_decay, warmup_steps)
    model.train()
    history: list[dict[str, float]] = []
    ema, start = 0.0, 0
    found = None if out_dir is None else resume_checkpoint(out_dir, model, opt)
    if found is not None:
        state = found[1]
        sched.load_state_dict(state["scheduler"])
        stream.load_state_dict(state["stream"])
        start, history, ema = state["step"], state["history"], state["ema"]
    with StopOnSignal("SFT") as stop, progress_bar() as bar, autocast(compute_dtype, model):
        task = bar.add_task("SFT cold start", total=steps, completed=start)
        for step in range(start + 1, steps + 1):
            opt.zero_grad(set_to_none=True)
            batch = stream.next_batch(batch_size)[
                shard_rows(batch_size, "sft.batch_size")
            ]  # this rank's
            loss, exact = sft_backward(model, family, batch, micro_batch_size)
            grad_norm(model, max_grad_norm)
            opt.step()
            sched.step()
            ema = exact if step == 1 else 0.95 * ema + 0.05 * exact  # ~20-step running mean
            history.append(
                {"step": step, "loss": loss, "train_exact": exact, "train_exact_ema": ema}
            )
            bar.update(
                task,
                advance=1,
                description=f"SFT cold start  loss {loss:.3f}  acc {ema:.2f}",
            )
            if stop.requested:
                saved = None
                if out_dir is not None:
                    state = {"scheduler": sched.state_dict(), "stream": stream.state_dict()}
                    state.update(history=history, ema=ema)
                    saved = save_checkpoint(out_dir, step, model, processor, state, optimizer=opt)
                raise stop.interrupted(saved)
            if stop_accuracy is not None and step >= 20 and ema >= stop_accuracy:
                log.info("SFT reached training accuracy %.2f at step %d: stopping", ema, step)
                break
    log.info(
        "SFT done: %d steps, final loss %.4f",
        len(history),
        history[-1]["loss"] if history else float("nan"),
    )
    return history
