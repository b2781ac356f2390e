"""The ``mmrft`` command: thin argument parsing over library functions.

mmrft demo  [--out DIR] [--seed N] [key=value ...]   the flagship CPU demo (SFT -> GRPO -> eval)
mmrft train CONFIG.yaml [key=value ...]              any run, from a YAML file plus overrides
mmrft eval  MODEL [--task count] [--level 2] ...     evaluate a checkpoint on held-out problems
mmrft tasks list                                      the registered tasks
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mmrft.eval.score_cli import add_parser as add_score_parser
from mmrft.rewards.cli import add_parser as add_reward_parser
from mmrft.tasks.cli import add_parser as add_tasks_parser

DEMO_CONFIG = Path(__file__).parent / "configs" / "demo.yaml"


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False)],
    )
    logging.getLogger("mmrft").setLevel(logging.INFO)
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _print_summary(summary: dict, out_dir: str) -> None:
    table = Table(title="Held-out evaluation: cold start (before) vs after GRPO")
    for col in ("metric", "before", "after", "change"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for key in ("accuracy", "greedy_accuracy", "reward"):
        if f"{key}_before" in summary and f"{key}_after" in summary:
            b, a = summary[f"{key}_before"], summary[f"{key}_after"]
            table.add_row(key, f"{b:.3f}", f"{a:.3f}", f"{a - b:+.3f}")
    console = Console()
    console.print(table)
    console.print(
        f"wall time {summary['wall_seconds']:.0f} s  ·  run dir {out_dir}  ·  "
        f"report {Path(out_dir) / 'report.html'}"
    )


def cmd_train(args: argparse.Namespace) -> int:
    from mmrft.config import load_config
    from mmrft.trainer.pipeline import run

    cfg = load_config(args.config, args.overrides)
    summary = run(cfg)
    _print_summary(summary, cfg.run.out_dir)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    overrides = [f"run.out_dir={args.out}", f"run.seed={args.seed}", *args.overrides]
    args.config, args.overrides = str(DEMO_CONFIG), overrides
    return cmd_train(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from mmrft.config import load_config
    from mmrft.eval.harness import evaluate
    from mmrft.models import family_for, load_policy
    from mmrft.rewards import REWARDS
    from mmrft.rollout import SAMPLERS
    from mmrft.trainer.pipeline import make_task

    cfg = load_config(args.config, args.overrides)
    task = make_task(cfg)
    samples = task.dataset(cfg.data.eval_size, cfg.data.eval_seed, cfg.data.level)
    model, processor = load_policy(args.model, dtype=cfg.model.dtype)
    family = family_for(model.config.model_type, processor, cfg.data.system_prompt)
    sampler = SAMPLERS.get(cfg.rollout.engine)(model, family)
    res = evaluate(
        sampler,
        samples,
        REWARDS.get(task.reward_name),
        n_samples=cfg.eval.n_samples,
        temperature=cfg.eval.temperature,
        max_new_tokens=cfg.eval.max_new_tokens,
        seed=cfg.run.seed,
    )
    print(
        json.dumps(
            {"model": args.model, "task": cfg.data.task, "level": cfg.data.level, **res.metrics()}
        )
    )
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from mmrft.tasks import TASKS

    for name in TASKS.names():
        cls = TASKS.get(name)
        print(f"{name:14s} levels {list(cls.levels)}  {cls.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmrft", description="Reinforcement fine-tuning of multimodal LLMs."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every stage")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="CPU demo: generate tasks -> SFT cold start -> GRPO -> evaluate"
    )
    demo.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the whole run (default: 0)")
    demo.add_argument("overrides", nargs="*", help="config overrides key=value")
    demo.set_defaults(func=cmd_demo)

    train = sub.add_parser("train", help="train from a YAML config plus key=value overrides")
    train.add_argument("config", help="YAML config file (see configs/default.yaml)")
    train.add_argument("overrides", nargs="*", help="config overrides key=value")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser(
        "eval", help="evaluate a model (path, hub name or tiny name) on held-out problems"
    )
    ev.add_argument("model", help="checkpoint path, hub name or builtin tiny model")
    ev.add_argument("--config", default=None, help="YAML config for data/eval settings")
    ev.add_argument(
        "overrides", nargs="*", help="config overrides key=value, e.g. data.eval_size=200"
    )
    ev.set_defaults(func=cmd_eval)

    tasks = sub.add_parser("tasks", help="procedural tasks")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True, metavar="SUBCOMMAND")
    tasks_sub.add_parser("list", help="list registered tasks").set_defaults(func=cmd_tasks)
    add_tasks_parser(tasks_sub)
    add_score_parser(sub)
    add_reward_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    from mmrft.config import ConfigError

    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError, KeyError, ValueError) as e:
        if args.verbose:
            raise
        # User errors (bad key, missing file, unknown name) get one clear line, not a traceback.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"mmrft: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
