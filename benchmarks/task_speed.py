"""Samples per second of every registered task, at its easiest and hardest level.

    python benchmarks/task_speed.py [--n 100] [--repeats 3] [--tasks chart ocr]

Each task is built once and warmed up with one sample (font loading, matplotlib's first figure,
scikit-learn's dataset), then timed over ``--n`` fresh seeds; the best of ``--repeats`` runs is
reported. Generation is single-threaded. Run it on a quiet machine; it is a measurement, not a
test.
"""

from __future__ import annotations

import argparse
import time

from mmrft.tasks import TASKS


def samples_per_second(task, level: int, n: int, repeats: int) -> float:
    task.generate(10**9, level)  # warm-up
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        for seed in range(r * n, (r + 1) * n):
            task.generate(seed, level)
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="samples per timed run")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs; the best is shown")
    ap.add_argument("--tasks", nargs="*", default=None, help="task names (default: all)")
    args = ap.parse_args()

    print(f"{'task':15s} {'level':>5s} {'samples/s':>10s} {'ms/sample':>10s}")
    for name in args.tasks or TASKS.names():
        task = TASKS.get(name)()
        for level in sorted({task.levels[0], task.levels[-1]}):
            rate = samples_per_second(task, level, args.n, args.repeats)
            print(f"{name:15s} {level:5d} {rate:10.0f} {1000 / rate:10.2f}")


if __name__ == "__main__":
    main()
