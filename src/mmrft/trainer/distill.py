"""Chain-of-thought distillation by rejection sampling: a teacher's verified traces as SFT data.

Design note: four flat steps, each a plain function the build layer strings together.

1. ``sample_traces`` — the teacher answers every prompt k times through a rollout engine
   (``Sampler``) and the task's verifiable reward scores each trace; a trace is *correct* when
   its accuracy component (``overall`` when the reward has none) reaches ``correct_at`` (1.0:
   full credit, as ``eval/passk.py`` counts a pass).
2. ``select_traces`` — a pure rule keeps some of the correct traces: ``all`` of them, the
   ``shortest`` one, or at most ``m`` (``max_m``, the first m in sampling order: the k draws are
   independent, so that is a uniform choice). Wrong traces are never kept.
3. ``trace_stats`` — per task: kept fraction, the teacher's unbiased pass@j (Chen et al. 2021,
   ``eval.passk.pass_at_k``) and mean trace length in tokens (of the teacher's tokenizer) and in
   characters.
4. ``write_sft_dataset`` — the kept traces in the standard JSONL format, one row per trace:
   ``response`` holds the trace, ``answer`` the reference, ``task`` and ``meta`` as the problem
   had them (so the same reward still verifies the student), images as PNGs beside the file.

Traces travel as text, so the student may be of another family with another tokenizer: it
re-tokenises ``response`` with its own. Rejection-sampling fine-tuning (expert iteration) is the
same pipeline with the policy as its own teacher (``mmrft.build.distill.run_rft``).

When no trace is correct there is nothing to learn from; ``write_sft_dataset`` raises
``NoCorrectTraces`` before writing anything rather than leaving an empty dataset behind.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmrft.data.sample import Sample
from mmrft.eval.passk import pass_at_k, pass_ks
from mmrft.rewards.base import RewardFn, safe_reward
from mmrft.rollout.base import SamplingParams

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class NoCorrectTraces(ValueError):
    """The teacher produced no correct trace: there is no dataset to write."""


@dataclass
class Trace:
    """One sampled completion of a prompt, scored."""

    text: str
    reward: float
    """The reward's ``overall`` score."""
    correct: bool
    """Its accuracy (``overall`` if the reward has none) reached ``correct_at``."""
    n_tokens: int
    """Completion tokens in the teacher's tokenizer, EOS included."""


@dataclass
class PromptTraces:
    """A problem and the traces sampled for it (all k, or the kept ones after selection)."""

    sample: Sample
    traces: list[Trace] = field(default_factory=list)

    @property
    def n_correct(self) -> int:
        return sum(t.correct for t in self.traces)


# --------------------------------------------------------------------------------------------
# 1. Sampling and scoring
# --------------------------------------------------------------------------------------------


def sample_traces(
    sampler,
    samples: list[Sample],
    k: int,
    reward_fn: RewardFn,
    *,
    temperature: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = 0,
    prompts_per_call: int = 64,
    correct_at: float = 1.0,
) -> list[PromptTraces]:
    """``k`` traces per problem from ``sampler`` (the teacher's rollout engine), each scored by
    ``reward_fn``; one ``PromptTraces`` per problem, in order.

    Problems go to the engine ``prompts_per_call`` at a time (chunk c seeded ``seed + c``), so
    a large prompt set never holds all its prompt tensors at once.
    """
    out: list[PromptTraces] = []
    for c, start in enumerate(range(0, len(samples), prompts_per_call)):
        chunk = samples[start : start + prompts_per_call]
        params = SamplingParams(
            n=k, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed + c
        )
        batch = sampler.generate(chunk, params)
        rows = [chunk[i] for i in batch.sample_index]
        scores, _ = safe_reward(reward_fn, batch.texts, rows)
        accuracy = scores.get("accuracy", scores["overall"])
        lengths = batch.completion_mask.sum(1).tolist()  # [N]
        groups = [PromptTraces(s) for s in chunk]
        for r, i in enumerate(batch.sample_index):
            groups[i].traces.append(
                Trace(
                    text=batch.texts[r],
                    reward=float(scores["overall"][r]),
                    correct=accuracy[r] >= correct_at - 1e-9,
                    n_tokens=int(lengths[r]),
                )
            )
        out += groups
    return out


# --------------------------------------------------------------------------------------------
# 2. Selection (pure)
# --------------------------------------------------------------------------------------------


def _keep_all(correct: list[Trace], m: int | None) -> list[Trace]:
    return correct


def _keep_shortest(correct: list[Trace], m: int | None) -> list[Trace]:
    # fewest tokens; ties: fewest characters, then the earlier draw (min is stable)
    return [min(correct, key=lambda t: (t.n_tokens, len(t.text)))]


def _keep_max_m(correct: list[Trace], m: int | None) -> list[Trace]:
    if m is None or m < 1:
        raise ValueError(f"keep rule 'max_m' needs m >= 1 (distill.max_per_prompt), got {m}")
    return correct[:m]


KEEP_RULES: dict[str, Callable[[list[Trace], int | None], list[Trace]]] = {
    "all": _keep_all,
    "shortest": _keep_shortest,
    "max_m": _keep_max_m,
}
"""Rule name -> ``(correct traces of one prompt, m) -> kept traces`` (never called empty)."""


def select_traces(
    traces: list[PromptTraces], rule: str, m: int | None = None
) -> list[PromptTraces]:
    """The correct traces ``rule`` keeps, per problem; problems with none kept are left out.

    >>> t = lambda text, ok: Trace(text, float(ok), ok, len(text))
    >>> p = PromptTraces(Sample("a", "q", "3"), [t("xx3", 1), t("3", 1), t("4", 0), t("y3", 1)])
    >>> [x.text for x in select_traces([p], "shortest")[0].traces]
    ['3']
    >>> [x.text for x in select_traces([p], "max_m", 2)[0].traces]
    ['xx3', '3']
    """
    if rule not in KEEP_RULES:
        raise ValueError(f"unknown keep rule {rule!r}; known: {sorted(KEEP_RULES)}")
    keep = KEEP_RULES[rule]
    kept = []
    for group in traces:
        correct = [t for t in group.traces if t.correct]
        if correct:
            kept.append(replace(group, traces=keep(correct, m)))
    return kept


# --------------------------------------------------------------------------------------------
# 3. Statistics
# --------------------------------------------------------------------------------------------


def _task_stats(sampled: list[PromptTraces], kept: list[PromptTraces]) -> dict[str, float]:
    k = len(sampled[0].traces)
    n_traces = sum(len(g.traces) for g in sampled)
    kept_traces = [t for g in kept for t in g.traces]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    stats: dict[str, float] = {
        "prompts": len(sampled),
        "traces": n_traces,
        "correct": sum(g.n_correct for g in sampled),
        "kept": len(kept_traces),
        "kept_fraction": len(kept_traces) / n_traces,
        "prompts_kept": len(kept),
        "mean_reward": mean([t.reward for g in sampled for t in g.traces]),
    }
    for j in pass_ks(k):  # the teacher's unbiased pass@j from its k draws per prompt
        stats[f"pass@{j}"] = mean([pass_at_k(k, g.n_correct, j) for g in sampled])
    stats["mean_tokens"] = mean([t.n_tokens for t in kept_traces])
    stats["mean_chars"] = mean([len(t.text) for t in kept_traces])
    stats["mean_tokens_sampled"] = mean([t.n_tokens for g in sampled for t in g.traces])
    return stats


def trace_stats(sampled: list[PromptTraces], kept: list[PromptTraces]) -> dict[str, dict]:
    """Per task (``sample.task``, "" for none) and ``"all"``: prompts, traces, correct and kept
    counts, ``kept_fraction`` (kept / sampled traces), the teacher's ``pass@j`` for each j of
    ``pass_ks(k)``, ``mean_reward``, and the kept traces' ``mean_tokens`` / ``mean_chars``."""
    if not sampled:
        return {}
    if len({len(g.traces) for g in sampled}) != 1:
        raise ValueError("every problem needs the same number of sampled traces (k)")
    tasks = sorted({g.sample.task for g in sampled})
    out = {"all": _task_stats(sampled, kept)}
    if len(tasks) > 1:
        for task in tasks:
            out[task] = _task_stats(
                [g for g in sampled if g.sample.task == task],
                [g for g in kept if g.sample.task == task],
            )
    return out


# --------------------------------------------------------------------------------------------
# 4. The dataset on disk
# --------------------------------------------------------------------------------------------


def write_sft_dataset(path: str | Path, kept: list[PromptTraces]) -> Path:
    """The kept traces as a standard-format JSONL at ``path``: one row per trace with ``id``
    (``<problem id>-t<j>``), ``task``, ``prompt``, ``images`` (PNGs written once per problem to
    ``images/`` beside the file, relative paths), ``answer``, ``meta`` and ``response`` (the
    trace), plus ``source_id`` (the problem's id; loaders ignore it).

    Raises ``NoCorrectTraces`` (nothing written) when ``kept`` holds no trace. The file appears
    whole or not at all (written beside it, then renamed).
    """
    n_traces = sum(len(g.traces) for g in kept)
    if n_traces == 0:
        raise NoCorrectTraces(
            f"no correct trace to write to {path}: the teacher solved none of its prompts"
        )
    ids = [g.sample.id for g in kept]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate problem ids among the kept traces; image files are named by id")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for group in kept:
            sample = group.sample
            refs = _write_images(sample, path.parent)
            meta = {k: v for k, v in sample.meta.items() if k != "response"}  # the trace rules
            for j, trace in enumerate(group.traces):
                row = {
                    "id": f"{sample.id}-t{j}",
                    "task": sample.task,
                    "prompt": sample.prompt,
                    "images": refs,
                    "answer": sample.answer,
                    "meta": meta,
                    "response": trace.text,
                    "source_id": sample.id,
                }
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path


def _write_images(sample: Sample, root: Path) -> list[str]:
    refs = []
    if sample.audios:
        raise ValueError(f"sample {sample.id!r}: distilling audio prompts is not supported yet")
    for k, image in enumerate(sample.images):
        stem = _UNSAFE.sub("_", sample.id) + (f"-{k}" if k else "")
        (root / "images").mkdir(exist_ok=True)
        image.save(root / "images" / f"{stem}.png", format="PNG")
        refs.append(f"images/{stem}.png")
    return refs


def write_stats(path: str | Path, stats: dict, **info) -> Path:
    """``stats.json``: ``info`` (teacher, k, keep rule, ...) and the per-task statistics."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**info, "tasks": stats}, indent=2))
    return path
