"""A sequence-classification reward model (the "reward_model" factory).

Design note: the reward model is any ``AutoModelForSequenceClassification`` with one label
(a scalar, Bradley-Terry style, as TRL's RewardTrainer trains) or two (the score is
``P(label 1)``). Its input is the (question, response) pair as the model was trained on it:

* with a chat template: ``[{"role": "user", "content": question},
  {"role": "assistant", "content": response}]`` rendered without a generation prompt;
* without one: the tokenizer's sentence-pair encoding ``(question, response)`` (BERT/DeBERTa
  reward models).

Inputs are truncated to ``max_length`` tokens (the tokenizer's truncation side, usually the
end) and right-padded, whatever the tokenizer's own ``padding_side``: a causal backbone then
sees every real token at the position it has alone, and the model pools the rightmost
non-pad token, so a sample scores the same alone and in a padded batch. ``rm_raw`` is the
logit (one label) or ``logit_1 - logit_0`` (two labels); ``overall`` normalises it:

* ``"sigmoid"`` (default): ``sigmoid((raw - center) / scale)`` in (0, 1), on the same scale as
  the verifiable rewards; for two labels and the defaults it is exactly ``P(label 1)``, and for
  a Bradley-Terry model the probability of beating a response scored ``center``;
* ``"raw"``: the raw score clipped to ``clip`` (``None``: unclipped);
* ``"zscore"``: ``(raw - mean) / std`` over the batch (0 where the batch has no spread). GRPO
  normalises within groups anyway; use this only with estimators that do not.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

from mmrft.data.sample import Sample
from mmrft.rewards.base import RewardFn, extract_answer

NORMALISATIONS = ("sigmoid", "raw", "zscore")


def normalise_scores(
    raw: Sequence[float],
    mode: str = "sigmoid",
    *,
    center: float = 0.0,
    scale: float = 1.0,
    clip: tuple[float, float] | None = None,
) -> list[float]:
    """Map raw reward-model scores to rewards (see the module note).

    >>> [round(v, 4) for v in normalise_scores([0.0, 2.0, -2.0])]
    [0.5, 0.8808, 0.1192]
    >>> normalise_scores([-7.0, 0.5, 9.0], "raw", clip=(-5.0, 5.0))
    [-5.0, 0.5, 5.0]
    >>> normalise_scores([1.0, 3.0], "zscore"), normalise_scores([2.0, 2.0], "zscore")
    ([-1.0, 1.0], [0.0, 0.0])
    """
    if mode == "sigmoid":
        if scale <= 0:
            raise ValueError(f"reward model scale must be positive, got {scale}")
        return [1.0 / (1.0 + math.exp(-(r - center) / scale)) for r in raw]
    if mode == "raw":
        if clip is None:
            return [float(r) for r in raw]
        lo, hi = clip
        return [min(max(float(r), lo), hi) for r in raw]
    if mode == "zscore":
        n = len(raw)
        mean = sum(raw) / n if n else 0.0
        std = math.sqrt(sum((r - mean) ** 2 for r in raw) / n) if n else 0.0  # population std
        return [(r - mean) / std if std > 0 else 0.0 for r in raw]
    raise ValueError(f"unknown reward-model normalisation {mode!r}; known: {list(NORMALISATIONS)}")


def format_pairs(tokenizer: Any, questions: Sequence[str], responses: Sequence[str]) -> list[str]:
    """Chat-formatted (question, response) texts; requires a chat template."""
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}, {"role": "assistant", "content": r}],
            tokenize=False,
        )
        for q, r in zip(questions, responses, strict=True)
    ]


class RewardModel:
    """A loaded sequence-classification reward model; call it like a reward."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_length: int = 2048,
        batch_size: int = 8,
        normalise: str = "sigmoid",
        center: float = 0.0,
        scale: float = 1.0,
        clip: tuple[float, float] | None = None,
        response: str = "completion",
    ) -> None:
        num_labels = model.config.num_labels
        if num_labels not in (1, 2):
            raise ValueError(f"reward model needs num_labels 1 or 2, got {num_labels}")
        if normalise not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation {normalise!r}; known: {list(NORMALISATIONS)}")
        if response not in ("completion", "answer"):
            raise ValueError(f"reward model response {response!r} must be 'completion' or 'answer'")
        if batch_size < 1 or max_length < 2:
            raise ValueError("reward model batch_size must be >= 1 and max_length >= 2")
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor's text tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if model.config.pad_token_id is None:  # the model pools the last non-pad token
            model.config.pad_token_id = tokenizer.pad_token_id
        self.model, self.tokenizer = model.eval(), tokenizer
        self.max_length, self.batch_size, self.response = max_length, batch_size, response
        self.normalise = functools.partial(
            normalise_scores, mode=normalise, center=center, scale=scale, clip=clip
        )
        self.__name__ = "reward_model"

    def encode(self, questions: list[str], responses: list[str]) -> Any:
        """Right-padded, truncated model inputs for one batch of pairs."""
        common = {
            "return_tensors": "pt",
            "padding": True,
            "padding_side": "right",
            "truncation": True,
            "max_length": self.max_length,
        }
        if getattr(self.tokenizer, "chat_template", None):
            texts = format_pairs(self.tokenizer, questions, responses)
            return self.tokenizer(texts, add_special_tokens=False, **common)
        return self.tokenizer(questions, responses, **common)

    def raw_scores(self, questions: list[str], responses: list[str]) -> list[float]:
        """The model's scalar score per pair: logit, or logit_1 - logit_0 for two labels."""
        import torch

        scores: list[float] = []
        for i in range(0, len(questions), self.batch_size):
            enc = self.encode(
                questions[i : i + self.batch_size], responses[i : i + self.batch_size]
            ).to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()  # [b, num_labels]
            raw = logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]  # [b]
            scores += raw.tolist()
        return scores

    def __call__(self, completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        if self.response == "answer":
            responses = [extract_answer(c) or "" for c in completions]
        else:
            responses = list(completions)
        raw = self.raw_scores([s.prompt for s in samples], responses)
        return {"overall": self.normalise(raw), "rm_raw": raw}


def make_reward_model_reward(model: Any, tokenizer: Any, **options: Any) -> RewardFn:
    """A reward from a sequence-classification ``model`` and its ``tokenizer``.

    ``options`` are ``RewardModel``'s: ``max_length``, ``batch_size``, ``normalise``
    ("sigmoid" | "raw" | "zscore"), ``center``, ``scale``, ``clip``, ``response``
    ("completion" | "answer"). Returns ``overall`` and the unnormalised ``rm_raw``.
    """
    return RewardModel(model, tokenizer, **options)


@functools.lru_cache(maxsize=4)
def load_reward_model(name_or_path: str, dtype: str = "float32", device: str | None = None):
    """``(model, tokenizer)`` for a reward model by path or hub name; cached."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        name_or_path, dtype=getattr(torch, dtype)
    )
    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), tokenizer


def reward_model_reward_from_config(
    model: str, dtype: str = "float32", device: str | None = None, **options: Any
) -> RewardFn:
    """The registered "reward_model" factory: a reward model loaded by name or path.

    Config: ``{"factory": "reward_model", "args": {"model": "path/to/rm", "max_length": 1024}}``.
    ``clip`` may be given as a two-item list (YAML has no tuples).
    """
    if options.get("clip") is not None:
        options["clip"] = tuple(float(v) for v in options["clip"])
    rm, tokenizer = load_reward_model(model, dtype, device)
    return make_reward_model_reward(rm, tokenizer, **options)
