"""Throughput of the "math" reward (completions/s): in-process (serial) vs ``MathVerifyPool``.

    python benchmarks/reward_throughput.py [--completions 96] [--workers 1 2] [--repeats 3]

The batch mixes realistic answers (LaTeX fractions, ``\\boxed{}``, plain numbers, polynomials,
intervals, wrong answers) with a few pathological ones (a 2,000-character repeated string, a
300-character sum, nested exponents and 300 open brackets that run into the 2 s timeout).
Pools are started before timing (start-up is printed separately). Prints best-of-N seconds,
completions/s and pooled/serial ratios measured in the same process; run it on a quiet machine,
it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import random
import time

from mmrft.data.sample import Sample
from mmrft.rewards.math import MathVerifyPool, math_reward


def make_batch(n: int, n_pathological: int, seed: int = 0) -> tuple[list[str], list[Sample]]:
    """``n`` (completion, sample) pairs; the last ``n_pathological`` are pathological."""
    rng = random.Random(seed)
    completions, samples = [], []
    for i in range(n - n_pathological):
        a, b = rng.randint(1, 9), rng.randint(2, 12)
        kind = i % 6
        if kind == 0:  # fraction vs its decimal
            gold, pred = f"\\frac{{{a}}}{{{b}}}", f"{a / b:.6f}".rstrip("0")
        elif kind == 1:  # boxed LaTeX
            gold, pred = f"{a}/{b}", f"\\boxed{{\\dfrac{{{a}}}{{{b}}}}}"
        elif kind == 2:  # plain integer, right or wrong
            gold, pred = str(a * b), str(a * b + rng.choice([0, 0, 1]))
        elif kind == 3:  # polynomial identity
            gold, pred = f"(x+{a})^2", f"x^2 + {2 * a}x + {a * a}"
        elif kind == 4:  # interval
            gold, pred = f"[{a}, {a + b})", f"[{a},{a + b})"
        else:  # wrong symbolic answer
            gold, pred = f"\\sqrt{{{a}}}", f"{a}^{{1/3}}"
        think = f"<think>Let me work it out: {a} and {b} give the result.</think>"
        completions.append(f"{think}<answer>{pred}</answer>")
        samples.append(Sample(id=f"m{i}", prompt="Solve.", answer=gold))
    pathological = [
        "3 " * 1000,  # past MAX_ANSWER_CHARS: rejected without parsing
        "1+" * 150 + "1",  # long but legitimate: 151
        "9^{9^{9^{9}}}",  # runs into the timeout
        "(" * 300 + "1",  # runs into the timeout
    ]
    for j in range(n_pathological):
        completions.append(f"<answer>{pathological[j % len(pathological)]}</answer>")
        samples.append(Sample(id=f"p{j}", prompt="Solve.", answer="151"))
    return completions, samples


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--completions", type=int, default=96)
    ap.add_argument("--pathological", type=int, default=4, help="how many of them")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    completions, samples = make_batch(args.completions, args.pathological)
    n = len(completions)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"load average {os.getloadavg()[0]:.2f}, Python {platform.python_version()}, "
        f"math-verify {importlib.metadata.version('math-verify')}"
    )
    print(f"{n} completions ({args.pathological} pathological), best of {args.repeats}")
    reference = math_reward(completions, samples)  # warm-up: imports, sympy caches
    t_serial = best_of(lambda: math_reward(completions, samples), args.repeats)
    rows = [("serial (main thread)", t_serial, 1.0)]
    for workers in args.workers:
        with MathVerifyPool(workers=workers) as pool:
            t0 = time.perf_counter()
            scores = pool.reward(completions, samples)  # starts the workers, warms them
            startup = time.perf_counter() - t0
            differ = [
                s.id
                for s, a, b in zip(samples, scores["overall"], reference["overall"], strict=True)
                if a != b
            ]
            if differ:  # only a verdict cut by the timeout on one side can differ
                print(f"  (pool of {workers} disagrees with serial on {differ}: timeouts?)")
            t_pool = best_of(lambda pool=pool: pool.reward(completions, samples), args.repeats)
        rows.append((f"pool, {workers} worker(s)", t_pool, t_serial / t_pool))
        print(f"  (pool of {workers}: first call incl. start-up {startup:.2f} s)")
    print(f"{'mode':<24}{'best s':>9}{'compl/s':>10}{'pooled/serial':>15}")
    for name, t, speedup in rows:
        print(f"{name:<24}{t:>9.3f}{n / t:>10.1f}{speedup:>14.2f}x")


if __name__ == "__main__":
    main()
