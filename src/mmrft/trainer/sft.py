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
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.signals import StopOnSignal

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
    model: torch.nn.Module, family: ModelFamily, samples: list[Sample]
) -> tuple[torch.Tensor, float]:
    """Token-mean negative log-likelihood of the targets, and the fraction of targets whose every
    token is the argmax under teacher forcing (a free, greedy-like training accuracy)."""
    device = next(model.parameters()).device
    prompt = {k: v.to(device) for k, v in family.encode(samples).items()}
    ids, mask = encode_targets(family, [format_target(s) for s in samples])
    ids, mask = ids.to(device), mask.to(device)
    logp, logits = completion_logprobs(
        model, prompt, ids, mask, suppressed_ids=family.suppressed_token_ids()
    )
    hit = (logits.argmax(-1) == ids) | (mask == 0)  # [B, L]
    exact = hit.all(dim=1).float().mean().item()
    return -(logp.sum() / mask.sum().clamp(min=1)), exact


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
    found = None if out_dir is None else resume_checkpoint(out_dir, model)
    if found is not None:
        state = found[1]
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        stream.load_state_dict(state["stream"])
        start, history, ema = state["step"], state["history"], state["ema"]
    with StopOnSignal("SFT") as stop, progress_bar() as bar:
        task = bar.add_task("SFT cold start", total=steps, completed=start)
        for step in range(start + 1, steps + 1):
            loss, exact = sft_loss(model, family, stream.next_batch(batch_size))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            opt.step()
            sched.step()
            ema = exact if step == 1 else 0.95 * ema + 0.05 * exact  # ~20-step running mean
            history.append(
                {"step": step, "loss": loss.item(), "train_exact": exact, "train_exact_ema": ema}
            )
            bar.update(
                task,
                advance=1,
                description=f"SFT cold start  loss {loss.item():.3f}  acc {ema:.2f}",
            )
            if stop.requested:
                saved = None
                if out_dir is not None:
                    state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
                    state.update(stream=stream.state_dict(), history=history, ema=ema)
                    saved = save_checkpoint(out_dir, step, model, processor, state)
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
