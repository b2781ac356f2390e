"""The policy (and critic) update, micro-batched: the one place where batches meet memory.

Design note. A step's rollout batch (prompts_per_step x group_size rows) is split three ways:

* ``algorithm.mini_batches`` slices: one optimizer step each (the PPO notion of a mini-batch);
* ``rl.micro_batch_size`` rows per forward/backward inside a slice: gradients accumulate over
  its micro-batches and the optimizer steps once per slice;
* under torchrun, each rank holds its own share of the rows (whole GRPO groups).

Micro-batching must not change the update. The loss of a slice is ``agg_loss`` with the
*slice's* normaliser (its token count, sequence count or N * max_len; ``agg_denominator``), so
each micro-batch's loss is its numerator over that same normaliser and their sum is the slice's
loss exactly: not a mean of per-micro-batch means, which would weigh a short micro-batch's
tokens more (the classic accumulation bug). Across ranks the normaliser is all-reduced, and each
rank's loss is scaled by the world size because FSDP/DDP average gradients over ranks: N ranks
with b rows each then take the step one process takes with N * b rows.

Rows whose advantage is 0 everywhere (a GRPO group whose completions all scored alike) add
exactly nothing to an advantage-weighted loss or its gradient, so with ``rl.skip_zero_advantage``
a slice forwards only its informative rows, still normalised by the whole slice's denominator:
the same step for less compute (``rows_to_train``); and an off-policy update (several epochs or
mini-batches) needs the rollout policy's log-probs of those rows only
(``rollout_policy_logprobs``).

The no-grad passes (rollout-policy, reference and critic values) run in chunks of
``rl.logprob_micro_batch_size`` rows: the same rows, the same numbers, less peak memory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Hashable

import torch

from mmrft.algorithms.aggregation import agg_denominator
from mmrft.algorithms.mismatch import mismatch_metrics, truncated_is_weights
from mmrft.config import Config
from mmrft.models.families import ModelFamily
from mmrft.models.logprobs import completion_forward, token_logprobs
from mmrft.models.shared_prompt import shared_prompt_forward, supports_shared_prompt
from mmrft.rollout.base import RolloutBatch
from mmrft.rollout.packed_weights import onednn_enabled
from mmrft.trainer.critic import Critic, critic_loss
from mmrft.trainer.distributed import all_gather_objects, all_reduce_sum, world_size
from mmrft.trainer.objective import Objective, compute_loss
from mmrft.trainer.onednn_linear import onednn_linears

log = logging.getLogger(__name__)

# Metrics that are sums of the micro-batches' parts (each normalised by the whole slice);
# every other metric is a token-weighted mean over micro-batches.
ADDITIVE_METRICS = ("actor/loss", "actor/pg_loss", "critic/vf_loss")


def rows_to_train(
    rows: list[int], advantages: torch.Tensor, mask: torch.Tensor, kinds: list[Hashable]
) -> list[int]:
    """``rows`` less those whose advantage is 0 at every real token, except that each input
    kind (``kinds[r]``: text, image, video, audio) the slice holds keeps at least one row, so
    every parameter the whole slice reaches still gets a gradient (0 where only left-out rows
    reached it) and AdamW steps it as before. advantages [N] or [N, L], mask [N, L].

    >>> adv = torch.tensor([0.0, 0.0, 1.5, 0.0, 0.0])
    >>> rows_to_train([0, 1, 2, 3, 4], adv, torch.ones(5, 2), ["img", "img", "img", "txt", "txt"])
    [2, 3]
    """
    informative = dict(zip(rows, nonzero_advantage(rows, advantages, mask), strict=True))
    covered = {kinds[r] for r in rows if informative[r]}
    first_of_kind: dict[Hashable, int] = {}
    for r in rows:
        if kinds[r] not in covered:
            first_of_kind.setdefault(kinds[r], r)
    keep = set(first_of_kind.values())
    return [r for r in rows if informative[r] or r in keep]


def nonzero_advantage(rows: list[int], advantages: torch.Tensor, mask: torch.Tensor) -> list[bool]:
    """Per row of ``rows``: is its advantage nonzero (NaN counts) at some real token?
    advantages [N] or [N, L], mask [N, L]."""
    adv = advantages[rows]
    if adv.dim() == 2:
        adv = adv * mask[rows]  # [n, L]: padding's advantage does not count
    return (adv != 0).reshape(len(rows), -1).any(dim=1).tolist()


def informative_rows(advantages: torch.Tensor, mask: torch.Tensor) -> list[int]:
    """The rows whose advantage is nonzero at some real token. advantages [N] or [N, L]."""
    every = list(range(advantages.shape[0]))
    keep = nonzero_advantage(every, advantages, mask)
    return [r for r, x in zip(every, keep, strict=True) if x]


def skips_zero_advantage(
    cfg: Config, objective: Objective, *, ref_logp: torch.Tensor | None, critic: Critic | None
) -> bool:
    """Whether this step's update leaves zero-advantage rows out (``rl.skip_zero_advantage``):
    only where such a row adds nothing, so not with reference log-probs (a KL term, trained on
    or only logged, reads every row) or a critic (its value loss reads every row)."""
    return (
        cfg.rl.skip_zero_advantage
        and objective.zero_advantage_inert
        and ref_logp is None
        and critic is None
    )


def input_kinds(batch: RolloutBatch) -> list[tuple[bool, bool, bool]]:
    """Per row: (has images, has videos, has audio), the parts of the model its forward runs."""
    videos = batch.videos_per_row or [0] * len(batch.texts)
    audios = batch.audios_per_row or [0] * len(batch.texts)
    return [
        (i > 0, v > 0, a > 0) for i, v, a in zip(batch.images_per_row, videos, audios, strict=True)
    ]


def micro_batches(rows: list[int], size: int | None) -> list[list[int]]:
    """``rows`` in consecutive chunks of at most ``size`` (None or 0: one chunk).

    >>> micro_batches([4, 1, 7, 2, 9], 2)
    [[4, 1], [7, 2], [9]]
    """
    if not size or size >= len(rows):
        return [rows]
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def forward_rows(
    net: torch.nn.Module,
    family: ModelFamily,
    batch: RolloutBatch,
    rows: list[int] | None = None,
    *,
    temp: float,
    hidden: bool = False,
    share_prompt: bool = False,
) -> tuple[torch.Tensor, ...]:
    """``(logp [n, L], logits [n, L, V])`` of ``batch``'s completions (``rows``, default all)
    under ``net``, plus the final hidden states [n, L, H] with ``hidden``.

    Rows of one group share their prompt: with ``share_prompt`` (``rl.share_prompt``), where
    the architecture is proven for it, each distinct prompt is forwarded once and its KV cache
    serves its rows (``models.shared_prompt``); otherwise a group's image is still encoded once.
    Under torchrun the gradient pass takes the plain forward (one forward per backward).
    """
    device = next(net.parameters()).device
    sel = list(range(len(batch.texts))) if rows is None else rows
    prompt = {k: v.to(device) for k, v in batch.select(sel).items()}
    ids, mask = batch.completion_ids[sel].to(device), batch.completion_mask[sel].to(device)
    first: dict[int, int] = {}  # sample -> its first position in sel
    source = [first.setdefault(batch.sample_index[r], i) for i, r in enumerate(sel)]
    # Under torchrun only without gradients: FSDP2 frees a unit's gathered weights after the
    # backward of its last forward call, and the prefix call's backward comes after that. And
    # there even rows without a repeated prompt take it, so that every rank makes the same model
    # calls whatever rows it holds (FSDP's collectives run inside them).
    ranks = world_size() > 1
    one_forward = torch.is_grad_enabled() and ranks
    repeats = len(first) < len(sel) or ranks
    if share_prompt and not one_forward and repeats and supports_shared_prompt(net):
        slot = {pos: u for u, pos in enumerate(first.values())}  # first position -> prompt
        unique = {k: v.to(device) for k, v in batch.select([sel[i] for i in slot]).items()}
        row_prompt = [slot[i] for i in source]
        logits, states = shared_prompt_forward(
            net, prompt, unique, row_prompt, ids, mask, hidden=hidden
        )
    else:
        prompt = family.share_vision(net, prompt, source)
        logits, states = completion_forward(net, prompt, ids, mask, hidden=hidden)
    logp = token_logprobs(
        logits, ids, temperature=temp, suppressed_ids=family.suppressed_token_ids()
    )
    logp = logp * mask  # [n, L], 0 at padding
    return (logp, logits, states) if hidden else (logp, logits)


def policy_logprobs(
    net: torch.nn.Module,
    family: ModelFamily,
    batch: RolloutBatch,
    rows: list[int] | None = None,
    *,
    temp: float,
    micro_batch_size: int | None = None,
    share_prompt: bool = False,
) -> torch.Tensor:
    """Log-probs [n, L] of ``rows``' completions (default all: [N, L]), a no-grad
    rollout-policy or reference pass, ``micro_batch_size`` rows per forward.

    With ``rows`` given, ranks under torchrun may ask for different numbers of rows (none,
    even), while FSDP's collectives run inside every forward: each rank runs as many forwards
    as the busiest one, the extra ones on its first row, discarded.
    """
    sel = list(range(len(batch.texts))) if rows is None else rows
    chunks = micro_batches(sel, micro_batch_size) if sel else []
    kw = {"temp": temp, "share_prompt": share_prompt}
    # agreed before any forward: the collectives inside them must pair up across ranks
    uneven = rows is not None and world_size() > 1
    padding = max(all_gather_objects(len(chunks))) - len(chunks) if uneven else 0
    parts = [forward_rows(net, family, batch, chunk, **kw)[0] for chunk in chunks]
    for _ in range(padding):
        forward_rows(net, family, batch, [0], **kw)
    if not parts:  # no rows: [0, L] of the dtype forward_rows gives (float32 x the mask's)
        device = next(net.parameters()).device
        empty = batch.completion_mask[:0].to(device)
        return torch.zeros(empty.shape, device=device) * empty
    return torch.cat(parts)  # [n, L]: every chunk keeps the batch's padded width L


def rollout_policy_logprobs(
    net: torch.nn.Module,
    family: ModelFamily,
    batch: RolloutBatch,
    rows: list[int] | None,
    **no_grad_pass: object,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The old log-probs for an off-policy update: [N, L] over ``rows`` (all: None), 0 for the
    other rows; and which rows were computed ([N] bool; None: all)."""
    part = policy_logprobs(net, family, batch, rows, **no_grad_pass)
    if rows is None:
        return part, None
    N, L = batch.completion_mask.shape
    old = part.new_zeros((N, L))
    computed = torch.zeros(N, dtype=torch.bool, device=part.device)
    old[rows], computed[rows] = part, True
    return old, computed


def critic_values(
    critic: Critic,
    policy: torch.nn.Module,
    family: ModelFamily,
    batch: RolloutBatch,
    rows: list[int] | None = None,
    *,
    temp: float,
    micro_batch_size: int | None = None,
    share_prompt: bool = False,
) -> torch.Tensor:
    """Values [n, L] of ``batch``'s completion states; a shared critic reads the policy."""
    net = policy if critic.shared else critic.backbone
    sel = list(range(len(batch.texts))) if rows is None else rows
    kw = {"temp": temp, "hidden": True, "share_prompt": share_prompt}
    parts = [
        critic.values(forward_rows(net, family, batch, chunk, **kw)[2])
        for chunk in micro_batches(sel, micro_batch_size)
    ]
    return torch.cat(parts)  # [n, L]


def update_policy(
    cfg: Config,
    objective: Objective,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batch: RolloutBatch,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    family: ModelFamily,
    *,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    kl_coef: float,
    old_rows: torch.Tensor | None = None,
    critic: Critic | None = None,
    critic_opt: torch.optim.Optimizer | None = None,
    old_values: torch.Tensor | None = None,
    returns: torch.Tensor | None = None,
    train_policy: bool = True,
    guard: NonFiniteGuard | None = None,
) -> dict[str, float]:
    """``ppo_epochs`` passes over ``mini_batches`` shuffled slices; one optimizer step per slice,
    after accumulating the gradients of its ``rl.micro_batch_size``-row micro-batches.

    ``old_logp`` [N, L] are the rollout policy's log-probs, taken before any update, so every
    epoch's ratio is against the rollout policy. ``None`` means one epoch of one mini-batch:
    the policy is still the rollout policy at the only forward pass, so its detached log-probs
    serve as old log-probs (ratio == 1) and the extra forward pass is skipped. ``old_rows``
    ([N] bool, None: all) marks the rows ``old_logp`` was computed for: where the update leaves
    zero-advantage rows out, the others are not needed (``rollout_policy_logprobs``), and a row
    kept anyway (one per input kind, see ``rows_to_train``) is taken at ratio 1; its advantage
    is 0, so its loss and gradient are 0 whatever the ratio.

    With a ``critic`` its value loss against ``returns`` [N, L] (clipped around ``old_values``)
    is added and its optimizer stepped too. ``train_policy=False`` (critic warm-up) trains the
    critic alone: the policy loss is left out and a shared backbone gets no gradient.

    A slice whose loss or gradient norm is NaN/inf is not stepped (``actor/nonfinite`` = 1);
    ``guard`` counts such slices and aborts the run after too many in a row.

    With ``rl.onednn_matmul`` on, the policy's large linear layers run through oneDNN for the
    update's duration (``onednn_linear``).
    """
    acfg = cfg.algorithm
    N = len(batch.texts)
    all_rows = list(range(N))
    model.train()
    history: dict[str, list[float]] = {}
    with onednn_linears(model, onednn_enabled(cfg.rl.onednn_matmul, "rl.onednn_matmul")):
        for _ in range(acfg.ppo_epochs):
            perm = all_rows if acfg.mini_batches == 1 else torch.randperm(N).tolist()
            for chunk in torch.tensor(perm).chunk(acfg.mini_batches):
                rows = chunk.tolist()
                opt.zero_grad(set_to_none=True)
                if critic_opt is not None:
                    critic_opt.zero_grad(set_to_none=True)
                m = backward_slice(
                    cfg, objective, model, family, batch, rows, advantages, mask,
                    old_logp=old_logp, ref_logp=ref_logp, kl_coef=kl_coef, old_rows=old_rows,
                    critic=critic, old_values=old_values, returns=returns,
                    train_policy=train_policy,
                )  # fmt: skip
                m["actor/grad_norm"] = grad_norm(model, cfg.rl.max_grad_norm)
                finite = math.isfinite(m["actor/grad_norm"]) and math.isfinite(m["actor/loss"])
                if guard is not None:
                    guard.check(finite, m)
                if not finite:  # a NaN/inf loss or gradient: skip this update, keep the weights
                    opt.zero_grad(set_to_none=True)
                elif train_policy:
                    opt.step()
                if critic is not None:
                    m["critic/grad_norm"] = grad_norm(critic, cfg.critic.max_grad_norm)
                    critic_opt.step()
                for k, v in m.items():
                    history.setdefault(k, []).append(v)
    return {k: sum(v) / len(v) for k, v in history.items()}


class NonFiniteUpdates(RuntimeError):
    """Too many consecutive updates had a NaN/inf loss or gradient."""


class NonFiniteGuard:
    """Counts consecutive non-finite updates (skipped, logged) and stops the run after
    ``limit`` in a row: one bad batch is survivable, a diverged model is not."""

    def __init__(self, limit: int) -> None:
        self.limit, self.in_a_row = limit, 0

    def check(self, finite: bool, metrics: dict[str, float]) -> None:
        metrics["actor/nonfinite"] = 0.0 if finite else 1.0
        if finite:
            self.in_a_row = 0
            return
        self.in_a_row += 1
        log.warning(
            "non-finite loss %s or gradient norm %s: update skipped (%d in a row, limit %d)",
            metrics.get("actor/loss"),
            metrics.get("actor/grad_norm"),
            self.in_a_row,
            self.limit,
        )
        if self.in_a_row >= self.limit:
            raise NonFiniteUpdates(
                f"{self.in_a_row} updates in a row had a NaN/inf loss or gradient (limit "
                "rl.max_nonfinite_updates): the policy diverged; lower rl.lr or check the reward"
            )


def grad_norm(model: torch.nn.Module, max_norm: float) -> float:
    """Clip ``model``'s gradients to ``max_norm`` and return their total norm before clipping
    (under FSDP2 the norm is a DTensor over all shards: its full value)."""
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    if hasattr(norm, "full_tensor"):
        norm = norm.full_tensor()
    return norm.item()


def backward_slice(
    cfg: Config,
    objective: Objective,
    model: torch.nn.Module,
    family: ModelFamily,
    batch: RolloutBatch,
    rows: list[int],
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    old_logp: torch.Tensor | None,
    ref_logp: torch.Tensor | None,
    kl_coef: float,
    old_rows: torch.Tensor | None = None,
    critic: Critic | None = None,
    old_values: torch.Tensor | None = None,
    returns: torch.Tensor | None = None,
    train_policy: bool = True,
) -> dict[str, float]:
    """Accumulate into ``.grad`` the gradient of the loss of slice ``rows`` (one mini-batch),
    ``rl.micro_batch_size`` rows per forward/backward; returns the slice's metrics.

    Every micro-batch is normalised by the whole slice's ``agg_denominator``, summed over ranks;
    each rank's loss is multiplied by the world size because FSDP/DDP average gradients. With
    ``rl.skip_zero_advantage`` (where exact) only ``rows_to_train`` are forwarded.
    """
    mode = objective.agg_mode
    denom = all_reduce_sum(
        agg_denominator(mask[rows], mode, max_len=cfg.rollout.max_new_tokens).double()
    )
    vf_denom = None
    if critic is not None:
        vf_denom = all_reduce_sum(agg_denominator(mask[rows], mode).double())
    scale = world_size()

    def micro_batch_loss(rows: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Micro-batch ``rows``' share of the slice's loss (normalised by ``denom``), metrics."""
        acfg = cfg.algorithm
        temp = cfg.rollout.temperature
        shared = critic is not None and critic.shared
        share = cfg.rl.share_prompt
        logp, logits, *hidden = forward_rows(
            model, family, batch, rows, temp=temp, hidden=shared, share_prompt=share
        )
        old = logp.detach() if old_logp is None else old_logp[rows]
        if old_rows is not None:  # rows left out of the old-log-prob pass: ratio 1
            old = torch.where(old_rows[rows].to(old.device).unsqueeze(1), old, logp.detach())
        ref = None if ref_logp is None else ref_logp[rows]
        weights, gap = None, {}
        if batch.logprobs is not None:  # the engine's log-probs: measure (and correct) the gap
            rollout_logp = batch.logprobs[rows].to(old.device)
            gap = mismatch_metrics(old, rollout_logp, mask[rows])
            if acfg.tis_cap is not None:
                weights = truncated_is_weights(old, rollout_logp, mask[rows], acfg.tis_cap)
        loss, m = compute_loss(
            objective,
            logp,
            old,
            advantages[rows],
            mask[rows],
            ref_logp=ref,
            logits=logits,
            kl_coef=kl_coef,
            max_len=cfg.rollout.max_new_tokens,
            token_weights=weights,
            denominator=denom.to(logp.dtype),
        )
        m.update(gap)
        if not train_policy:
            loss = loss.detach() * 0  # warm-up: the critic's loss alone
        if critic is not None:
            if shared:  # the head reads this very forward pass; warm-up keeps the trunk still
                values = critic.values(hidden[0] if train_policy else hidden[0].detach())
            else:
                values = critic_values(
                    critic, model, family, batch, rows, temp=temp, share_prompt=share
                )
            vf_loss, vm = critic_loss(
                cfg.critic,
                values,
                old_values[rows],
                returns[rows],
                mask[rows],
                objective.agg_mode,
                denominator=vf_denom.to(values.dtype),
            )
            loss = loss + cfg.critic.vf_coef * vf_loss
            m.update(vm)
        return loss, m

    skip = skips_zero_advantage(cfg, objective, ref_logp=ref_logp, critic=critic)
    trained = rows_to_train(rows, advantages, mask, input_kinds(batch)) if skip else rows
    chunks = micro_batches(trained, cfg.rl.micro_batch_size)
    # Under torchrun FSDP's and DDP's collectives run inside every forward/backward, so each rank
    # runs as many as the busiest one: a rank with fewer repeats a row with its loss times 0.
    padding = max(all_gather_objects(len(chunks))) - len(chunks) if skip and scale > 1 else 0
    parts: list[tuple[dict[str, float], float]] = []
    for micro in chunks:
        loss, m = micro_batch_loss(micro)
        (loss * scale if scale > 1 else loss).backward()
        parts.append((m, mask[micro].sum().item()))
    for _ in range(padding):
        (micro_batch_loss(trained[:1])[0] * 0.0).backward()
    metrics = _reduce_over_ranks(*_combine(parts))
    counts = all_reduce_sum(torch.tensor([len(trained), len(rows)], dtype=torch.float64))
    metrics["actor/trained_rows"] = (counts[0] / counts[1]).item()  # over every rank's rows
    return metrics


def _combine(parts: list[tuple[dict[str, float], float]]) -> tuple[dict[str, float], float]:
    """One slice's metrics from its micro-batches': sums for the loss parts (already normalised
    by the whole slice), token-weighted means for everything else; and the slice's tokens."""
    total = sum(w for _, w in parts)
    if len(parts) == 1:
        return dict(parts[0][0]), total
    out: dict[str, float] = {}
    for key in parts[0][0]:
        if key in ADDITIVE_METRICS:
            out[key] = sum(m[key] for m, _ in parts)
        else:
            out[key] = sum(m[key] * w for m, w in parts) / (total or 1.0)
    return out, total


def _reduce_over_ranks(metrics: dict[str, float], tokens: float) -> dict[str, float]:
    """The whole (all-rank) slice's metrics: loss parts summed over ranks, the rest
    token-weighted; unchanged in a single process."""
    if world_size() == 1:
        return metrics
    keys = sorted(metrics)
    local = [metrics[k] if k in ADDITIVE_METRICS else metrics[k] * tokens for k in keys]
    summed = all_reduce_sum(torch.tensor([*local, tokens], dtype=torch.float64)).tolist()
    total = summed[-1] or 1.0
    return {
        k: v if k in ADDITIVE_METRICS else v / total for k, v in zip(keys, summed, strict=False)
    }
