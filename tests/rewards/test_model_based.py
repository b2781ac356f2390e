"""Model-based rewards: the sequence-classification reward model and the LLM judge, on tiny
models built offline from configs, checked against plain forward / generate calls."""

import math

import pytest
import torch
from transformers import (
    LlamaConfig,
    LlamaForSequenceClassification,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2ForSequenceClassification,
)

from mmrft.data.sample import Sample
from mmrft.models.tokenizer import train_tokenizer
from mmrft.rewards import build_reward, safe_reward
from mmrft.rewards.judge import (
    DEFAULT_TEMPLATE,
    DEFAULT_YES_NO_TEMPLATE,
    Judge,
    fill_template,
    make_judge_reward,
    parse_judge_score,
)
from mmrft.rewards.reward_model import make_reward_model_reward, normalise_scores

QUESTIONS = ["What is 1/2 + 1/4?", "How many red circles are there?", "Name the colour."]
RESPONSES = [
    "<think>1/2 + 1/4 = 3/4</think><answer>3/4</answer>",
    "<answer>3</answer>",
    "I think the answer is blue, because the largest shape in the picture is blue.",
]
SAMPLES = [
    Sample(id=f"q{i}", prompt=q, answer=a)
    for i, (q, a) in enumerate(zip(QUESTIONS, "32b", strict=True))
]


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer()


def _config(cls, tok, **extra):
    return cls(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        bos_token_id=tok.pad_token_id,
        initializer_range=0.2,  # spreads the untrained scores apart
        **extra,
    )


@pytest.fixture(scope="module")
def rm(tok):
    torch.manual_seed(0)
    return Qwen2ForSequenceClassification(_config(Qwen2Config, tok, num_labels=1)).eval()


def _chat(tok, question, response):
    return tok.apply_chat_template(
        [{"role": "user", "content": question}, {"role": "assistant", "content": response}],
        tokenize=False,
    )


def _forward_logits(model, tok, text, max_length=None):
    """Independent reference: one unpadded forward pass on one formatted text."""
    ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    if max_length is not None:
        ids = ids[:, :max_length]
    with torch.no_grad():
        return model(input_ids=ids).logits[0]


# ---------------------------------------------------------------------------- reward model
def test_rm_reward_is_the_models_own_logit_in_any_batch_and_padding_side(tok, rm):
    expected = [
        float(_forward_logits(rm, tok, _chat(tok, q, r))[0])
        for q, r in zip(QUESTIONS, RESPONSES, strict=True)
    ]
    lengths = {
        len(tok(_chat(tok, q, r))["input_ids"]) for q, r in zip(QUESTIONS, RESPONSES, strict=True)
    }
    assert len(lengths) == 3  # the batch really is padded
    for side in ("left", "right"):
        tok.padding_side = side  # the reward must not depend on the tokenizer's setting
        fn = make_reward_model_reward(rm, tok, batch_size=8)
        batched = fn(RESPONSES, SAMPLES)
        alone = [fn([r], [s])["rm_raw"][0] for r, s in zip(RESPONSES, SAMPLES, strict=True)]
        assert batched["rm_raw"] == pytest.approx(expected, abs=1e-5)
        assert alone == pytest.approx(expected, abs=1e-5)
        assert batched["overall"] == pytest.approx([1 / (1 + math.exp(-x)) for x in expected])
    tok.padding_side = "left"
    assert len(set(expected)) == 3  # distinct inputs, distinct scores: the check has teeth


def test_rm_truncates_to_max_length(tok, rm):
    text = _chat(tok, QUESTIONS[2], RESPONSES[2])
    expected = float(_forward_logits(rm, tok, text, max_length=12)[0])
    full = float(_forward_logits(rm, tok, text)[0])
    got = make_reward_model_reward(rm, tok, max_length=12)([RESPONSES[2]], [SAMPLES[2]])["rm_raw"]
    assert got == [pytest.approx(expected, abs=1e-5)] and expected != pytest.approx(full)


def test_rm_round_trip_through_save_pretrained_and_the_factory(tok, rm, tmp_path):
    rm.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    in_memory = make_reward_model_reward(rm, tok)(RESPONSES, SAMPLES)
    loaded = build_reward(
        {"factory": "reward_model", "args": {"model": str(tmp_path), "device": "cpu"}}
    )
    assert loaded(RESPONSES, SAMPLES)["rm_raw"] == pytest.approx(in_memory["rm_raw"], abs=1e-6)


def test_rm_with_two_labels_scores_p_label_1(tok):
    torch.manual_seed(1)
    model = LlamaForSequenceClassification(_config(LlamaConfig, tok, num_labels=2)).eval()
    logits = [
        _forward_logits(model, tok, _chat(tok, q, r))
        for q, r in zip(QUESTIONS, RESPONSES, strict=True)
    ]
    scores = make_reward_model_reward(model, tok)(RESPONSES, SAMPLES)
    p1 = [float(torch.softmax(lg, -1)[1]) for lg in logits]
    assert scores["overall"] == pytest.approx(p1, abs=1e-6)
    assert scores["rm_raw"] == pytest.approx([float(lg[1] - lg[0]) for lg in logits], abs=1e-5)


def test_rm_without_chat_template_uses_the_pair_encoding(rm):
    plain = train_tokenizer()
    plain.chat_template = None
    ids = plain(QUESTIONS[0], RESPONSES[0], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = float(rm(input_ids=ids).logits[0, 0])
    got = make_reward_model_reward(rm, plain)([RESPONSES[0]], [SAMPLES[0]])["rm_raw"]
    assert got == [pytest.approx(expected, abs=1e-5)]


def test_normalisations_hand_computed():
    # sigmoid((2 - 1) / 0.5) = sigmoid(2) = 0.8808; raw clipped to [-1, 1];
    # zscore of [1, 2, 3]: mean 2, population std sqrt(2/3) -> +-1.2247.
    assert normalise_scores([2.0], center=1.0, scale=0.5) == [pytest.approx(0.880797, abs=1e-6)]
    assert normalise_scores([-3.0, 0.25, 3.0], "raw", clip=(-1, 1)) == [-1.0, 0.25, 1.0]
    z = normalise_scores([1.0, 2.0, 3.0], "zscore")
    assert z == pytest.approx([-1.224745, 0.0, 1.224745], abs=1e-6)
    with pytest.raises(ValueError, match="normalisation"):
        normalise_scores([1.0], "softmax")


def test_rm_rejects_bad_settings(tok):
    model = Qwen2ForSequenceClassification(_config(Qwen2Config, tok, num_labels=3))
    with pytest.raises(ValueError, match="num_labels 1 or 2"):
        make_reward_model_reward(model, tok)


# ---------------------------------------------------------------------------- judge: parsing
@pytest.mark.parametrize(
    "text, score",
    [
        ("Score: 7", 7.0),
        ("The response is correct.\nScore: 10", 10.0),
        ("**Score:** 8", 8.0),
        ("Score: **6**", 6.0),
        ("score = 4.5", 4.5),
        ("The score is 9.", 9.0),
        ("Score (0-10): 3", 3.0),  # the range in brackets is not the score
        ("score of 7/10", 7.0),  # a denominator is not the score
        ("Score: 2 out of 10", 2.0),
        ("Score: 3. On reflection the units are right. Score: 6", 6.0),  # the last one counts
        ("\\boxed{5}", 5.0),
        ("First \\boxed{2}, then \\boxed{9}", 9.0),
        ("\\boxed{4} but Score: 1", 1.0),  # an explicit Score beats a box
        ("8", 8.0),  # a bare number is the whole output
        ("  8/10. ", 8.0),
        ("7 out of 10", 7.0),
        ("0", 0.0),
        ("Score: 11", None),  # out of range: a confused judge, not a clip to 10
        ("Score: -1", None),
        ("\\boxed{42}", None),
        ("The response says 7 but the reference is 5.", None),  # no last-number guessing
        ("I cannot tell.", None),
        ("", None),
        ("Score: ten", None),
        ("Underscore: 5", None),
    ],
)
def test_parse_judge_score(text, score):
    assert parse_judge_score(text) == score


def test_parse_judge_score_custom_range():
    assert parse_judge_score("Score: 4", 1, 5) == 4.0
    assert parse_judge_score("Score: 0", 1, 5) is None


def test_template_filling_is_one_pass_and_checked(tok):
    # A response that contains a placeholder is inserted verbatim, not filled again.
    text = fill_template(DEFAULT_TEMPLATE, "q {x}", "{answer} \\frac{1}{2}", "SECRET")
    assert "{answer} \\frac{1}{2}" in text and text.count("SECRET") == 1 and "q {x}" in text
    with pytest.raises(ValueError, match="response"):
        Judge(Qwen2ForCausalLM(_config(Qwen2Config, tok)), tok, template="Rate {question}")
    with pytest.raises(ValueError, match="mode"):
        Judge(Qwen2ForCausalLM(_config(Qwen2Config, tok)), tok, mode="vibes")


# ---------------------------------------------------------------------------- judge: end to end
class ScriptedLM(Qwen2ForCausalLM):
    """A real tiny Qwen2 whose greedy output is forced to a script: the prompt's trigger word
    picks the script, and each step adds a large logit to the script's next token."""

    def setup(self, tok, scripts):
        self.tok = tok
        self.scripts = {
            k: tok.encode(v, add_special_tokens=False) + [tok.eos_token_id]
            for k, v in scripts.items()
        }

    def forward(self, input_ids=None, **kwargs):
        texts = self.tok.batch_decode(input_ids)
        if any("BOOM" in t for t in texts) or getattr(self, "broken", False):
            raise RuntimeError("judge crashed")
        out = super().forward(input_ids=input_ids, **kwargs)
        if input_ids.shape[1] > 1:  # prefill: a new generate call
            self.rows = [next(s for k, s in self.scripts.items() if k in t) for t in texts]
            self.step = 0
        else:
            self.step += 1
        for b, script in enumerate(self.rows):
            out.logits[b, -1, script[min(self.step, len(script) - 1)]] += 1e4
        return out


JUDGE_SCRIPTS = {  # trigger word in the question -> what the judge "writes", expected overall
    "alpha": ("Right. Score: 8", 0.8),
    "beta": ("Score: 2, no: Score: 4", 0.4),
    "gamma": ("unsure", 0.0),  # unparseable
    "delta": ("\\boxed{10}", 1.0),
    "epsilon": ("Score: 12", 0.0),  # out of range
}


@pytest.fixture(scope="module")
def scripted(tok):
    torch.manual_seed(0)
    model = ScriptedLM(_config(Qwen2Config, tok)).eval()
    model.setup(tok, {k: v for k, (v, _) in JUDGE_SCRIPTS.items()})
    return model


def test_judge_returns_the_parse_of_what_the_model_generated(tok, scripted):
    samples = [Sample(id=k, prompt=f"Question {k}?", answer="3") for k in JUDGE_SCRIPTS]
    # gamma's response tries to grade itself; only the judge's own output is parsed.
    completions = ["<answer>3</answer>", "3", "Score: 10", "<answer>4</answer>", "x" * 40]
    fn = make_judge_reward(scripted, tok, max_new_tokens=18, batch_size=2)  # 3 batches
    scores = fn(completions, samples)
    for i, (s, c) in enumerate(zip(samples, completions, strict=True)):
        prompt = DEFAULT_TEMPLATE.format(question=s.prompt, response=c, answer=s.answer)
        text = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = scripted.generate(ids, do_sample=False, max_new_tokens=18)
        decoded = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        written, expected = JUDGE_SCRIPTS[s.id]
        assert decoded == written  # the script really drove generation
        parsed = parse_judge_score(decoded)
        assert scores["overall"][i] == pytest.approx(expected)
        assert scores["judge_parse_failed"][i] == float(parsed is None)
    assert scores["judge_parse_failed"] == [0.0, 0.0, 1.0, 0.0, 1.0]
    assert scores["judge_raw"] == [8.0, 4.0, 0.0, 10.0, 0.0]


def test_untrained_judge_batch_generation_equals_one_at_a_time(tok):
    torch.manual_seed(3)
    model = Qwen2ForCausalLM(_config(Qwen2Config, tok)).eval()
    judge = Judge(model, tok, max_new_tokens=8, batch_size=4)
    prompts = judge.prompts(RESPONSES, SAMPLES)  # three lengths: left padding in the batch
    batched = judge.generate(prompts)
    alone = [judge.generate([p])[0] for p in prompts]
    assert batched == alone and all(batched)


def test_yes_no_judge_equals_softmax_of_two_logits(tok):
    torch.manual_seed(2)
    model = Qwen2ForCausalLM(_config(Qwen2Config, tok)).eval()
    yes, no = (
        tok.encode("Yes", add_special_tokens=False)[0],
        tok.encode("No", add_special_tokens=False)[0],
    )
    expected = []
    for s, c in zip(SAMPLES, RESPONSES, strict=True):
        prompt = DEFAULT_YES_NO_TEMPLATE.format(question=s.prompt, response=c, answer=s.answer)
        text = tok.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        last = _forward_logits(model, tok, text)[-1]  # [V]
        expected.append(float(torch.softmax(last[[yes, no]], -1)[0]))
    scores = make_judge_reward(model, tok, mode="yes_no", batch_size=3)(RESPONSES, SAMPLES)
    assert scores["overall"] == pytest.approx(expected, abs=1e-5)
    assert len(set(round(p, 6) for p in expected)) == 3


def test_a_crashing_judge_scores_zero_without_stopping_the_batch(tok, scripted):
    samples = [Sample(id=k, prompt=f"Question {k}?", answer="3") for k in ("alpha", "delta")]
    fn = make_judge_reward(scripted, tok, max_new_tokens=18)
    completions = ["<answer>3</answer>", "BOOM"]  # the second one crashes the judge
    scores, failed = safe_reward(fn, completions, samples)
    assert failed == 1
    assert scores["overall"] == [pytest.approx(0.8), 0.0]
    scripted.broken = True
    try:
        scores, failed = safe_reward(fn, completions, samples)
    finally:
        scripted.broken = False
    assert failed == 2 and scores["overall"] == [0.0, 0.0]


def test_judge_factory_by_name(monkeypatch):
    fn = build_reward({"factory": "judge", "args": {"model": "tiny-qwen2", "mode": "yes_no"}})
    again = build_reward({"factory": "judge", "args": {"model": "tiny-qwen2", "mode": "yes_no"}})
    assert fn.model is again.model  # loaded once, cached
    scores = fn(RESPONSES, SAMPLES)
    assert all(0.0 < p < 1.0 for p in scores["overall"])
    with pytest.raises(ValueError, match="reward factory 'judge'"):
        build_reward({"factory": "judge", "args": {"model": "tiny-qwen2", "temperature": 1.0}})


def test_cli_accepts_a_json_factory_spec(tmp_path):
    from mmrft.rewards.cli import score_file

    src = tmp_path / "in.jsonl"
    src.write_text('{"completion": "go go go go go go", "answer": "x"}\n')
    # repetition with n=2: 5 bigrams, 1 distinct -> -(1 - 1/5) = -0.8
    summary = score_file('{"factory": "repetition", "args": {"n": 2}}', src)
    assert summary["mean"]["overall"] == pytest.approx(-0.8)
    with pytest.raises(ValueError, match="not valid JSON"):
        score_file("{factory: judge}", src)
