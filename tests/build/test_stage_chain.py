"""run.stages: stages run in order, each from the model the one before exported; a rerun resumes."""

from __future__ import annotations

import json

import pytest

import mmrft.build.chain as chain
from mmrft.build.components import make_data, make_reward, make_sampler
from mmrft.config import ConfigError, load_config
from mmrft.eval.harness import evaluate
from mmrft.models.loading import load_policy

SMALL = [
    "sft.steps=2",
    "sft.batch_size=2",
    "rl.steps=1",
    "rl.eval_every=1",
    "data.eval_size=4",
    "eval.n_samples=2",
    "rollout.prompts_per_step=2",
    "rollout.group_size=2",
    "run.tensorboard=false",
]


def test_sft_grpo_eval_chain_passes_the_model_on_and_resumes(tmp_path, monkeypatch):
    cfg = load_config(None, [f"run.out_dir={tmp_path}", "run.stages=[sft,grpo,eval]", *SMALL])
    result = chain.run_stages(cfg)

    sft, grpo, ev = tmp_path / "1-sft", tmp_path / "2-grpo", tmp_path / "3-eval"
    assert all((d / "COMPLETE").exists() for d in (sft, grpo, ev))
    assert not (grpo / "sft").exists()  # in a chain the sft stage is the cold start
    rows = result["stages"]
    assert [r["stage"] for r in rows] == ["sft", "grpo", "eval"]
    assert [r["model_in"] for r in rows] == [
        "tiny-qwen2.5-vl",
        str(sft / "model"),
        str(grpo / "model"),
    ]
    assert result["final_model"] == str(grpo / "model")  # eval exports nothing: passed on
    # the GRPO stage starts where SFT ended: its step-0 evaluation is SFT's "after"
    assert rows[1]["accuracy_before"] == pytest.approx(rows[0]["accuracy_after"])
    assert json.loads((tmp_path / "stages.json").read_text()) == result
    page = (tmp_path / "report.html").read_text()
    assert "2-grpo/report.html" in page and "data:image/png;base64," in page
    assert all((d / "report.html").exists() for d in (sft, grpo, ev))  # the links resolve

    # The eval stage's number is the harness's on the exported model, recomputed here.
    model, processor = load_policy(str(grpo / "model"))
    from mmrft.build.components import make_family

    family = make_family(cfg, model.config.model_type, processor)
    samples = make_data(cfg, family)[2]
    direct = evaluate(
        make_sampler(cfg.rollout, model.eval(), family),
        samples,
        make_reward(cfg),
        n_samples=2,
        max_new_tokens=cfg.eval.max_new_tokens,
        seed=cfg.run.seed,
    )
    assert rows[2]["greedy_accuracy_after"] == pytest.approx(direct.greedy_accuracy)
    assert rows[2]["accuracy_after"] == pytest.approx(direct.accuracy)

    # Rerun: finished stages are not run again; a stage without COMPLETE is.
    (ev / "COMPLETE").unlink()
    monkeypatch.setattr(chain, "run", lambda cfg: pytest.fail("grpo ran twice"))
    monkeypatch.setattr("mmrft.build.sft.sft_stage", lambda *a, **k: pytest.fail("sft ran twice"))
    again = chain.run_stages(cfg)
    assert again["stages"][2]["accuracy_after"] == pytest.approx(rows[2]["accuracy_after"])
    assert (ev / "COMPLETE").exists()


def test_unknown_stage_is_a_config_error_naming_the_key(tmp_path):
    cfg = load_config(None, [f"run.out_dir={tmp_path}", "run.stages=[grpo,finetune]"])
    with pytest.raises(ConfigError, match=r"run.stages: unknown stage 'finetune'"):
        chain.run_stages(cfg)
    assert not (tmp_path / "1-grpo").exists()  # checked before any stage runs


@pytest.mark.slow
def test_distill_sft_grpo_eval_chain(tmp_path):
    """The issue's chain on tiny sizes: a teacher taught '<answer>2</answer>' is distilled into
    a fresh student, which then gets SFT, GRPO and a final evaluation, each stage from the
    model the one before exported, one page over all four."""
    from mmrft.build.components import make_family
    from mmrft.data.stream import ProblemStream
    from mmrft.models import save_policy
    from mmrft.tasks import TASKS
    from mmrft.trainer.sft import train_sft

    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = make_family(load_config(None), model.config.model_type, processor)
    samples = TASKS.get("count")(count_range=(2, 2)).dataset(8, seed=5, level=2)
    train_sft(
        model, family, ProblemStream(lambda i, lv: samples[i % 8]), steps=12, batch_size=4, lr=1e-2
    )
    save_policy(model, processor, tmp_path / "teacher")

    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path / 'chain'}",
            "run.stages=[distill,sft,grpo,eval]",
            f"distill.name_or_path={tmp_path / 'teacher'}",
            "distill.prompts=4",
            "distill.k=4",
            "data.count_range=[2,2]",
            "rollout.max_new_tokens=8",
            "eval.max_new_tokens=8",
            *SMALL,
        ],
    )
    result = chain.run_stages(cfg)
    names = ["1-distill", "2-sft", "3-grpo", "4-eval"]
    assert [r["dir"] for r in result["stages"]] == names
    models_in = [r["model_in"] for r in result["stages"]]
    root = tmp_path / "chain"
    assert models_in == ["tiny-qwen2.5-vl", *(str(root / n / "model") for n in names[:3])]
    assert (root / "1-distill" / "data" / "train.jsonl").exists()
    assert all(0 <= r["accuracy_after"] <= 1 for r in result["stages"])
    assert "4-eval/report.html" in (root / "report.html").read_text()
