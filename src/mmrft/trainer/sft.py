"""Supervised fine-tuning: the cold start before RL, and ``mmrft sft`` on chat data / traces.

What a sample teaches is decided in ``mmrft.data.chat.sft_examples``: every assistant turn of a
chat row, a row's ``response`` (a reasoning trace), or the cold start's ``<answer>{answer}</answer>``.
Each becomes a (prompt, target) example; the prompt is encoded by the model family's chat
template (earlier turns of a conversation included, ``encode_prompts``) and the target is
appended as a completion ending in EOS. The loss is the token-mean negative log-likelihood over
target tokens only, summed over all examples of a step, computed by the same log-prob pass RL
uses (so SFT and RL agree on what "the policy's probability of a completion" means).

Length grouping (``group_by_length``): a step's examples are sorted by prompt + target length
before they are cut into micro-batches, so each forward pads to similar lengths. The step's
gradient is unchanged: every micro-batch is normalised by the whole step's token count.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import torch

from mmrft.data.chat import answer_target, sft_examples
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models.families import ModelFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.progress import progress_bar
from mmrft.trainer.checkpoint import resume_checkpoint, save_checkpoint
from mmrft.trainer.distributed import (
    all_gather_objects,
    all_reduce_sum,
    shard_rows,
    world_size,
)
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.precision import autocast
from mmrft.trainer.signals import StopOnSignal
from mmrft.trainer.update import grad_norm, micro_batches

log = logging.getLogger(__name__)


def format_target(sample: Sample) -> str:
    """The cold start's completion: exactly what the format reward accepts."""
    return answer_target(sample)


def expand(samples: list[Sample]) -> tuple[list[Sample], list[str]]:
    """Every example of ``samples`` (``sft_examples``): their prompt samples and target texts."""
    pairs = [pair for s in samples for pair in sft_examples(s)]
    return [p for p, _ in pairs], [t for _, t in pairs]


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


def with_history(family: ModelFamily) -> ModelFamily:
    """A copy of ``family`` whose chat messages include ``sample.meta["history"]``: the media
    and the first history turn form the first user message, later turns follow as text, and
    the sample's prompt is the last user message. Every family builds its prompt through
    ``messages``, so this holds for all of them."""
    single_turn = family.messages

    def messages(sample: Sample) -> list[dict]:
        history = sample.meta.get("history")
        if not history:
            return single_turn(sample)
        first = single_turn(dataclasses.replace(sample, prompt=history[0]["content"]))
        later = [*history[1:], {"role": "user", "content": sample.prompt}]
        text = [
            {"role": t["role"], "content": [{"type": "text", "text": t["content"]}]} for t in later
        ]
        return first + text

    multi = copy.copy(family)
    multi.messages = messages  # type: ignore[method-assign]  # an instance override
    return multi


def encode_prompts(family: ModelFamily, samples: list[Sample]) -> dict[str, torch.Tensor]:
    """``family.encode`` of the examples' prompts, conversation history included."""
    if any(s.meta.get("history") for s in samples):
        family = with_history(family)
    return family.encode(samples)


def prompt_lengths(family: ModelFamily, samples: list[Sample]) -> list[int]:
    """Text tokens of each prompt as the chat template renders it (image tokens not counted:
    the processor expands them), for length grouping."""
    fam = with_history(family)
    tok = family.tokenizer
    return [len(tok(fam.prompt_text(s), add_special_tokens=False)["input_ids"]) for s in samples]


def even_chunks(rows: list[int], k: int) -> list[list[int]]:
    """``rows`` in ``k`` consecutive chunks whose sizes differ by at most one (empty ones last
    when ``k > len(rows)``).

    >>> even_chunks([4, 1, 7, 2, 9], 2), even_chunks([4], 2)
    ([[4, 1, 7], [2, 9]], [[4], []])
    """
    size, extra = divmod(len(rows), k)
    bounds = [j * size + min(j, extra) for j in range(k + 1)]
    return [rows[bounds[j] : bounds[j + 1]] for j in range(k)]


def length_order(lengths: list[int]) -> list[int]:
    """Indices sorted by length, longest first (ties keep their order: deterministic).

    >>> length_order([3, 9, 1, 9])
    [1, 3, 0, 2]
    """
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def sft_loss(
    model: torch.nn.Module,
    family: ModelFamily,
    samples: list[Sample],
    denominator: torch.Tensor | None = None,
    targets: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, float]:
    """Token-mean negative log-likelihood of the targets, and the fraction of targets whose every
    token is the argmax under teacher forcing (a free, greedy-like training accuracy).

    Without ``targets``, ``samples`` are expanded into their examples (``sft_examples``); with
    ``targets`` (``encode_targets`` of their texts) they are the examples' prompt samples.
    ``denominator``: the whole step's target-token count when ``samples`` are one micro-batch
    (or one rank's share) of it, so the pieces' losses add up to the step's token mean.
    """
    device = next(model.parameters()).device
    if targets is None:
        samples, texts = expand(samples)
        targets = encode_targets(family, texts)
    prompt = {k: v.to(device) for k, v in encode_prompts(family, samples).items()}
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
    group_by_length: bool = False,
) -> tuple[float, float]:
    """Accumulate the gradient of one SFT step over ``samples`` (this rank's share of the
    step), expanded into their examples, ``micro_batch_size`` examples per forward/backward;
    returns the step's loss and exact-match rate over all ranks. Each piece is normalised by the
    step's target-token count summed over ranks (and scaled by the world size, which FSDP/DDP
    divide gradients by), so any split or order computes the one-pass gradient."""
    prompts, texts = expand(samples)
    ids, mask = encode_targets(family, texts)  # tokenized once
    order = list(range(len(prompts)))
    if group_by_length:  # neighbours in length share a micro-batch: less padding per forward
        lengths = prompt_lengths(family, prompts)
        order = length_order([p + int(t) for p, t in zip(lengths, mask.sum(1), strict=True)])
    denom = all_reduce_sum(mask.sum())
    scale = world_size()
    chunks = micro_batches(order, micro_batch_size)
    if scale > 1:  # FSDP/DDP need as many forwards on every rank; chat rows expand unevenly
        chunks = even_chunks(order, max(all_gather_objects(len(chunks))))
    loss_sum, exact_sum = 0.0, 0.0
    for chunk in chunks:
        rows = torch.tensor(chunk or order[:1], dtype=torch.long)  # empty: a zero-weight forward
        width = max(int(mask[rows].sum(1).max().item()), 1)  # drop all-padding columns
        loss, exact = sft_loss(
            model,
            family,
            [prompts[i] for i in rows.tolist()],
            denom,
            targets=(ids[rows, :width], mask[rows, :width]),
        )
        loss = loss if chunk else loss * 0.0
        (loss * scale if scale > 1 else loss).backward()
        loss_sum, exact_sum = loss_sum + loss.item(), exact_sum + exact * len(chunk)
    totals = all_reduce_sum(torch.tensor([loss_sum, exact_sum, float(len(prompts))]))
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
    group_by_length: bool = False,
    save_every: int | None = None,
    val_check: Callable[[], float] | None = None,
    val_accuracy: float = 0.0,
    val_every: int = 25,
) -> list[dict[str, float]]:
    """Run up to ``steps`` SFT steps (fewer when ``stop_accuracy`` is reached); per-step metrics.

    ``val_check`` (returns a held-out accuracy; must leave the RNG as it found it) guards the
    early stop: once the running accuracy reaches ``stop_accuracy``, SFT stops only when
    ``val_check() >= val_accuracy``, checking again every ``val_every`` steps until it does
    (the result is recorded as ``val_accuracy`` in that step's metrics).

    ``batch_size`` samples per step, each expanded into its examples (``sft_examples``);
    ``micro_batch_size`` examples per forward, grouped by length with ``group_by_length``.
    With ``out_dir`` (and the ``processor`` to save beside the weights), a checkpoint goes under
    ``out_dir/checkpoints`` every ``save_every`` steps and on SIGTERM/SIGINT (which then raises
    ``RunInterrupted``), and a rerun resumes from the newest one.
    """
    opt, sched = make_optimizer(model, lr, weight_decay, warmup_steps)
    model.train()
    history: list[dict[str, float]] = []
    ema, start = 0.0, 0
    last_check: int | None = None  # step of the last val_check
    found = None if out_dir is None else resume_checkpoint(out_dir, model, opt)
    if found is not None:
        state = found[1]
        sched.load_state_dict(state["scheduler"])
        stream.load_state_dict(state["stream"])
        start, history, ema = state["step"], state["history"], state["ema"]
    with StopOnSignal("SFT") as stop, progress_bar() as bar, autocast(compute_dtype, model):
        task = bar.add_task("SFT", total=steps, completed=start)
        for step in range(start + 1, steps + 1):
            opt.zero_grad(set_to_none=True)
            batch = stream.next_batch(batch_size)[
                shard_rows(batch_size, "sft.batch_size")
            ]  # this rank's
            loss, exact = sft_backward(model, family, batch, micro_batch_size, group_by_length)
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
                description=f"SFT  loss {loss:.3f}  acc {ema:.2f}",
            )
            periodic = bool(save_every) and step % save_every == 0 and step < steps
            if out_dir is not None and (stop.requested or periodic):
                state = {"scheduler": sched.state_dict(), "stream": stream.state_dict()}
                state.update(history=history, ema=ema)
                saved = save_checkpoint(out_dir, step, model, processor, state, optimizer=opt)
            if stop.requested:
                raise stop.interrupted(saved if out_dir is not None else None)
            if stop_accuracy is not None and step >= 20 and ema >= stop_accuracy:
                if val_check is None:
                    log.info("SFT reached training accuracy %.2f at step %d: stopping", ema, step)
                    break
                if last_check is None or step - last_check >= val_every:
                    last_check, val = step, val_check()
                    history[-1]["val_accuracy"] = val
                    if val >= val_accuracy:
                        log.info(
                            "SFT reached training accuracy %.2f and validation accuracy %.2f "
                            "at step %d: stopping",
                            ema,
                            val,
                            step,
                        )
                        break
                    log.info(
                        "SFT step %d: training accuracy %.2f but validation accuracy %.2f < "
                        "%.2f: training on",
                        step,
                        ema,
                        val,
                        val_accuracy,
                    )
    log.info(
        "SFT done: %d steps, final loss %.4f",
        len(history),
        history[-1]["loss"] if history else float("nan"),
    )
    return history
