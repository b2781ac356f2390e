"""Supervised examples from samples: which prompt, and which text carries the loss.

Design note: SFT trains on (prompt, target) pairs and computes the loss on target tokens only.
A sample gives its pairs by these rules, in order (``mmrft.data.rows`` fills the meta keys):

* a chat row (``meta["messages"]``): one example per assistant turn. The example's prompt is
  the user turn the assistant answered, with every turn before it as ``meta["history"]``
  (text turns ``[{"role", "content"}]``; a system turn's text is prepended to the first user
  turn, as for a single-turn prompt), and its target is that assistant turn. Summed over the
  examples with one token-mean per step, this is exactly "loss on every assistant token of
  the conversation, on nothing else". A chat row with no assistant turn gives no example
  (``missing_reply`` says why; ``mmrft sft`` skips and counts such rows, the cold start of
  ``mmrft train`` falls back to the rule below);
* a ``response`` field (``meta["response"]``, e.g. a full reasoning trace): one example;
* otherwise the cold start's target ``<answer>{answer}</answer>``, what the format reward wants.

``answer`` is never replaced: it stays the reference the sample's reward checks. Images (and
audio) stay with every example of a conversation; a model family shows them in the first user
turn (``history``) or, without history, in the prompt.
"""

from __future__ import annotations

import dataclasses

from mmrft.data.sample import Sample


def answer_target(sample: Sample) -> str:
    """The cold start's target: exactly what the format reward accepts."""
    return f"<answer>{sample.answer}</answer>"


def missing_reply(sample: Sample) -> str | None:
    """Why a chat sample has nothing to learn from (no assistant turn), else None."""
    turns = sample.meta.get("messages")
    if turns is not None and not any(t["role"] == "assistant" for t in turns):
        return (
            f"row {sample.id!r}: 'messages' has no assistant turn, so SFT has no target "
            "(add the reply as a final assistant turn, or a 'response' field)"
        )
    return None


def sft_examples(sample: Sample) -> list[tuple[Sample, str]]:
    """The ``(prompt sample, target text)`` pairs of ``sample`` (see the module note).

    >>> turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
    ...          {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    >>> s = Sample("c", "2+2?", "4", meta={"messages": turns, "response": "4"})
    >>> [(e.id, e.prompt, e.meta.get("history"), t) for e, t in sft_examples(s)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('c/0', 'Hi', None, 'Hello'),
     ('c/1', '2+2?', [{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}], '4')]
    """
    turns = sample.meta.get("messages")
    if turns is not None and any(t["role"] == "assistant" for t in turns):
        return _chat_examples(sample, turns)
    if "response" in sample.meta:
        return [(sample, sample.meta["response"])]
    return [(sample, answer_target(sample))]


def _chat_examples(sample: Sample, turns: list[dict[str, str]]) -> list[tuple[Sample, str]]:
    system = turns[0]["content"] if turns[0]["role"] == "system" else ""
    chat = [dict(t) for t in (turns[1:] if system else turns)]  # user, assistant, user, ...
    if system:  # the system text opens the first user turn, as in a single-turn prompt
        chat[0]["content"] = "\n\n".join(t for t in (system, chat[0]["content"]) if t)
    base_meta = {k: v for k, v in sample.meta.items() if k not in ("messages", "response")}
    replies = [j for j, t in enumerate(chat) if t["role"] == "assistant"]
    examples = []
    for n, j in enumerate(replies):
        meta = dict(base_meta)
        if j > 1:  # turns before the user turn this reply answers
            meta["history"] = chat[: j - 1]
        name = sample.id if len(replies) == 1 else f"{sample.id}/{n}"
        prompt = dataclasses.replace(sample, id=name, prompt=chat[j - 1]["content"], meta=meta)
        examples.append((prompt, chat[j]["content"]))
    return examples
