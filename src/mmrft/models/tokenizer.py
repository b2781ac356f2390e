"""A small byte-level BPE tokenizer that mmrft trains itself, so nothing is downloaded.

Why these settings: for ``model_type`` qwen2 / qwen2_vl / qwen2_5_vl, ``AutoTokenizer`` reloads a
saved tokenizer as ``Qwen2Tokenizer``, which re-installs an NFC normalizer and a regex Split +
ByteLevel(use_regex=False) pre-tokenizer. Training with exactly that pipeline keeps token ids
identical after ``save_pretrained`` / ``from_pretrained``. Training on a fixed corpus is
deterministic, so every machine builds the same vocabulary in well under a second.
"""

from __future__ import annotations

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

# Qwen2's pre-tokenization regex (a published fact of the Qwen2 tokenizer, needed for id stability).
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
    r"""\s*[\r\n]+|\s+(?!\S)|\s+"""
)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen-style chat template: images/videos become <|vision_start|><|image_pad|><|vision_end|>,
# which the processor expands to one pad per merged vision patch.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus() -> list[str]:
    """Deterministic training text: the phrases tasks, prompts and answers are made of."""
    words = [
        "how",
        "many",
        "shapes",
        "circles",
        "squares",
        "triangles",
        "objects",
        "are",
        "there",
        "in",
        "the",
        "image",
        "picture",
        "what",
        "is",
        "the",
        "answer",
        "count",
        "number",
        "red",
        "green",
        "blue",
        "yellow",
        "purple",
        "orange",
        "black",
        "white",
        "left",
        "right",
        "above",
        "below",
        "nearest",
        "between",
        "largest",
        "smallest",
        "total",
        "sum",
        "of",
        "digits",
        "value",
        "chart",
        "bar",
        "line",
        "pie",
        "scatter",
        "angle",
        "length",
        "area",
        "perimeter",
        "box",
        "click",
        "text",
        "read",
        "word",
        "which",
        "has",
        "more",
        "fewer",
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "is",
        "are",
        "question",
        "think",
        "answer",
        "step",
    ]
    lines = []
    for i, w in enumerate(words):
        lines.append(f"How many {w} are in the image? {w.capitalize()} {i}")
    for n in range(0, 200):
        lines.append(f"<think>I count {n} shapes.</think><answer>{n}</answer>")
        lines.append(f"<answer>{n}</answer> The answer is {n}. {n / 7:.3f}")
    lines.append("user assistant system You are a helpful assistant.")
    return lines * 3


def train_tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train the project's BPE tokenizer (deterministic) and wrap it for transformers.

    Returns a ``PreTrainedTokenizerFast`` with Qwen's special tokens, ``<|im_end|>`` as EOS,
    ``<|endoftext|>`` as pad and a Qwen-style chat template.
    """
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS[1:],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"  # generation needs prompts right-aligned
    return fast
