"""A fake run directory holding every file the report reads (shared by the report tests)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image


def write_jsonl(path: Path, rows: list) -> None:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def make_run(run_dir: Path) -> Path:
    """A run directory with every file the report reads."""
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "accuracy_before": 0.312,
        "accuracy_after": 0.874,
        "greedy_accuracy_before": 0.35,
        "greedy_accuracy_after": 0.91,
        "reward_before": 0.3,
        "reward_after": 0.88,
        "wall_seconds": 1234.5,
        "model": "tiny-qwen2.5-vl",
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    metrics = []
    for step in range(1, 41):
        row = {
            "step": step,
            "reward/mean": 0.3 + 0.015 * step,
            "reward/accuracy": min(1.0, 0.25 + 0.016 * step),
            "actor/loss": 0.1 * math.sin(step),
            "actor/kl": 0.001 * step,
            "response_length/mean": 5 + (step % 3),
            "time/rollout": 1.5,  # constant: listed, not plotted
            "throughput/tokens_per_s": 900 + step,
        }
        if step == 7:
            del row["actor/kl"]  # missing keys are tolerated
        metrics.append(row)
    write_jsonl(run_dir / "metrics.jsonl", metrics)
    with (run_dir / "metrics.jsonl").open("a") as f:
        f.write("{not json\n")  # a truncated last line from a killed run
    evals = [
        {"step": s, "accuracy": a, "greedy_accuracy": g, "reward": a}
        for s, a, g in [(0, 0.312, 0.35), (20, 0.6, 0.7), (40, 0.874, 0.91)]
    ]
    write_jsonl(run_dir / "evals.jsonl", evals)
    (run_dir / "images").mkdir(exist_ok=True)
    examples = []
    for i in range(3):
        Image.new("RGB", (32, 32), (40 * i, 120, 200)).save(run_dir / "images" / f"ex{i}.png")
        examples.append(
            {
                "image": f"images/ex{i}.png",
                "prompt": "How many shapes are in the image?",
                "answer": str(i + 3),
                "completion_before": "<answer>2</answer>",
                "completion_after": f"<answer>{i + 3}</answer>",
                "reward_before": 0.0,
                "reward_after": 1.0,
            }
        )
    write_jsonl(run_dir / "examples.jsonl", examples)
    (run_dir / "config.yaml").write_text("rl:\n  lr: 0.0001  # <tuned>\n")
    return run_dir


def make_degenerate_run(run_dir: Path) -> Path:
    """``make_run`` whose KL explodes from step 25 and whose last evaluation drops 0.3.

    The metrics go through the real path: ``watch`` adds the health keys, ``MetricsLogger``
    writes them, so the report reads exactly what a training run leaves.
    """
    from mmrft.config import HealthConfig
    from mmrft.trainer.health import watch
    from mmrft.trainer.metrics import MetricsLogger

    make_run(run_dir)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()[:-1]]
    (run_dir / "metrics.jsonl").unlink()
    evals = [json.loads(line) for line in (run_dir / "evals.jsonl").read_text().splitlines()]
    evals.append({"step": 41, "accuracy": 0.574, "greedy_accuracy": 0.6, "reward": 0.574})
    write_jsonl(run_dir / "evals.jsonl", evals)
    logger = MetricsLogger(run_dir / "metrics.jsonl")
    cfg = HealthConfig()
    for row in rows:
        step = row.pop("step")
        row["actor/kl"] = 0.01 if step < 25 else 3.0 + step  # window mean > 1.0 from step 25
        overall = [0.0, 1.0] * 4  # 4 groups of 2, none constant: learning signal everywhere
        seen = [e for e in evals if e["step"] < step]  # evaluations run after a step is logged
        row.update(watch(cfg, logger.rows, row, seen, overall, 2))
        logger.log(step, row)
    logger.close()
    return run_dir
