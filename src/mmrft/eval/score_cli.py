"""``mmrft score SCORER FILE.jsonl [--out OUT.jsonl] [--mode official|strict]``.

Reads one JSON object per line (``prediction``, ``answer`` and the scorer's own fields; see
docs/eval.md), writes each line back with ``score``, ``extracted`` and ``flags``, and prints a
one-line JSON summary (``scorer``, ``mode``, ``n``, ``mean``, ``skipped`` and the scorer's own
benchmark numbers, e.g. MME's ``acc_plus``). A line that is not a record (invalid JSON, a
missing field) is reported on stderr with its line number and skipped (``skipped``). A record the
scorer fails on (any exception: an ``OverflowError`` on an extraction of "inf", a non-string
answer) scores 0 with the flag ``scoring_failed`` and its ``error``, stays in the mean, is counted
(``failed``) and reported by line number: one bad line is one failure, never the whole file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO


def score_file(
    scorer_name: str, path: str | Path, mode: str = "official"
) -> tuple[list[dict[str, Any]], dict[str, Any], list[tuple[int, str]]]:
    """Score every line of a JSONL file: ``(scored records, summary, [(line_no, message)])``;
    the messages name the skipped lines and the lines the scorer failed on."""
    from mmrft.eval.scorers import SCORERS, MalformedRecord
    from mmrft.eval.scoring import failed

    scorer = SCORERS.get(scorer_name)()
    scored, errors, n_skipped, n_failed = [], [], 0, 0
    if Path(path).is_dir():
        raise ValueError(f"{path}: a folder; mmrft score reads one JSONL file")
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(_text_lines(f, path), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise MalformedRecord(f"not a JSON object but {type(record).__name__}")
                result = scorer.score(record, mode)
            except json.JSONDecodeError as e:
                errors.append((line_no, f"skipped: invalid JSON: {e.msg}"))
                n_skipped += 1
                continue
            except MalformedRecord as e:
                errors.append((line_no, f"skipped: {e}"))
                n_skipped += 1
                continue
            except Exception as e:  # the scorer failed on a record: that line scores 0
                result = failed(f"{type(e).__name__}: {e}")
                errors.append((line_no, f"scoring failed, scored 0: {result['error']}"))
                n_failed += 1
            scored.append({**record, **result})
    summary = {"scorer": scorer_name, "mode": mode, **scorer.aggregate(scored)}
    summary["skipped"], summary["failed"] = n_skipped, n_failed
    return scored, summary, errors


def _text_lines(f: TextIO, path: str | Path):
    """The lines of ``f``; a binary file (an image, say) is a ValueError naming ``path``."""
    try:
        yield from f
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: not a UTF-8 text file (byte {e.start}); mmrft score reads JSONL"
        ) from None


def cmd_score(args: argparse.Namespace, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr):
    """Handler of ``mmrft score``; returns the exit status (1 when no line could be scored,
    including an empty file, or when the scorer failed on nearly every line)."""
    from mmrft.rewards.guard import FAILING_SHARE

    scored, summary, errors = score_file(args.scorer, args.file, args.mode)
    for line_no, message in errors:
        print(f"{args.file}:{line_no}: {message}", file=stderr)
    out = Path(args.out) if args.out else Path(args.file).with_suffix(".scored.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for record in scored:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(json.dumps(summary), file=stdout)
    if not scored:  # all-bad or empty input fails, as ``mmrft reward`` does
        print(f"{args.file}: no line could be scored", file=stderr)
        return 1
    if summary["failed"] >= FAILING_SHARE * len(scored):
        print(
            f"{args.file}: the scorer failed on {summary['failed']} of {len(scored)} lines",
            file=stderr,
        )
        return 1
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``mmrft score`` on the main parser's subparsers."""
    from mmrft.eval.scorers import MODES, SCORERS

    p = subparsers.add_parser(
        "score",
        help="score model outputs (JSONL) with a benchmark's official rules",
        description=__doc__.split("\n\n")[1],
    )
    p.add_argument("scorer", choices=SCORERS.names(), help="benchmark scorer")
    p.add_argument("file", help="JSONL with prediction, answer and the scorer's fields")
    p.add_argument("--out", default=None, help="output JSONL (default: FILE.scored.jsonl)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="official",
        help="official: reproduce the official code, quirks included; strict: quirks fixed",
    )
    p.set_defaults(func=cmd_score)
    return p
