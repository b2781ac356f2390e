"""Per-sample seeds: one dataset's seeds never overlap another's.

Used by ``tasks`` (``Task.dataset``) and by ``data.stream`` (the training streams); it lives in
``data`` so the stream, which sits below the tasks, need not import them.
"""

from __future__ import annotations

SEED_STRIDE = 1_000_000
"""Per-sample seeds of one dataset occupy ``[seed * SEED_STRIDE, seed * SEED_STRIDE + n)``."""


def sample_seeds(base_seed: int, n: int) -> list[int]:
    """Per-sample seeds for a dataset of ``n`` samples built from ``base_seed``.

    Ranges from different non-negative base seeds never overlap (the reason ``n`` is capped):

    >>> sample_seeds(0, 3), sample_seeds(2, 2)
    ([0, 1, 2], [2000000, 2000001])
    """
    if base_seed < 0:
        raise ValueError(f"base seed must be >= 0, got {base_seed}")
    if not 0 <= n <= SEED_STRIDE:
        raise ValueError(f"a dataset holds 0..{SEED_STRIDE} samples per base seed, got {n}")
    start = base_seed * SEED_STRIDE
    return list(range(start, start + n))
