"""LLM-as-judge: a local generative model scores each completion (the "judge" factory).

Design note: the judge is any causal LM or VLM (used text-only: it reads the question, the
response and the reference answer, not the images). Two modes:

* ``"generate"``: the filled template is chat-formatted, the judge generates greedily up to
  ``max_new_tokens`` in batches, and a score is read from *the generated text only* (so a
  response that writes "Score: 10" cannot score itself) by ``parse_judge_score``:

  1. the last ``Score: N`` (also ``score is N``, ``**Score:** N``, ``Score (0-10): N``,
     ``score = N``, ``N/10``);
  2. else the last ``\\boxed{N}``;
  3. else the whole output is one number (``7``, ``7/10``, ``7 out of 10``).

  N must lie in ``[min_score, max_score]``; it is normalised to ``(N - min) / (max - min)``.
  Anything else (no match, out of range) scores 0 and sets the ``judge_parse_failed`` component.
  "The last number anywhere" is deliberately not a rule: a judge that writes "the response
  says 7 but the reference is 5" would score 5.

* ``"yes_no"``: one forward pass, no generation; the score is ``P(Yes) / (P(Yes) + P(No))``
  at the first generated position, i.e. ``sigmoid(logit_yes - logit_no)`` over the first token
  of each word. Cheap, deterministic and never unparseable.

Placeholders ``{question}`` (``sample.prompt``), ``{response}`` (the completion, or only its
answer block with ``response="answer"``) and ``{answer}`` (``sample.answer``) are filled in one
pass, so braces in the texts (LaTeX, JSON) are safe and one field cannot inject another.
Batches are right-padded for the yes/no forward pass (positions equal a lone sample's) and
left-padded for generation. Loaded judges are cached by ``(name, dtype, device)``, so several
rewards naming one judge share one model. torch/transformers are imported lazily.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from typing import Any

from mmrft.data.sample import Sample
from mmrft.rewards.base import RewardFn, extract_answer

logger = logging.getLogger(__name__)

DEFAULT_TEMPLATE = (
    "You are grading a response to a question against the reference answer.\n\n"
    "Question: {question}\n\nReference answer: {answer}\n\nResponse: {response}\n\n"
    "How correct and complete is the response, from 0 (wrong) to 10 (fully correct)? "
    "Reply with one line: Score: N"
)
DEFAULT_YES_NO_TEMPLATE = (
    "Question: {question}\n\nReference answer: {answer}\n\nResponse: {response}\n\n"
    "Does the response give the same answer as the reference? Answer Yes or No."
)
PLACEHOLDERS = ("question", "response", "answer")
MODES = ("generate", "yes_no")

_NUM = r"[-+]?\d{1,6}(?:\.\d{1,6})?"
_OUT_OF = rf"(?:\s*(?:/|out\s+of)\s*{_NUM})?"
_SCORE_RE = re.compile(
    rf"\bscore\s*(?:\([^()]{{0,20}}\))?\s*(?:is|of|was)?\s*[:=]?[\s*]*({_NUM}){_OUT_OF}",
    re.IGNORECASE,
)
_BOXED_RE = re.compile(rf"\\boxed\{{\s*({_NUM})\s*\}}")
_BARE_RE = re.compile(rf"[\s*]*({_NUM}){_OUT_OF}[\s*.]*", re.IGNORECASE)
_FIELD_RE = re.compile(r"\{(question|response|answer)\}")


def parse_judge_score(text: str, min_score: float = 0.0, max_score: float = 10.0) -> float | None:
    """The judge's score in ``text`` by the rule in the module note, or None.

    >>> parse_judge_score("Partly right. Score: 7"), parse_judge_score("**Score:** 8/10")
    (7.0, 8.0)
    >>> parse_judge_score("Score: 3 ... on reflection, Score: 6"), parse_judge_score("\\\\boxed{9}")
    (6.0, 9.0)
    >>> [parse_judge_score(t) for t in ["7 out of 10", "Score: 11", "it says 7, not 5", ""]]
    [7.0, None, None, None]
    """
    matches = _SCORE_RE.findall(text) or _BOXED_RE.findall(text)
    if matches:
        value = float(matches[-1])
    else:
        bare = _BARE_RE.fullmatch(text.strip())
        if bare is None:
            return None
        value = float(bare.group(1))
    return value if min_score <= value <= max_score else None


def fill_template(template: str, question: str, response: str, answer: str) -> str:
    """``template`` with its placeholders filled in one pass (inserted text is not re-scanned).

    >>> fill_template("Q: {question} R: {response} A: {answer}", "{answer}?", "\\\\frac{1}{2}", "1/2")
    'Q: {answer}? R: \\\\frac{1}{2} A: 1/2'
    """
    values = {"question": question, "response": response, "answer": answer}
    return _FIELD_RE.sub(lambda m: values[m.group(1)], template)


def _text_tokenizer(processor: Any) -> Any:
    """The tokenizer inside a VLM processor, or the tokenizer itself."""
    return getattr(processor, "tokenizer", processor)


def format_prompts(processor: Any, texts: Sequence[str], chat: bool = True) -> list[str]:
    """Each text as one user turn plus the assistant header, when a chat template exists."""
    has_template = getattr(processor, "chat_template", None) or getattr(
        _text_tokenizer(processor), "chat_template", None
    )
    if not (chat and has_template):
        return list(texts)
    return [
        processor.apply_chat_template(
            [{"role": "user", "content": t}], tokenize=False, add_generation_prompt=True
        )
        for t in texts
    ]


def _first_token(tokenizer: Any, word: str) -> int:
    ids = tokenizer.encode(word, add_special_tokens=False)
    if not ids:
        raise ValueError(f"judge: the tokenizer encodes {word!r} to no tokens")
    if len(ids) > 1:
        logger.warning("judge: %r is %d tokens; the yes/no score uses the first", word, len(ids))
    return ids[0]


class Judge:
    """A loaded judge model plus its prompt and scoring settings; call it like a reward."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        template: str | None = None,
        mode: str = "generate",
        max_new_tokens: int = 64,
        batch_size: int = 8,
        min_score: float = 0.0,
        max_score: float = 10.0,
        response: str = "completion",
        max_response_chars: int = 8000,
        yes_no_words: tuple[str, str] = ("Yes", "No"),
        chat: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"judge mode {mode!r} is unknown; known: {list(MODES)}")
        if response not in ("completion", "answer"):
            raise ValueError(f"judge response {response!r} must be 'completion' or 'answer'")
        if not max_score > min_score:
            raise ValueError(f"judge needs max_score > min_score, got {min_score}, {max_score}")
        if batch_size < 1 or max_new_tokens < 1:
            raise ValueError("judge batch_size and max_new_tokens must be >= 1")
        template = template or (DEFAULT_TEMPLATE if mode == "generate" else DEFAULT_YES_NO_TEMPLATE)
        if "{response}" not in template:
            raise ValueError(f"judge template must contain {{response}}; got {template!r}")
        self.model, self.processor = model.eval(), processor
        self.tokenizer = _text_tokenizer(processor)
        if self.tokenizer.pad_token_id is None:  # batching needs a pad id; eos is the usual one
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.template, self.mode, self.chat = template, mode, chat
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size
        self.min_score, self.max_score = float(min_score), float(max_score)
        self.response, self.max_response_chars = response, max_response_chars
        if mode == "yes_no":
            self.yes_id = _first_token(self.tokenizer, yes_no_words[0])
            self.no_id = _first_token(self.tokenizer, yes_no_words[1])
            if self.yes_id == self.no_id:
                raise ValueError(f"judge: {yes_no_words} share their first token")
        self.__name__ = f"judge_{mode}"

    def prompts(self, completions: list[str], samples: list[Sample]) -> list[str]:
        """The chat-formatted judge prompt for each (completion, sample)."""
        texts = []
        for completion, sample in zip(completions, samples, strict=True):
            answer_only = self.response == "answer"
            response = (extract_answer(completion) or "") if answer_only else completion
            texts.append(
                fill_template(
                    self.template,
                    sample.prompt,
                    response[: self.max_response_chars],
                    str(sample.answer),
                )
            )
        return format_prompts(self.processor, texts, self.chat)

    def generate(self, prompts: list[str], temperature: float = 0.0) -> list[str]:
        """Judge outputs (new tokens only, special tokens dropped), in batches: greedy at
        ``temperature`` 0, sampled above it (MME-Reasoning's extraction retries raise it)."""
        import torch

        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {}
        sampling = sampling or {"do_sample": False}

        outputs = []
        for i in range(0, len(prompts), self.batch_size):
            enc = self.tokenizer(
                prompts[i : i + self.batch_size],
                return_tensors="pt",
                padding=True,
                padding_side="left",  # generation continues every row from the same column
                add_special_tokens=False,
            ).to(self.model.device)
            with torch.inference_mode():
                out = self.model.generate(
                    **enc,
                    **sampling,
                    max_new_tokens=self.max_new_tokens,
                    pad_token_id=self.tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]  # [b, <= max_new_tokens]
            outputs += self.tokenizer.batch_decode(new, skip_special_tokens=True)
        return outputs

    def p_yes(self, prompts: list[str]) -> list[float]:
        """``sigmoid(logit_yes - logit_no)`` at each prompt's next-token position."""
        import torch

        scores: list[float] = []
        for i in range(0, len(prompts), self.batch_size):
            enc = self.tokenizer(
                prompts[i : i + self.batch_size],
                return_tensors="pt",
                padding=True,
                padding_side="right",  # real tokens keep a lone sample's positions
                add_special_tokens=False,
            ).to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**enc).logits  # [b, T, V]
            last = enc["attention_mask"].sum(1) - 1  # [b]: last real token
            rows = logits[torch.arange(len(last)), last].float()  # [b, V]
            diff = rows[:, self.yes_id] - rows[:, self.no_id]  # [b]
            scores += torch.sigmoid(diff).tolist()
        return scores

    def __call__(self, completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        prompts = self.prompts(completions, samples)
        if self.mode == "yes_no":
            p = self.p_yes(prompts)
            return {"overall": p, "judge_p_yes": list(p)}
        span = self.max_score - self.min_score
        overall, raw, failed = [], [], []
        for text in self.generate(prompts):
            score = parse_judge_score(text, self.min_score, self.max_score)
            failed.append(float(score is None))
            raw.append(self.min_score if score is None else score)
            overall.append(0.0 if score is None else (score - self.min_score) / span)
        return {"overall": overall, "judge_raw": raw, "judge_parse_failed": failed}


def make_judge_reward(model: Any, processor: Any, **options: Any) -> RewardFn:
    """A reward scored by ``model`` (any causal LM / VLM) with tokenizer or processor ``processor``.

    ``options`` are ``Judge``'s: ``template``, ``mode`` ("generate" | "yes_no"),
    ``max_new_tokens``, ``batch_size``, ``min_score``, ``max_score``, ``response``
    ("completion" | "answer"), ``max_response_chars``, ``yes_no_words``, ``chat``.
    Returns ``overall`` in [0, 1] plus ``judge_raw`` and ``judge_parse_failed`` (generate) or
    ``judge_p_yes`` (yes_no).
    """
    return Judge(model, processor, **options)


@functools.lru_cache(maxsize=4)
def load_judge(name_or_path: str, dtype: str = "float32", device: str | None = None):
    """``(model, tokenizer or processor)`` for a judge by path, hub name or builtin tiny name;
    cached, so every reward naming the same judge shares one model."""
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForImageTextToText,
        AutoProcessor,
        AutoTokenizer,
    )

    from mmrft.models.tiny import TINY_MODELS

    if name_or_path in TINY_MODELS:
        model, processor = TINY_MODELS.get(name_or_path)(0)
    else:
        kwargs = {"dtype": getattr(torch, dtype)}
        try:
            model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
            processor = AutoTokenizer.from_pretrained(name_or_path)
        except ValueError:  # a VLM config has no causal-LM class: load it as image-text-to-text
            model = AutoModelForImageTextToText.from_pretrained(name_or_path, **kwargs)
            processor = AutoProcessor.from_pretrained(name_or_path)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), processor


def judge_reward_from_config(
    model: str, dtype: str = "float32", device: str | None = None, **options: Any
) -> RewardFn:
    """The registered "judge" factory: ``make_judge_reward`` on a judge loaded by name or path.

    Config: ``{"factory": "judge", "args": {"model": "path/to/judge", "mode": "yes_no"}}``.
    """
    judge_model, processor = load_judge(model, dtype, device)
    return make_judge_reward(judge_model, processor, **options)
