"""The eval runner end to end: a scripted sampler with hand-computed numbers, and a tiny model."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
from PIL import Image

from mmrft.data.sample import Sample
from mmrft.eval.runner import run_eval
from mmrft.eval.scoring import BenchmarkScoring, RewardScoring
from mmrft.rollout import HFSampler, SamplingParams

INT = {"question_type": "free_form", "answer_type": "integer", "precision": None, "choices": None}


class ScriptedSampler:
    """The sampler interface with fixed completions: ``texts[sample.id]`` holds the k texts."""

    def __init__(self, texts: dict[str, list[str]], fail: set[str] = frozenset()) -> None:
        self.texts, self.fail, self.calls = texts, fail, []

    def generate(self, samples, params):
        self.calls.append([s.id for s in samples])
        if any(s.id in self.fail for s in samples):
            raise RuntimeError("out of memory")
        rows = [(i, t) for i, s in enumerate(samples) for t in self.texts[s.id][: params.n]]
        assert all(len(self.texts[s.id]) >= params.n for s in samples)
        return SimpleNamespace(texts=[t for _, t in rows], sample_index=[i for i, _ in rows])


def mathvista_sample(sid: str, answer: str, category: str, **extra) -> Sample:
    record = {**INT, "answer": answer}
    image = Image.new("RGB", (8, 8), (200, 30, 30))
    meta = {"record": record, "category": category, **extra}
    return Sample(id=sid, prompt=f"question {sid}", answer=answer, images=[image], meta=meta)


@pytest.fixture
def scripted(tmp_path):
    samples = [
        mathvista_sample("a", "3", "algebra"),
        mathvista_sample("b", "10", "geometry"),
        Sample(id="c", prompt="no record", answer="1", meta={"category": "geometry"}),
        mathvista_sample("d", "4", "algebra"),
    ]
    texts = {
        "a": ["3.7", "3", "5", "5"],
        "b": ["10", "10", "12", "10"],
        "c": ["1", "1", "1", "1"],
        "d": ["4", "4", "4", "4"],
    }
    sampler = ScriptedSampler(texts, fail={"d"})
    report = run_eval(
        sampler,
        samples,
        BenchmarkScoring("mathvista"),
        k=4,
        temperature=1.0,
        batch_size=2,
        skipped=[("row 7", "missing field 'answer'")],
        progress=False,
        out_dir=tmp_path / "out",
    )
    return report, sampler, tmp_path / "out"


def test_scripted_numbers_official_vs_strict(scripted):
    report, sampler, _ = scripted
    # batches of 2 problems; the batch holding "d" fails and is retried problem by problem
    assert sampler.calls == [["a", "b"], ["c", "d"], ["c"], ["d"]]
    off, strict = report.overall["official"], report.overall["strict"]
    # Problem a (gold 3): official truncates 3.7 -> "3": scores [1, 1, 0, 0]; strict [0, 1, 0, 0].
    #   official maj: "3" x2 vs "5" x2 tie -> "3" came first -> 1; strict: "5" x2 wins -> 0.
    #   pass@2 official c=2: 1 - C(2,2)/C(4,2) = 5/6; strict c=1: 1 - C(3,2)/C(4,2) = 1/2.
    # Problem b (gold 10): [1, 1, 0, 1] in both modes; pass@2 c=3 -> 1; maj "10" -> 1.
    # Problem c: no meta["record"] -> scoring failure, 0 in both modes.
    # Problem d: generation failed -> 4 empty completions, 0.
    assert off["mean@4"] == pytest.approx((0.5 + 0.75) / 4)
    assert strict["mean@4"] == pytest.approx((0.25 + 0.75) / 4)
    assert off["pass@1"] == pytest.approx((0.5 + 0.75) / 4)
    assert off["pass@2"] == pytest.approx((5 / 6 + 1) / 4)
    assert strict["pass@2"] == pytest.approx((1 / 2 + 1) / 4)
    assert off["pass@4"] == strict["pass@4"] == pytest.approx(2 / 4)
    assert off["maj@4"] == pytest.approx(2 / 4)
    assert strict["maj@4"] == pytest.approx(1 / 4)
    assert off["scorer"]["mean"] == pytest.approx(off["mean@4"])  # averaged over the 4 draws
    # per category: algebra = {a, d}, geometry = {b, c}
    alg, geo = report.categories["algebra"], report.categories["geometry"]
    assert alg["n"] == geo["n"] == 2
    assert alg["official"]["mean@4"] == pytest.approx(0.5 / 2)
    assert alg["strict"]["maj@4"] == 0.0 and alg["official"]["maj@4"] == pytest.approx(0.5)
    assert geo["official"]["mean@4"] == geo["strict"]["mean@4"] == pytest.approx(0.75 / 2)
    assert report.failures == {"generation": 1, "scoring": {"official": 4, "strict": 4}}
    assert report.skipped == [("row 7", "missing field 'answer'")]


def test_scripted_files_agree_with_numbers(scripted):
    report, _, out = scripted
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 * 4
    assert [r["sample_index"] for r in rows[:4]] == [0, 1, 2, 3]
    a0 = rows[0]
    assert (a0["id"], a0["category"], a0["prediction"], a0["answer"]) == (
        "a",
        "algebra",
        "3.7",
        "3",
    )
    assert a0["official"]["score"] == 1.0 and a0["strict"]["score"] == 0.0
    assert rows[8]["official"]["flags"] == ["scoring_failed"]  # problem c
    assert rows[12]["official"]["flags"] == ["generation_failed"]  # problem d
    results = json.loads((out / "results.json").read_text())
    for mode in ("official", "strict"):  # mean@4 recomputed from the per-completion lines
        mean = sum(r[mode]["score"] for r in rows) / len(rows)
        assert results["overall"][mode]["mean@4"] == pytest.approx(mean)
    assert results["skipped"]["count"] == 1 and results["n_completions"] == 16
    # the example cards start with the problem where the modes disagree, and carry its image
    assert results["examples"][0]["id"] == "a"
    assert (out / results["examples"][0]["image"]).is_file()
    page = (out / "report.html").read_text()
    for text in ("strict &minus; official", "algebra", "geometry", "data:image/png;base64"):
        assert text in page
    assert "Could not render" not in page


def pick_reward(completions, samples):
    """A test reward with partial credit: accuracy 1 for an even length, 0.5 for a multiple of 3."""
    acc = [1.0 if len(c) % 2 == 0 else 0.5 if len(c) % 3 == 0 else 0.0 for c in completions]
    return {"overall": acc, "accuracy": acc}


def test_tiny_model_files_and_recomputed_metrics(tiny_vlm, vlm_family, count_samples, tmp_path):
    model, _ = tiny_vlm
    samples = count_samples[:2]
    report = run_eval(
        HFSampler(model, vlm_family),
        samples,
        RewardScoring(pick_reward),
        k=3,
        temperature=1.0,
        max_new_tokens=4,
        batch_size=1,
        seed=3,
        progress=False,
        out_dir=tmp_path,
    )
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [(r["id"], r["sample_index"]) for r in rows] == [
        (s.id, j) for s in samples for j in range(3)
    ]
    # the recorded scores are the reward of the recorded text
    recomputed = pick_reward([r["prediction"] for r in rows], samples)["accuracy"]
    assert [r["reward"]["score"] for r in rows] == recomputed
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["overall"] == json.loads(json.dumps(report.overall))
    overall = results["overall"]["reward"]
    scores = [[r["reward"]["score"] for r in rows[3 * p : 3 * p + 3]] for p in range(2)]
    assert overall["mean@3"] == pytest.approx(sum(map(sum, scores)) / 6)
    # pass@2 by the binomial definition, with full credit (1.0) as correct
    c = [sum(s == 1.0 for s in ps) for ps in scores]
    expected = sum(1 - math.comb(3 - ci, 2) / math.comb(3, 2) for ci in c) / 2
    assert overall["pass@2"] == pytest.approx(expected)
    assert results["completion_tokens"] > 0 and (tmp_path / "report.html").is_file()


def test_greedy_k1_is_the_engines_greedy_output(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    sampler = HFSampler(model, vlm_family)
    samples = count_samples[:2]
    report = run_eval(
        sampler, samples, RewardScoring(pick_reward), max_new_tokens=4, progress=False
    )  # defaults: k=1 at temperature 0
    direct = sampler.generate(samples, SamplingParams(n=1, temperature=0.0, max_new_tokens=4))
    assert [r["prediction"] for r in report.predictions] == direct.texts
    assert set(report.overall["reward"]) >= {"mean@1", "pass@1", "maj@1"}


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown mode"):
        run_eval(ScriptedSampler({}), [], RewardScoring(pick_reward), modes=["official"])
