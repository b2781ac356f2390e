"""The ``mmrft`` command: thin argument parsing over library functions.

mmrft demo  [--out DIR] [--seed N] [key=value ...]   the flagship CPU demo (SFT -> GRPO -> eval)
mmrft train CONFIG.yaml [key=value ...]              any run, from a YAML file plus overrides
mmrft sft   CONFIG.yaml [key=value ...]              supervised fine-tuning (chat data, traces)
mmrft distill CONFIG.yaml [key=value ...]            teacher traces (rejection sampling) -> SFT
mmrft rft   CONFIG.yaml [key=value ...]              the model as its own teacher, distill.rounds
mmrft eval  MODEL [--benchmark B | --dataset F | --task T] [--k K]   evaluate a checkpoint
mmrft tasks list                                      the registered tasks
mmrft plan  CONFIG.yaml [--gpus N] [--gpu-mem 80GB]   per-device memory before launch
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mmrft.eval.score_cli import add_parser as add_score_parser
from mmrft.plan.cli import add_parser as add_plan_parser
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
    # peft imports bitsandbytes when it is installed (the dev extra), whose CPU backend warns at
    # import that it will not fetch an optional kernel from the hub; mmrft never fetches one
    # (models/quantize.py picks the trainable CPU path itself), so the warning is noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


def _print_summary(
    summary: dict, out_dir: str, title: str = "cold start (before) vs after GRPO"
) -> None:
    table = Table(title=f"Held-out evaluation: {title}")
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
    from mmrft.build import run
    from mmrft.config import load_config
    from mmrft.trainer.distributed import destroy, launched_by_torchrun, torchrun_command

    cfg = load_config(args.config, args.overrides)  # a bad config fails here, before any launch
    if getattr(args, "nproc", 1) > 1 and not launched_by_torchrun():
        command = torchrun_command(args.nproc, ["train", args.config, *args.overrides])
        print("launching:", " ".join(command), flush=True)
        os.execvp(command[0], command)
    try:
        if cfg.run.stages:  # a chain: each stage in its own out_dir/<i>-<stage>
            from mmrft.build.chain import run_stages

            result = run_stages(cfg)
            if result:
                _print_stages(result, cfg.run.out_dir)
            return 0
        summary = run(cfg)
    finally:
        destroy()  # under torchrun: leave the process group cleanly (a no-op otherwise)
    if summary:  # under torchrun, rank 0 alone holds the summary
        _print_summary(summary, cfg.run.out_dir)
    return 0


def _print_stages(result: dict, out_dir: str) -> None:
    table = Table(title="Held-out accuracy along the chain")
    for col in ("stage", "accuracy before", "after", "greedy before", "after"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    cell = lambda row, key: f"{row[key]:.3f}" if key in row else "-"  # noqa: E731
    for row in result["stages"]:
        keys = (
            "accuracy_before",
            "accuracy_after",
            "greedy_accuracy_before",
            "greedy_accuracy_after",
        )
        table.add_row(row["dir"], *(cell(row, k) for k in keys))
    console = Console()
    console.print(table)
    console.print(f"final model {result['final_model']}  ·  report {Path(out_dir) / 'report.html'}")


def cmd_sft(args: argparse.Namespace) -> int:
    from mmrft.build.sft import run_sft
    from mmrft.config import load_config
    from mmrft.trainer.distributed import destroy, launched_by_torchrun, torchrun_command

    cfg = load_config(args.config, args.overrides)  # a bad config fails here, before any launch
    if args.nproc > 1 and not launched_by_torchrun():
        command = torchrun_command(args.nproc, ["sft", args.config, *args.overrides])
        print("launching:", " ".join(command), flush=True)
        os.execvp(command[0], command)
    try:
        summary = run_sft(cfg)
    finally:
        destroy()  # under torchrun: leave the process group cleanly (a no-op otherwise)
    if summary:  # under torchrun, rank 0 alone holds the summary
        _print_summary(summary, cfg.run.out_dir, "before vs after SFT")
    return 0


def cmd_dpo(args: argparse.Namespace) -> int:
    from mmrft.build.dpo import run_dpo
    from mmrft.config import load_config
    from mmrft.trainer.distributed import destroy

    cfg = load_config(args.config, args.overrides)  # a bad config fails here, before any work
    try:
        summary = run_dpo(cfg)
    finally:
        destroy()  # under torchrun: leave the process group cleanly (a no-op otherwise)
    if summary:
        _print_summary(summary, cfg.run.out_dir, f"before vs after {cfg.dpo.loss}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    overrides = [f"run.out_dir={args.out}", f"run.seed={args.seed}", *args.overrides]
    args.config, args.overrides = str(DEMO_CONFIG), overrides
    return cmd_train(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from mmrft.config import load_config

    task_overrides = [
        f"data.{key}={value}"
        for key, value in (("task", args.task), ("level", args.level))
        if value is not None
    ]
    cfg = load_config(args.config, [*task_overrides, *args.overrides])
    run_options = (args.benchmark, args.dataset, args.data, args.split, args.k, args.temperature,
                   args.limit, args.out, args.batch_size, args.max_new_tokens)  # fmt: skip
    if all(o is None for o in run_options):  # only task options: the held-out task evaluation
        return _eval_heldout(args, cfg)
    return _eval_run(args, cfg)


def _eval_heldout(args: argparse.Namespace, cfg) -> int:
    from mmrft.build import make_family, make_sampler, make_task
    from mmrft.eval.harness import evaluate
    from mmrft.models import load_policy
    from mmrft.rewards import REWARDS

    task = make_task(cfg)
    samples = task.dataset(cfg.data.eval_size, cfg.data.eval_seed, cfg.data.level)
    model, processor = load_policy(args.model, dtype=cfg.model.dtype)
    family = make_family(cfg, model.config.model_type, processor)
    sampler = make_sampler(cfg.rollout, model, family)
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


def _eval_source(args: argparse.Namespace, cfg):
    """Which problems and scoring the flags select (checked before any model is loaded)."""
    from mmrft.eval import sources

    if args.benchmark is not None and args.dataset is not None:
        raise ValueError("give one of --benchmark or --dataset, not both")
    if args.benchmark is None and (args.data is not None or args.split is not None):
        raise ValueError("--data/--split go with --benchmark NAME")
    if args.benchmark is not None:
        if args.task is not None or args.level is not None:
            raise ValueError("--task/--level select task problems; not used with --benchmark")
        return sources.from_benchmark(args.benchmark, args.data, args.split, args.limit)
    if args.dataset is not None:
        return sources.from_dataset(args.dataset, args.task, args.limit)
    from mmrft.build import make_task

    n = args.limit or cfg.data.eval_size
    return sources.from_task(make_task(cfg), n, cfg.data.eval_seed, cfg.data.level)


def _eval_run(args: argparse.Namespace, cfg) -> int:
    import re

    import torch

    from mmrft.build import make_family, make_sampler
    from mmrft.eval.mme_reasoning.judge_client import use_judge
    from mmrft.eval.runner import run_eval
    from mmrft.models import load_policy

    source = _eval_source(args, cfg)
    if not source.samples:
        raise ValueError(f"{source.name}: no problems to evaluate ({len(source.skipped)} skipped)")
    k = args.k or 1
    temperature = args.temperature
    if temperature is None:  # one sample: greedy; several: the policy's own distribution
        temperature = 0.0 if k == 1 else cfg.eval.temperature
    batch_size = args.batch_size or cfg.eval.batch_size
    model_tag = re.sub(r"[^A-Za-z0-9._-]", "_", Path(args.model).name)
    out = Path(args.out or Path("runs") / "eval" / f"{model_tag}-{source.name}")
    if not use_judge(source.score_fn, args.judge, out / "judge_cache.jsonl") and args.judge:
        raise ValueError(f"--judge is for benchmarks scored by a judge LLM, not {source.name}")

    model, processor = load_policy(args.model, dtype=cfg.model.dtype)
    if torch.cuda.is_available():
        model = model.to("cuda")
    family = make_family(cfg, model.config.model_type, processor)
    sampler = make_sampler(cfg.rollout, model, family)
    if hasattr(sampler, "batch_size"):  # one engine call per batch of problems
        sampler.batch_size = batch_size * k
    report = run_eval(
        sampler,
        source.samples,
        source.score_fn,
        k=k,
        temperature=temperature,
        max_new_tokens=args.max_new_tokens or cfg.eval.max_new_tokens,
        batch_size=batch_size,
        seed=cfg.run.seed,
        name=source.name,
        skipped=source.skipped,
        out_dir=out,
        info={"model": args.model, **source.info},
    )
    print(json.dumps({**report.summary(), "out": str(out)}))
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    """`mmrft distill` / `mmrft rft`: teacher traces by rejection sampling, then SFT on them."""
    from mmrft.build.distill import run_distill, run_rft
    from mmrft.config import load_config

    cfg = load_config(args.config, args.overrides)
    summary = (run_rft if args.command == "rft" else run_distill)(cfg)
    table = Table(title=f"mmrft {args.command}: the student's held-out accuracy")
    for col in ("", "accuracy (sampled)", "greedy accuracy"):
        table.add_column(col, justify="right" if col else "left")
    cell = lambda key: f"{summary[key]:.3f}" if key in summary else "-"  # noqa: E731
    table.add_row("before", cell("accuracy_before"), cell("greedy_accuracy_before"))
    table.add_row("after", cell("accuracy_after"), cell("greedy_accuracy_after"))
    if "teacher_accuracy" in summary:
        table.add_row("teacher", cell("teacher_accuracy"), cell("teacher_greedy_accuracy"))
    console = Console()
    console.print(table)
    for row in summary.get("rounds", []):
        console.print(
            f"round {row['round']}: kept {row.get('data_kept', 0)} traces "
            f"(pass@1 {row.get('data_pass@1', 0):.3f}), accuracy "
            f"{row.get('accuracy_before', float('nan')):.3f} -> "
            f"{row.get('accuracy_after', float('nan')):.3f}"
        )
    stats = summary.get("stats", {}).get("all")
    if stats:
        console.print(
            f"teacher traces: kept {stats['kept']} of {stats['traces']} "
            f"(pass@1 {stats['pass@1']:.3f}, mean {stats['mean_tokens']:.1f} tokens)"
        )
    console.print(f"wall time {summary['wall_seconds']:.0f} s  ·  run dir {cfg.run.out_dir}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_eval_parser(sub) -> None:
    ev = sub.add_parser(
        "eval",
        help="evaluate a model on a benchmark, the built-in suite, a dataset or task problems",
        description="With only task options (--task/--level, config overrides) this prints the "
        "held-out task evaluation as JSON. With --benchmark, --dataset or any of --k, "
        "--temperature, --limit, --out, --batch-size, --max-new-tokens it runs the full "
        "evaluation: k samples per problem, pass@k / maj@k / mean@k, official and strict "
        "numbers, per-category results, written to --out (predictions.jsonl, results.json, "
        "report.html), and prints a one-line JSON summary.",
    )
    ev.add_argument("model", help="checkpoint path, hub name or builtin tiny model")
    ev.add_argument("--config", default=None, help="YAML config for data/eval settings")
    ev.add_argument(
        "--benchmark", help="benchmark name (needs --data), or mmrft-bench-v1 (built-in suite)"
    )
    ev.add_argument("--data", help="the benchmark's files in their official layout")
    ev.add_argument("--split", help="benchmark split (loader default when omitted)")
    ev.add_argument("--dataset", help="a JSONL file in the standard format, scored by task rewards")
    ev.add_argument("--task", help="task of the problems (data.task), or the reward for --dataset")
    ev.add_argument("--level", type=int, help="task difficulty level (data.level)")
    ev.add_argument("--k", type=_positive_int, help="samples per problem (default 1)")
    ev.add_argument(
        "--temperature", type=float, help="sampling temperature (default: 0 for k=1, else 1)"
    )
    ev.add_argument("--limit", type=_positive_int, help="evaluate only the first N problems")
    ev.add_argument("--out", help="output directory (default runs/eval/MODEL-NAME)")
    ev.add_argument("--batch-size", type=_positive_int, help="problems per generation batch")
    ev.add_argument("--max-new-tokens", type=_positive_int, help="longest completion")
    ev.add_argument(
        "--judge",
        help="judge LLM of mme-reasoning's official mode: a path, hub name, builtin tiny model, "
        "or openai:MODEL (endpoint from MMRFT_JUDGE_URL); default Qwen/Qwen2.5-7B-Instruct",
    )
    ev.add_argument(
        "overrides", nargs="*", help="config overrides key=value, e.g. data.eval_size=200"
    )
    ev.set_defaults(func=cmd_eval)


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
    train.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="processes (GPUs) on this machine: re-launches itself under "
        "`torchrun --standalone --nproc_per_node N` (multi-node: call torchrun yourself)",
    )
    train.set_defaults(func=cmd_train)

    sft = sub.add_parser(
        "sft",
        help="supervised fine-tuning on chat data or reasoning traces (docs/data.md), "
        "evaluated before and after",
    )
    sft.add_argument("config", help="YAML config file (see configs/default.yaml)")
    sft.add_argument("overrides", nargs="*", help="config overrides key=value")
    sft.add_argument(
        "--nproc", type=int, default=1, help="processes (GPUs): re-launches under torchrun"
    )
    sft.set_defaults(func=cmd_sft)

    dpo = sub.add_parser(
        "dpo",
        help="preference alignment (DPO, IPO, SimPO, ORPO) on a pair file or on pairs built "
        "from the model's own rollouts ranked by the reward",
    )
    dpo.add_argument("config", help="YAML config file (the dpo: section; see default.yaml)")
    dpo.add_argument("overrides", nargs="*", help="config overrides key=value")
    dpo.set_defaults(func=cmd_dpo)

    _add_eval_parser(sub)

    for name, text in (
        ("distill", "distil a teacher (distill.name_or_path) into the model by rejection sampling"),
        ("rft", "rejection-sampling fine-tuning: the model as its own teacher, distill.rounds"),
    ):
        stage = sub.add_parser(name, help=text)
        stage.add_argument("config", help="YAML config file (see configs/default.yaml, distill:)")
        stage.add_argument("overrides", nargs="*", help="config overrides key=value")
        stage.set_defaults(func=cmd_distill)

    tasks = sub.add_parser("tasks", help="procedural tasks")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", required=True, metavar="SUBCOMMAND")
    tasks_sub.add_parser("list", help="list registered tasks").set_defaults(func=cmd_tasks)
    add_tasks_parser(tasks_sub)
    add_score_parser(sub)
    add_plan_parser(sub)
    add_reward_parser(sub)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv``; ``key=value`` overrides may also come after the options
    (``mmrft eval MODEL --k 4 run.seed=3``), which argparse alone would reject."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not hasattr(args, "overrides") or any("=" not in x or x.startswith("-") for x in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_logging(args.verbose)
    from mmrft.config import ConfigError
    from mmrft.trainer.signals import RunInterrupted

    try:
        return args.func(args)
    except RunInterrupted as e:  # SIGTERM/SIGINT: checkpoint written; 128 + signal number
        print(f"mmrft: {e}", file=sys.stderr)
        return e.exit_code
    except (ConfigError, FileNotFoundError, KeyError, ValueError, IsADirectoryError) as e:
        if args.verbose:
            raise
        # User errors (bad key, missing file, unknown name) get one clear line, not a traceback.
        msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        print(f"mmrft: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
