"""``mmrft reward NAME FILE.jsonl [--out OUT.jsonl]``: score saved completions offline.

Each input line is one JSON object: ``completion`` plus the sample's fields (``answer``
required; ``prompt``, ``task``, ``meta``, ``id`` optional; images are not loaded -- rewards read
sizes from ``meta``). NAME is a registered reward, a ``module:function`` / ``file.py:function``
spec, or a JSON ``build_reward`` spec such as ``'{"factory": "judge", "args": {"model": "p"}}'``. Each scored line is written back with ``reward`` (the overall score) and ``rewards`` (all
components); one JSON summary line goes to stdout. Malformed lines are reported on stderr with
their line numbers and skipped. A completion the reward fails on (raises, returns NaN or inf,
runs past ``--timeout-s``) scores 0 and is counted in ``failed``; when it fails on nearly every
completion (``FAILING_SHARE``) the command exits 1, and a reward that breaks the contract (wrong
number of values, strings for numbers) is an error (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mmrft.data.sample import Sample
from mmrft.rewards.base import safe_reward
from mmrft.rewards.build import build_reward
from mmrft.rewards.guard import FAILING_SHARE, GuardedReward


def _sample(obj: object, lineno: int) -> tuple[str, Sample]:
    """``(completion, sample)`` from one parsed line; ValueError says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if not isinstance(obj.get("completion"), str):
        raise ValueError("missing string field 'completion'")
    if "answer" not in obj or obj["answer"] is None:
        raise ValueError("missing field 'answer'")
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise ValueError("'meta' must be an object")
    answer = obj["answer"]
    sample = Sample(
        id=str(obj.get("id", f"line-{lineno}")),
        prompt=str(obj.get("prompt", "")),
        answer=answer if isinstance(answer, str) else json.dumps(answer),
        task=str(obj.get("task", "")),
        meta=meta,
    )
    return obj["completion"], sample


def score_file(
    name: str, path: str | Path, out: str | Path | None = None, timeout_s: float | None = None
) -> dict:
    """Score every well-formed line of ``path`` with reward ``name`` (one call of at most
    ``timeout_s`` seconds); returns the summary."""
    spec: str | dict = name
    if name.lstrip().startswith("{"):
        try:
            spec = json.loads(name)
        except json.JSONDecodeError as e:
            raise ValueError(f"reward spec {name!r} is not valid JSON: {e}") from e
    fn = GuardedReward(build_reward(spec), timeout_s=timeout_s)
    rows, completions, samples = [], [], []
    skipped = 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                completion, sample = _sample(obj, lineno)
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                print(f"{path}:{lineno}: skipped: {e}", file=sys.stderr)
                skipped += 1
                continue
            rows.append(obj)
            completions.append(completion)
            samples.append(sample)
    scores, n_failed = safe_reward(fn, completions, samples) if rows else ({"overall": []}, 0)
    if out is not None:
        with open(out, "w", encoding="utf-8") as f:
            for i, obj in enumerate(rows):
                obj = {**obj, "reward": scores["overall"][i]}
                obj["rewards"] = {k: v[i] for k, v in scores.items()}
                f.write(json.dumps(obj, ensure_ascii=False) + "\n")
    means = {k: (sum(v) / len(v) if v else None) for k, v in scores.items()}
    return {"reward": name, "n": len(rows), "skipped": skipped, "failed": n_failed, "mean": means}


def cmd_reward(args: argparse.Namespace) -> int:
    summary = score_file(args.name, args.file, args.out, args.timeout_s)
    print(json.dumps(summary))
    if summary["n"] and summary["failed"] >= FAILING_SHARE * summary["n"]:
        print(
            f"mmrft: error: reward {args.name!r} failed on {summary['failed']} of "
            f"{summary['n']} completions (the warnings above say why)",
            file=sys.stderr,
        )
        return 1
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``mmrft reward`` on the main CLI's subparsers."""
    parser = subparsers.add_parser("reward", help="score saved completions (JSONL) with any reward")
    parser.add_argument(
        "name", help="reward name, module:function / file.py:fn, or a JSON factory spec"
    )
    parser.add_argument("file", help="JSONL: one {completion, answer, meta, task, ...} per line")
    parser.add_argument("--out", default=None, help="write each line back with its rewards")
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=None,
        help="longest the reward may take over the whole file; past it every line scores 0 "
        "(default: no limit)",
    )
    parser.set_defaults(func=cmd_reward)
    return parser
