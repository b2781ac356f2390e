"""The evaluation runner behind ``mmrft eval``: k completions per problem, scored, summarised.

Design note: one flat pipeline, read top to bottom in ``run_eval``:

1. generate k completions per problem through the rollout engine, ``batch_size`` problems per
   engine call, under a progress bar (k = 1 at temperature 0 is greedy decoding);
2. score every completion in every mode of the score function (a benchmark scorer's
   ``official`` and ``strict`` modes, or a task reward's single ``reward`` mode);
3. summarise per mode, overall and per category: mean@k, pass@j, maj@k (``mmrft.eval.passk``),
   plus the scorer's own benchmark numbers (e.g. MME acc+).

Failures are counted, never fatal: a batch whose generation raises is retried problem by
problem, and a problem that still fails gets k empty completions flagged ``generation_failed``
that score 0 (it stays in the denominator, as a benchmark requires); scoring failures are
counted per mode by the score function. Rows the loader skipped are passed in and reported.

``write_eval_outputs`` (or ``run_eval(..., out_dir=...)``) writes ``predictions.jsonl`` (one
line per completion), ``results.json`` (every number) and ``report.html``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mmrft.data.sample import Sample
from mmrft.eval.passk import k_sample_metrics
from mmrft.rollout.base import SamplingParams

logger = logging.getLogger(__name__)

N_EXAMPLES = 8
"""Example problems (image, prompt, prediction, scores) shown in report.html."""


@dataclasses.dataclass
class EvalReport:
    """Everything one evaluation produced; ``results()`` is what results.json holds."""

    name: str
    modes: list[str]
    settings: dict[str, Any]
    """k, temperature, max_new_tokens, batch_size, seed."""
    n_problems: int
    overall: dict[str, dict[str, Any]]
    """mode -> {n, mean@k, pass@j..., maj@k, scorer: {the scorer's own aggregate}}."""
    categories: dict[str, dict[str, Any]]
    """category -> {n, mode -> metrics}."""
    predictions: list[dict[str, Any]]
    """One record per completion, problem-major (problem p's sample j is row p * k + j)."""
    skipped: list[tuple[str, str]]
    failures: dict[str, Any]
    stats: dict[str, Any]
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Free-form context from the caller (model, data path, suite fingerprint, ...)."""

    def results(self) -> dict[str, Any]:
        """The JSON-ready summary (no per-completion records)."""
        return {
            "name": self.name,
            **self.info,
            **self.settings,
            "modes": self.modes,
            "n_problems": self.n_problems,
            "n_completions": len(self.predictions),
            "skipped": {"count": len(self.skipped), "first": [list(s) for s in self.skipped[:20]]},
            "failures": self.failures,
            "overall": self.overall,
            "categories": self.categories,
            **self.stats,
        }

    def summary(self) -> dict[str, Any]:
        """One line for the terminal: the headline numbers of each mode."""
        metrics = {
            mode: {k: v for k, v in m.items() if "@" in k} for mode, m in self.overall.items()
        }
        return {
            "name": self.name,
            **{k: v for k, v in self.info.items() if isinstance(v, (str, int, float))},
            "n_problems": self.n_problems,
            "k": self.settings["k"],
            "temperature": self.settings["temperature"],
            "skipped": len(self.skipped),
            "failures": self.failures,
            **metrics,
        }


def run_eval(
    sampler: Any,
    samples: Sequence[Sample],
    score_fn: Any,
    *,
    k: int = 1,
    temperature: float = 0.0,
    max_new_tokens: int = 16,
    batch_size: int = 32,
    seed: int = 0,
    modes: Sequence[str] | None = None,
    name: str = "eval",
    skipped: Sequence[tuple[str, str]] = (),
    correct_at: float = 1.0,
    progress: bool = True,
    out_dir: str | Path | None = None,
    info: dict[str, Any] | None = None,
) -> EvalReport:
    """Evaluate ``sampler`` on ``samples``: k completions each, scored by ``score_fn``.

    ``sampler.generate(samples, SamplingParams) -> RolloutBatch`` (only ``texts``,
    ``sample_index`` and, when present, ``finished`` / ``completion_mask`` are read);
    ``score_fn`` is a ``BenchmarkScoring`` or ``RewardScoring`` (``mmrft.eval.scoring``);
    ``modes`` picks a subset of ``score_fn.modes``. pass@j counts a completion as correct when
    its score is at least ``correct_at``. With ``out_dir``, the output files are written too.
    """
    if k < 1 or batch_size < 1 or max_new_tokens < 1:
        raise ValueError(
            f"need k, batch_size, max_new_tokens >= 1, got {k}, {batch_size}, {max_new_tokens}"
        )
    modes = list(modes or score_fn.modes)
    unknown = [m for m in modes if m not in score_fn.modes]
    if unknown:
        raise ValueError(f"unknown mode(s) {unknown}; {score_fn.name} has {list(score_fn.modes)}")
    if k > 1 and temperature <= 0:
        logger.warning("k=%d at temperature 0: every completion of a problem is the same", k)
    start = time.perf_counter()
    gen = _generate_all(
        sampler, samples, k, temperature, max_new_tokens, batch_size, seed, name, progress
    )
    gen_seconds = time.perf_counter() - start

    results, scoring_failures = _score_all(score_fn, samples, gen, modes, k)
    categories = [category_of(s) for s in samples]
    overall = {
        m: {
            **_metrics(results[m], range(len(samples)), k, correct_at),
            "scorer": _scorer_numbers(score_fn, samples, results[m], m, k),
        }
        for m in modes
    }
    by_cat: dict[str, list[int]] = {}
    for p, c in enumerate(categories):
        by_cat.setdefault(c, []).append(p)
    per_category = {
        c: {"n": len(ps), **{m: _metrics(results[m], ps, k, correct_at) for m in modes}}
        for c, ps in sorted(by_cat.items())
    }
    predictions = [
        {
            "id": samples[p].id,
            "category": categories[p],
            "sample_index": j,
            "answer": samples[p].answer,
            "prediction": gen.texts[p][j],
            "finished": gen.finished[p][j],
            **{m: results[m][p * k + j] for m in modes},
        }
        for p in range(len(samples))
        for j in range(k)
    ]
    n_gen_failed = sum(e is not None for e in gen.errors)
    report = EvalReport(
        name=name,
        modes=modes,
        settings={
            "k": k,
            "temperature": temperature,
            "max_new_tokens": max_new_tokens,
            "batch_size": batch_size,
            "seed": seed,
        },
        n_problems=len(samples),
        overall=overall,
        categories=per_category,
        predictions=predictions,
        skipped=[(str(a), str(b)) for a, b in skipped],
        failures={"generation": n_gen_failed, "scoring": scoring_failures},
        stats={
            "wall_seconds": round(time.perf_counter() - start, 3),
            "generation_seconds": round(gen_seconds, 3),
            "completion_tokens": gen.tokens,
            "truncated": sum(f is False for fs in gen.finished for f in fs),
        },
        info=dict(info or {}),
    )
    if out_dir is not None:
        write_eval_outputs(report, samples, out_dir)
    return report


def category_of(sample: Sample) -> str:
    """The breakdown key: ``meta["category"]``, else the task name, else ``"all"``."""
    category = sample.meta.get("category") if isinstance(sample.meta, dict) else None
    return str(category if category not in (None, "") else sample.task or "all")


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Generated:
    texts: list[list[str]]  # [problem][sample]
    finished: list[list[bool | None]]
    errors: list[str | None]  # per problem: None, or why generation failed
    tokens: int


def _generate_all(
    sampler: Any,
    samples: Sequence[Sample],
    k: int,
    temperature: float,
    max_new_tokens: int,
    batch_size: int,
    seed: int,
    name: str,
    progress: bool,
) -> _Generated:
    from rich.console import Console

    from mmrft.progress import progress_bar

    out = _Generated(
        [[""] * k for _ in samples], [[None] * k for _ in samples], [None] * len(samples), 0
    )
    # Seeded per batch so a rerun draws the same completions; the caller's RNG is restored.
    rng_state = torch.get_rng_state()
    console = Console(stderr=True)  # stdout stays free for the one-line JSON summary
    with progress_bar(console=console, disable=not progress) as bar:
        task = bar.add_task(f"{name}: generating (k={k})", total=len(samples))
        for b, lo in enumerate(range(0, len(samples), batch_size)):
            idx = list(range(lo, min(lo + batch_size, len(samples))))
            params = SamplingParams(
                n=k, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed + b
            )
            try:
                _generate_into(out, sampler, samples, idx, params)
            except Exception as e:  # retry one by one: find the problem that fails
                logger.warning(
                    "%s: generation failed on a batch (%s); retrying one by one", name, e
                )
                for p in idx:
                    try:
                        _generate_into(out, sampler, samples, [p], params)
                    except Exception as e1:
                        logger.warning("%s: generation failed on %s: %r", name, samples[p].id, e1)
                        out.errors[p] = f"generation failed: {type(e1).__name__}: {e1}"
            bar.advance(task, len(idx))
    torch.set_rng_state(rng_state)
    return out


def _generate_into(
    out: _Generated, sampler: Any, samples: Sequence[Sample], idx: list[int], params: SamplingParams
) -> None:
    batch = sampler.generate([samples[p] for p in idx], params)
    texts: list[list[str]] = [[] for _ in idx]
    finished: list[list[bool | None]] = [[] for _ in idx]
    done = getattr(batch, "finished", None)
    for row, (i, text) in enumerate(zip(batch.sample_index, batch.texts, strict=True)):
        texts[i].append(text)
        finished[i].append(None if done is None else bool(done[row]))
    if any(len(t) != params.n for t in texts):
        raise RuntimeError(
            f"engine returned {[len(t) for t in texts]} completions, "
            f"expected {params.n} per problem"
        )
    for i, p in enumerate(idx):
        out.texts[p], out.finished[p] = texts[i], finished[i]
    mask = getattr(batch, "completion_mask", None)
    out.tokens += int(mask.sum()) if mask is not None else 0


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def _score_all(
    score_fn: Any, samples: Sequence[Sample], gen: _Generated, modes: list[str], k: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """Per mode, one result per completion (problem-major) and the count of scoring failures.

    Completions of a problem whose generation failed are not shown to the scorer: they score 0
    with the flag ``generation_failed`` (a scorer could "guess" on an empty text, e.g. MMMU).
    """
    flat = [(p, j) for p in range(len(samples)) for j in range(k) if gen.errors[p] is None]
    results: dict[str, list[dict[str, Any]]] = {}
    failures: dict[str, int] = {}
    for mode in modes:
        out = [
            {
                "score": 0.0,
                "extracted": None,
                "flags": ["generation_failed"],
                "error": gen.errors[p],
            }
            for p in range(len(samples))
            for _ in range(k)
        ]
        texts = [gen.texts[p][j] for p, j in flat]
        scored, failures[mode] = score_fn.score(texts, [samples[p] for p, _ in flat], mode)
        for (p, j), r in zip(flat, scored, strict=True):
            out[p * k + j] = r
        results[mode] = out
    return results, failures


def _metrics(
    results: list[dict[str, Any]], problems: Sequence[int], k: int, correct_at: float
) -> dict[str, float]:
    scores = [[results[p * k + j]["score"] for j in range(k)] for p in problems]
    answers = [[results[p * k + j]["extracted"] for j in range(k)] for p in problems]
    return k_sample_metrics(scores, answers, correct_at=correct_at)


def _scorer_numbers(
    score_fn: Any, samples: Sequence[Sample], results: list[dict[str, Any]], mode: str, k: int
) -> dict[str, Any]:
    """The scorer's own aggregate, computed on each draw j (one completion per problem, as the
    benchmark defines it) and averaged over the k draws: the expected single-draw number."""
    try:
        draws = [
            score_fn.aggregate(samples, [results[p * k + j] for p in range(len(samples))], mode)
            for j in range(k)
        ]
    except Exception as e:  # the per-completion numbers stand without it
        logger.warning("%s: aggregate failed in %s mode: %s", score_fn.name, mode, e)
        return {"error": f"{type(e).__name__}: {e}"}
    return _mean_tree(draws)


def _mean_tree(trees: list[Any]) -> Any:
    """Element-wise mean of equally shaped JSON trees (numbers averaged, dicts recursed).

    >>> _mean_tree([{"acc": 1.0, "sub": {"x": 2}, "name": "a"}, {"acc": 0.0, "sub": {"x": 4}}])
    {'acc': 0.5, 'sub': {'x': 3.0}, 'name': 'a'}
    """
    first = trees[0]
    if isinstance(first, dict):
        return {
            key: _mean_tree([t[key] for t in trees if isinstance(t, dict) and key in t])
            for key in first
        }
    numbers = [t for t in trees if isinstance(t, (int, float)) and not isinstance(t, bool)]
    if len(numbers) == len(trees) and any(t != first for t in trees):
        return sum(numbers) / len(numbers)
    return first  # equal values (a count ``n``) keep their type; non-numbers: the first draw's


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def write_eval_outputs(report: EvalReport, samples: Sequence[Sample], out_dir: str | Path) -> Path:
    """Write predictions.jsonl, results.json (with example cards) and report.html; return dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as f:
        for row in report.predictions:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    results = {**report.results(), "examples": _examples(report, samples, out)}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    from mmrft.report.html import write_eval_report

    write_eval_report(out)
    return out


def _examples(report: EvalReport, samples: Sequence[Sample], out: Path) -> list[dict[str, Any]]:
    """A few problems for the report: first where the modes disagree, then wrong and right ones
    alternately (judged on the first completion in the first mode)."""
    k, first = report.settings["k"], report.modes[0]
    rows = report.predictions[::k]  # sample 0 of each problem
    disagree = [p for p, r in enumerate(rows) if len({r[m]["score"] for m in report.modes}) > 1]
    wrong = [p for p, r in enumerate(rows) if r[first]["score"] < 1]
    right = [p for p, r in enumerate(rows) if r[first]["score"] >= 1]
    mixed = [p for pair in zip(wrong, right, strict=False) for p in pair]
    mixed += wrong[len(right) :] + right[len(wrong) :]
    # one problem per category first, so the cards cover the categories before repeating one
    first_of: dict[str, int] = {}
    for p in mixed:
        first_of.setdefault(rows[p]["category"], p)
    order = disagree[: N_EXAMPLES // 2] + list(first_of.values()) + mixed
    picked = list(dict.fromkeys(order))[:N_EXAMPLES]
    examples = []
    for p in picked:
        sample, row = samples[p], rows[p]
        image = None
        if sample.images:
            (out / "examples").mkdir(exist_ok=True)
            image = f"examples/{p:04d}-{_UNSAFE.sub('_', sample.id)[:60]}.png"
            sample.images[0].convert("RGB").save(out / image)
        examples.append(
            {
                "id": sample.id,
                "category": row["category"],
                "image": image,
                "prompt": sample.prompt,
                "answer": sample.answer,
                "prediction": row["prediction"],
                "results": {m: row[m] for m in report.modes},
            }
        )
    return examples
