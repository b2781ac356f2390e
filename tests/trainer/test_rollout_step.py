"""Dynamic sampling, ReMax's greedy baseline, overlong filtering and the adaptive KL in the loop."""

from __future__ import annotations

import json

import torch
from learn_utils import run_digit_task

from mmrft.build import make_objective
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer.objective import compute_advantages
from mmrft.trainer.rollout_step import collect_rollouts, constant_groups


def _text_setup():
    model, tok = load_policy("tiny-qwen2", seed=0)
    family = family_for(model.config.model_type, tok)
    return model, HFSampler(model, family)


def test_constant_groups():
    # groups of 3: [1,1,1] flat, [0,1,0] informative, [0.5,0.5,0.5] flat
    assert constant_groups([1, 1, 1, 0, 1, 0, 0.5, 0.5, 0.5], 3) == [True, False, True]


def test_dynamic_sampling_keeps_only_informative_groups():
    _, sampler = _text_setup()
    # even-numbered prompts always score 1 (flat group); odd ones score by completion length
    stream = ProblemStream(lambda i, lv: Sample(id=str(i), prompt=f"p {i}", answer=str(i % 2)))

    def reward(completions, samples):
        return {
            "overall": [
                1.0 if s.answer == "0" else len(c) / 10
                for c, s in zip(completions, samples, strict=True)
            ]
        }

    torch.manual_seed(0)
    ro = collect_rollouts(
        sampler, stream, reward, SamplingParams(n=4, max_new_tokens=6), 4, dynamic=True, max_tries=5
    )
    assert ro.metrics["sampling/kept_groups"] == 4
    assert all(s.answer == "1" for s in ro.rows)  # every flat (even) group was dropped
    assert len(ro.batch.texts) == 16 and ro.batch.sample_index == [i // 4 for i in range(16)]
    assert ro.metrics["sampling/dropped_groups"] >= 2 and ro.metrics["sampling/tries"] <= 5
    assert stream.position > 4  # more prompts were drawn to fill the batch


def test_oversampling_fills_the_step_in_one_round():
    """Half the prompts (the even ones) give flat groups. Drawing exactly the missing prompts
    takes several rounds; drawing twice as many fills the 4 groups in one, keeps exactly 4 (the
    surplus is dropped) and draws 8 prompts."""
    _, sampler = _text_setup()

    def reward(completions, samples):  # even prompts: flat groups; odd: 0/1 within the group
        return {
            "overall": [1.0 if s.answer == "0" else float(j % 2) for j, s in enumerate(samples)]
        }

    tries = {}
    for factor in (1.0, 2.0):
        stream = ProblemStream(lambda i, lv: Sample(id=str(i), prompt=f"p {i}", answer=str(i % 2)))
        ro = collect_rollouts(
            sampler, stream, reward, SamplingParams(n=2, max_new_tokens=3, seed=0), 4,
            dynamic=True, max_tries=5, oversample=factor,
        )  # fmt: skip
        assert ro.metrics["sampling/kept_groups"] == 4 and len(ro.batch.texts) == 8
        assert [s.id for s in ro.rows[::2]] == ["1", "3", "5", "7"]  # in stream order
        tries[factor] = (ro.metrics["sampling/tries"], stream.position)
    assert tries[1.0] == (4, 8)  # draws of 4, 2, 1, 1 prompts
    assert tries[2.0] == (1, 8)


def test_remax_baseline_is_greedy_reward():
    _, sampler = _text_setup()
    stream = ProblemStream(lambda i, lv: Sample(id=str(i), prompt=f"p {i}", answer=""))

    def reward(completions, samples):
        return {"overall": [len(c) / 10 for c in completions]}

    ro = collect_rollouts(
        sampler,
        stream,
        reward,
        SamplingParams(n=3, max_new_tokens=5, seed=0),
        2,
        greedy_baseline=True,
    )
    greedy = sampler.generate(ro.rows[::3], SamplingParams(n=1, temperature=0.0, max_new_tokens=5))
    expected = torch.tensor([len(t) / 10 for t in greedy.texts]).repeat_interleave(3)
    assert torch.allclose(ro.baseline, expected)


def test_kl_in_reward_shapes_advantages():
    from mmrft.config import AlgorithmConfig

    cfg = AlgorithmConfig(adv_estimator="dr_grpo", kl_in_reward=True, kl_coef=0.5)
    rewards = torch.tensor([1.0, 1.0])
    mask = torch.ones(2, 2)
    logp = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]])
    ref = torch.tensor([[-1.0, -1.0], [-2.0, -2.0]])  # row 1 drifted: sum k1 = 2
    adv, returns = compute_advantages(
        make_objective(cfg), rewards, 2, kl_coef=0.5, logp=logp, ref_logp=ref, mask=mask
    )
    assert returns is None  # sequence estimators have no value targets
    # shaped rewards [1, 1 - 0.5 * 2] = [1, 0]; dr_grpo subtracts the group mean 0.5
    assert torch.allclose(adv, torch.tensor([0.5, -0.5]))


def test_overlong_filter_removes_truncated_rows_from_the_loss(tmp_path):
    """With 2 new tokens nothing reaches EOS: everything is filtered, so nothing may change."""
    before, _ = load_policy("tiny-qwen2", seed=0)
    run_digit_task(tmp_path, "algorithm.overlong_filter=true", steps=1)
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert row["response_length/truncated"] == 1.0
    assert row["actor/grad_norm"] == 0.0


def test_adaptive_kl_lowers_coefficient_when_kl_is_below_target(tmp_path):
    run_digit_task(
        tmp_path,
        "algorithm.kl_coef=0.1",
        "algorithm.kl_target=1.0",
        "algorithm.kl_horizon=64",
        steps=2,
    )
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    # step 1: KL = 0 -> error clipped to -0.2 -> beta *= 1 - 0.2 * 64 / 64 = 0.8
    assert abs(rows[0]["actor/kl_coef"] - 0.08) < 1e-9


def test_dynamic_sampling_keeps_ranks_in_step(monkeypatch):
    """Under torchrun each round draws what the neediest rank lacks (the same count on every
    rank, so their shared stream stays aligned), a rank keeps at most its quota, and every rank
    ends with the fewest groups any rank kept. The other rank is simulated: its answers to the
    two agreements (shortfall per round, then groups kept) are scripted."""
    from mmrft.trainer import rollout_step

    _, sampler = _text_setup()
    stream = ProblemStream(lambda i, lv: Sample(id=str(i), prompt=f"p {i}", answer=str(i % 2)))

    def reward(completions, samples):  # even prompts: flat groups; odd: 0/1 within the group
        return {
            "overall": [1.0 if s.answer == "0" else float(j % 2) for j, s in enumerate(samples)]
        }

    peer = iter([2, 2, 1, 0, 1])  # shortfalls 2, 2, 1, 0 (done); then it kept only 1 group
    calls: list[object] = []

    def gather(mine):
        calls.append(mine)
        return [mine, next(peer)]

    monkeypatch.setattr(rollout_step, "all_gather_objects", gather)
    ro = collect_rollouts(
        sampler, stream, reward, SamplingParams(n=4, max_new_tokens=3, seed=0), 2,
        dynamic=True, max_tries=5,
    )  # fmt: skip
    # round 1 draws 2 (keeps p1), round 2 draws 2 for the peer though this rank lacks 1 (keeps
    # p3), round 3 draws 1 for the peer alone (p4, flat); round 4: nobody lacks any
    assert calls == [2, 1, 0, 0, 2]
    assert stream.position == 5
    assert ro.metrics["sampling/tries"] == 3
    assert [s.id for s in ro.rows] == ["1"] * 4  # trimmed to the peer's single group
    assert len(ro.batch.texts) == 4 and ro.metrics["sampling/kept_groups"] == 1
