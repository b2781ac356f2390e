"""Tiny Qwen2-Audio builder: the offline stand-in for ``Qwen/Qwen2-Audio-7B-Instruct``.

Same recipe as ``tiny``: transformers' ``Qwen2AudioForConditionalGeneration`` from a
small config, the project tokenizer plus the audio placeholders, and a ``Qwen2AudioProcessor``
built offline around a ``WhisperFeatureExtractor``. What the builder has to get right:

* The audio encoder only takes mel features exactly ``2 * max_source_positions`` frames long
  (it adds a fixed table of positions), and the processor always pads each clip to the
  extractor's ``chunk_length``: the two must agree. Real checkpoints: 30 s -> 3000 frames ->
  1500 positions; here ``chunk_seconds`` (default 2 s) -> 200 frames -> 100 positions.
* ``num_mel_bins`` of the encoder is the extractor's ``feature_size`` (real: 128; here 32 --
  nothing in the model needs 128).
* A clip of T samples is ceil(T / 160) mel frames (10 ms hop); the encoder's stride-2 conv and
  stride-2 average pool leave ``((frames - 1) // 2 + 1 - 2) // 2 + 1`` audio tokens, so one
  second is 100 frames -> 50 -> 25 ``<|AUDIO|>`` tokens.
"""

from __future__ import annotations

from transformers import (
    Qwen2AudioConfig,
    Qwen2AudioForConditionalGeneration,
    Qwen2AudioProcessor,
    WhisperFeatureExtractor,
)

from mmrft.data.audio import SAMPLING_RATE
from mmrft.models.tiny import TINY_MODELS, TinySizes, lm_config, seeded_model, tokenizer_with

AUDIO_TOKENS = ["<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]
HOP_LENGTH = 160  # 10 ms at 16 kHz, Whisper's hop

# Qwen2-Audio-7B-Instruct's ChatML template: a default system turn, then each audio part as
# "Audio k: <|audio_bos|><|AUDIO|><|audio_eos|>\n" (k counted over the conversation); the
# processor expands the one <|AUDIO|> into one token per encoder output frame.
QWEN2_AUDIO_CHAT_TEMPLATE = (
    "{% set audio_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'audio' or 'audio' in content or 'audio_url' in content %}"
    "{% set audio_count.value = audio_count.value + 1 %}"
    "Audio {{ audio_count.value }}: <|audio_bos|><|AUDIO|><|audio_eos|>\n"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@TINY_MODELS.register("tiny-qwen2-audio")
def build_tiny_qwen2_audio(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    audio_hidden_size: int = 64,
    audio_layers: int = 2,
    num_mel_bins: int = 32,
    chunk_seconds: int = 2,
) -> tuple[Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor]:
    """Qwen2-Audio: Whisper-style encoder (2 layers) + linear projector + Qwen2 (2 layers).

    Clips up to ``chunk_seconds`` long; a 1 s clip is 25 ``<|AUDIO|>`` tokens (module note).
    """
    tokenizer = tokenizer_with(
        AUDIO_TOKENS, eos="<|im_end|>", chat_template=QWEN2_AUDIO_CHAT_TEMPLATE
    )
    frames = chunk_seconds * SAMPLING_RATE // HOP_LENGTH  # mel frames of one padded clip
    config = Qwen2AudioConfig(
        text_config={
            "model_type": "qwen2",
            **lm_config(tokenizer, TinySizes(hidden_size, num_layers, num_heads)),
        },
        audio_config={
            "model_type": "qwen2_audio_encoder",
            "num_mel_bins": num_mel_bins,
            "encoder_layers": audio_layers,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 2 * audio_hidden_size,
            "d_model": audio_hidden_size,
            "max_source_positions": frames // 2,  # after conv2's stride 2
        },
        audio_token_index=tokenizer.convert_tokens_to_ids("<|AUDIO|>"),
    )
    model = seeded_model(seed, Qwen2AudioForConditionalGeneration, config, tokenizer)
    feature_extractor = WhisperFeatureExtractor(
        feature_size=num_mel_bins,
        sampling_rate=SAMPLING_RATE,
        hop_length=HOP_LENGTH,
        chunk_length=chunk_seconds,
        n_fft=400,
        return_attention_mask=True,
    )
    processor = Qwen2AudioProcessor(
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        chat_template=tokenizer.chat_template,
    )
    return model, processor
