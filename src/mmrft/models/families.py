"""Model-family adapters: what differs between VLM families, behind one small interface.

An adapter turns samples into chat messages and model inputs, and names the special token ids a
policy must never sample (vision placeholders: sampling ``<|image_pad|>`` at temperature 1 makes
the next forward pass fail with "Image features and image tokens do not match"). Adapters are
looked up by the checkpoint's ``config.model_type``; users register their own family.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mmrft.data.sample import Sample
from mmrft.registry import Registry

FAMILIES: Registry[type[ModelFamily]] = Registry("model family")  # noqa: F821 (defined below)


@dataclass
class ModelFamily:
    """Adapter for chat-template VLMs whose processor takes ``text=`` and ``images=``.

    ``processor`` is the family's processor (or a plain tokenizer for text-only LMs).
    """

    processor: object
    system_prompt: str | None = None

    multimodal: bool = True
    # Tokens that only the processor may place (vision placeholders).
    never_sample_tokens: tuple[str, ...] = (
        "<|image_pad|>",
        "<|video_pad|>",
        "<|vision_start|>",
        "<|vision_end|>",
    )

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    def messages(self, sample: Sample) -> list[dict]:
        content: list[dict] = [{"type": "image"} for _ in sample.images] if self.multimodal else []
        content.append({"type": "text", "text": sample.prompt})
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return msgs + [{"role": "user", "content": content}]

    def prompt_text(self, sample: Sample) -> str:
        return self.processor.apply_chat_template(
            self.messages(sample), add_generation_prompt=True, tokenize=False
        )

    def encode(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        """Left-padded prompt inputs for a batch: input_ids [B, P], attention_mask [B, P], + vision keys."""
        texts = [self.prompt_text(s) for s in samples]
        tok = self.tokenizer
        tok.padding_side = "left"
        if not self.multimodal:
            return dict(tok(texts, return_tensors="pt", padding=True, add_special_tokens=False))
        images = [img for s in samples for img in s.images] or None
        return dict(self.processor(text=texts, images=images, return_tensors="pt", padding=True))

    def share_vision(
        self, model: torch.nn.Module, prompt_inputs: dict[str, torch.Tensor], source: list[int]
    ) -> dict[str, torch.Tensor]:
        """Inputs where rows with identical images reuse one vision-encoder pass.

        ``source[r]`` is the first row whose images equal row r's (a GRPO group repeats one
        prompt G times). The default adapter has no way to inject encoder outputs, so it returns
        the inputs unchanged; families that can, override this.
        """
        return prompt_inputs

    def suppressed_token_ids(self) -> list[int]:
        vocab = self.tokenizer.get_vocab()
        return sorted(vocab[t] for t in self.never_sample_tokens if t in vocab)


@FAMILIES.register("qwen2_5_vl")
@FAMILIES.register("qwen2_vl")
@dataclass
class QwenVLFamily(ModelFamily):
    """Qwen2-VL / Qwen2.5-VL: mRoPE positions need ``mm_token_type_ids`` from the processor."""

    def share_vision(self, model, prompt_inputs, source):
        """Encode each distinct row's images once and hand the features in as ``mm_encoder_outputs``.

        Exact: the language model sees the same features, and autograd sums the G duplicates'
        gradients into the one shared encoder pass. Saves (G-1)/G of the vision compute.
        """
        grid = prompt_inputs.get("image_grid_thw")
        if grid is None or len(set(source)) == len(source) or grid.shape[0] != len(source):
            return prompt_inputs  # nothing shared, or not one image per row
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        from mmrft.rollout.base import select_prompt_rows

        unique = sorted(set(source))
        sub = select_prompt_rows(prompt_inputs, unique, [1] * len(source))
        feats = model.model.get_image_features(
            sub["pixel_values"], sub["image_grid_thw"], return_dict=True
        )
        pos = {row: i for i, row in enumerate(unique)}
        pooled = [feats.pooler_output[pos[src]] for src in source]  # one [tokens, H] per row
        inputs = {k: v for k, v in prompt_inputs.items() if k != "pixel_values"}
        inputs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=pooled)}
        return inputs


@FAMILIES.register("qwen2")
@FAMILIES.register("qwen3")
@FAMILIES.register("llama")
@dataclass
class TextFamily(ModelFamily):
    """Text-only causal LMs: images in a sample are ignored; the prompt is the text alone."""

    multimodal: bool = False


def family_for(model_type: str, processor: object, system_prompt: str | None = None) -> ModelFamily:
    return FAMILIES.get(model_type)(processor=processor, system_prompt=system_prompt)
