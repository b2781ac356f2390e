"""A reduced demo end to end, and bad dataset lines skipped and reported instead of crashing."""

from __future__ import annotations

import inspect
import json
from types import SimpleNamespace

import torch

from mmrft.build import run
from mmrft.config import load_config
from mmrft.data.jsonl import write_jsonl
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import latest_checkpoint
from mmrft.trainer.distributed import shard_critic, shard_model
from mmrft.trainer.pipeline import shard_options

SMALL = [
    "sft.steps=4",
    "sft.batch_size=4",
    "rl.steps=2",
    "rl.eval_every=1",
    "data.eval_size=6",
    "eval.n_samples=2",
    "rollout.prompts_per_step=2",
    "rollout.group_size=2",
    "run.tensorboard=false",
]


def test_reduced_demo_end_to_end(tmp_path):
    summary = run(load_config(None, [f"run.out_dir={tmp_path}", *SMALL]))
    for key in (
        "accuracy_before",
        "accuracy_after",
        "greedy_accuracy_before",
        "greedy_accuracy_after",
        "reward_before",
        "reward_after",
        "wall_seconds",
    ):
        assert key in summary and 0 <= summary[key] <= (1 if key != "wall_seconds" else 1e6)
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert summary["after_averaged_over_steps"] == [
        1,
        2,
    ]  # mean of the last eval_last_k (3) evals > 0
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert [json.loads(x)["step"] for x in (tmp_path / "evals.jsonl").read_text().splitlines()] == [
        0,
        1,
        2,
    ]
    assert (tmp_path / "config.yaml").exists() and (tmp_path / "report.html").exists()
    assert (tmp_path / "sft" / "COMPLETE").exists()
    assert latest_checkpoint(tmp_path).name == "step_000002"
    assert len((tmp_path / "examples.jsonl").read_text().splitlines()) == 6


def test_bad_images_in_dataset_are_skipped_and_reported(tmp_path):
    samples = TASKS.get("count")().dataset(6, seed=9, level=1)
    data = write_jsonl(samples, tmp_path / "data" / "train.jsonl")
    images = sorted((tmp_path / "data" / "images").iterdir())
    images[0].unlink()  # missing image
    images[1].write_bytes(b"not a png")  # corrupt image
    out = tmp_path / "run"
    summary = run(load_config(None, [f"run.out_dir={out}", f"data.train_path={data}", *SMALL]))
    assert summary["train_lines_skipped"] == 2
    reasons = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert [r["line"] for r in reasons] == [1, 2]
    assert "not found" in reasons[0]["reason"] and "decode" in reasons[1]["reason"]


def test_custom_reward_from_file_spec(tmp_path):
    """rl.reward may name path/to/file.py:function; the run uses it (reward 1 for every output)."""
    path = tmp_path / "my_reward.py"
    path.write_text(
        "def always_one(completions, samples):\n"
        "    return {'overall': [1.0] * len(completions), 'accuracy': [1.0] * len(completions)}\n"
    )
    summary = run(
        load_config(
            None, [f"run.out_dir={tmp_path / 'run'}", f"rl.reward={path}:always_one", *SMALL]
        )
    )
    assert summary["reward_before"] == 1.0 and summary["accuracy_after"] == 1.0


def test_freeze_vision_keeps_the_vision_tower_fixed(tmp_path):
    from mmrft.models import load_policy

    run(load_config(None, [f"run.out_dir={tmp_path}", "model.freeze_vision=true", *SMALL]))
    start, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    trained, _ = load_policy(str(tmp_path / "checkpoints" / "step_000002"))
    visual = dict(start.model.visual.named_parameters())
    for name, p in trained.model.visual.named_parameters():
        assert torch.equal(p, visual[name]), name
    assert not torch.equal(trained.lm_head.weight, start.lm_head.weight)


def test_training_data_may_be_a_parquet_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmrft.build import make_data

    samples = TASKS.get("count")().dataset(5, 0, 2)
    write_jsonl(samples, tmp_path / "d.jsonl", embed_images=True)
    rows = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text().splitlines()]
    for r in rows:
        r["meta"] = json.dumps(r["meta"])  # a JSON string column, as many exports store it
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    train = f"data.train_path={tmp_path / 'd.parquet'}"
    cfg = load_config(None, [train, "data.eval_holdout=0"])  # every row trains
    _, rl_stream, _, skipped = make_data(cfg)
    got = {s.id: s for s in rl_stream.next_batch(5)}
    assert not skipped and set(got) == {s.id for s in samples}
    for s in samples:
        assert got[s.id].answer == s.answer and got[s.id].meta == s.meta
        assert list(got[s.id].images[0].getdata()) == list(s.images[0].getdata())


def test_audio_task_trains_an_audio_family_end_to_end(tmp_path):
    """beeps + tiny-qwen2-audio through SFT and GRPO: the clips reach the model (SFT moves the
    audio encoder's weights) and the RL steps are logged."""
    from mmrft.models import load_policy

    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path}",
            *SMALL,
            "model.name_or_path=tiny-qwen2-audio",
            "data.task=beeps",
            "data.train_size=40",
            "rollout.max_new_tokens=4",
        ],
    )
    summary = run(cfg)
    assert 0 <= summary["accuracy_after"] <= 1
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    trained, _ = load_policy(str(tmp_path / "sft"))
    fresh, _ = load_policy("tiny-qwen2-audio", seed=cfg.run.seed)
    name = "model.audio_tower.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(trained.get_parameter(name), fresh.get_parameter(name))


def test_make_family_takes_the_model_options():
    from mmrft.build import make_family
    from mmrft.models import load_policy

    cfg = load_config(
        None,
        [
            "model.video_fps=1",
            "model.max_frames=4",
            "model.processor_kwargs={do_pan_and_scan: true}",
            "data.system_prompt=Think.",
        ],
    )
    _, processor = load_policy("tiny-gemma3")
    family = make_family(cfg, "gemma3", processor)
    assert (family.video_fps, family.max_frames) == (1.0, 4)
    assert family.processor_kwargs == {"do_pan_and_scan": True}
    assert family.system_prompt == "Think."


def test_shard_options_are_the_runs_and_fit_policy_and_critic_sharding():
    family = SimpleNamespace(vision_tower=("visual",))
    over = ["distributed.strategy=ddp", "distributed.reshard_after_forward=false"]
    opts = shard_options(load_config(None, [*over, "model.dtype=bfloat16"]), family)
    assert opts == {
        "strategy": "ddp",
        "reshard_after_forward": False,
        "compute_dtype": torch.bfloat16,
        "units": ("visual",),
    }
    for fn in (shard_model, shard_critic):  # both take exactly these keywords
        inspect.signature(fn).bind(torch.nn.Linear(1, 1), **opts)
    # quantized weights keep their own dtype: no mixed-precision cast
    qlora = ["model.quantization=nf4", "model.lora_rank=8"]
    assert shard_options(load_config(None, qlora), family)["compute_dtype"] is None
