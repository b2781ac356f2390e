"""``mmrft tasks generate`` and ``mmrft tasks preview``: datasets and contact sheets from tasks.

The top-level CLI owns ``mmrft tasks`` and calls ``add_parser(tasks_sub)`` to add these two
subcommands. Handlers take the parsed namespace, print the path they wrote and return 0.

    mmrft tasks generate chart --n 1000 --seed 0 --level 3 --out data/   # data/chart.jsonl
    mmrft tasks preview ground --level 5 --arg box_format=rel1000 --out ground.png
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml


def _task_kwargs(pairs: list[str]) -> dict[str, Any]:
    """``["image_size=224", "box_format=rel1000"]`` -> ``{"image_size": 224, ...}`` (YAML values).

    >>> _task_kwargs(["image_size=224", "box_format=rel1000", "count_range=[1, 3]"])
    {'image_size': 224, 'box_format': 'rel1000', 'count_range': [1, 3]}
    """
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"task argument must look like key=value, got {pair!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _build_task(args: argparse.Namespace):
    from mmrft.tasks import TASKS

    task = TASKS.get(args.task)(**_task_kwargs(args.arg))
    task.check_level(args.level)
    return task


def cmd_generate(args: argparse.Namespace) -> int:
    """Write ``OUT/TASK.jsonl`` plus ``OUT/images/`` in the standard dataset format."""
    from mmrft.data.jsonl import write_jsonl
    from mmrft.tasks.base import sample_seeds

    task = _build_task(args)
    samples = (task.generate(s, args.level) for s in sample_seeds(args.seed, args.n))
    path = write_jsonl(samples, Path(args.out) / f"{args.task}.jsonl")
    print(path)
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    """Write a contact-sheet PNG of ``--n`` samples with their answers."""
    from mmrft.tasks.preview import write_preview

    task = _build_task(args)
    out = args.out or f"{args.task}-L{args.level}-preview.png"
    path = write_preview(task, out, n=args.n, seed=args.seed, level=args.level)
    print(path)
    return 0


def _common(parser: argparse.ArgumentParser, n: int) -> None:
    parser.add_argument("task", help="registered task name (see `mmrft tasks list`)")
    parser.add_argument("--n", type=int, default=n, help=f"number of samples (default: {n})")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    parser.add_argument("--level", type=int, default=1, help="difficulty level (default: 1)")
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task constructor argument, repeatable (e.g. --arg box_format=rel1000)",
    )


def add_parser(tasks_sub: argparse._SubParsersAction) -> None:
    """Add ``generate`` and ``preview`` to the ``mmrft tasks`` subparsers."""
    gen = tasks_sub.add_parser("generate", help="write a task's samples as JSONL + images")
    _common(gen, n=100)
    gen.add_argument("--out", default="data", help="output folder (default: data)")
    gen.set_defaults(func=cmd_generate)

    prev = tasks_sub.add_parser("preview", help="contact sheet of samples with their answers")
    _common(prev, n=16)
    prev.add_argument("--out", default="", help="PNG path (default: <TASK>-L<LEVEL>-preview.png)")
    prev.set_defaults(func=cmd_preview)
