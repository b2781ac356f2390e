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
    "rl.steps=1",
    "rl.eval_every=1",
    "data.eval_size=4",
    "eval.n_samples=2",
    "rollout.prompts_per_step=2",
    "rollout.group_size=2",
    "run.tensorboard=false",
]


def test_grpo_then_eval_chain_passes_the_model_on_and_resumes(tmp_path, monkeypatch):
    cfg = load_config(None, [f"run.out_dir={tmp_path}", "run.stages=[grpo,eval]", *SMALL])
    result = chain.run_stages(cfg)

    grpo, ev = tmp_path / "1-grpo", tmp_path / "2-eval"
    assert (grpo / "COMPLETE").exists() and (ev / "COMPLETE").exists()
    assert not (grpo / "sft").exists()  # in a chain the sft stage is the cold start
    rows = result["stages"]
    assert [r["stage"] for r in rows] == ["grpo", "eval"]
    assert rows[0]["model_in"] == "tiny-qwen2.5-vl" and rows[1]["model_in"] == str(grpo / "model")
    assert result["final_model"] == str(grpo / "model")  # eval exports nothing: passed on
    assert json.loads((tmp_path / "stages.json").read_text()) == result
    page = (tmp_path / "report.html").read_text()
    assert "1-grpo/report.html" in page and "data:image/png;base64," in page
    assert (grpo / "report.html").exists() and (ev / "report.html").exists()  # links resolve

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
    assert rows[1]["greedy_accuracy_after"] == pytest.approx(direct.greedy_accuracy)
    assert rows[1]["accuracy_after"] == pytest.approx(direct.accuracy)

    # Rerun: finished stages are not run again; a stage without COMPLETE is.
    (ev / "COMPLETE").unlink()
    monkeypatch.setattr(chain, "run", lambda cfg: pytest.fail("grpo ran twice"))
    again = chain.run_stages(cfg)
    assert again["stages"][1]["accuracy_after"] == pytest.approx(rows[1]["accuracy_after"])
    assert (ev / "COMPLETE").exists()


def test_unknown_stage_is_a_config_error_naming_the_key(tmp_path):
    cfg = load_config(None, [f"run.out_dir={tmp_path}", "run.stages=[grpo,finetune]"])
    with pytest.raises(ConfigError, match=r"run.stages: unknown stage 'finetune'"):
        chain.run_stages(cfg)
    assert not (tmp_path / "1-grpo").exists()  # checked before any stage runs
