"""The held-out evaluation split across 2 ranks gives the one-process result for all problems.

Greedy decoding is deterministic, so the merged greedy texts and per-problem greedy values must
equal one process evaluating every problem (each rank's sampled draws come from its own
generator, so only their count and range are checked). The problems are split 3 + 2, so the
second rank pads its block: a padding row that leaked into the merge would add a sixth problem
or shift every later one.
"""

from __future__ import annotations

import pytest
import torch

from .test_dp_equivalence import _run, needs_torchrun


@needs_torchrun
def test_two_ranks_evaluate_their_shares_and_merge_to_the_one_rank_result(tmp_path):
    one = _run("eval_worker.py", tmp_path / "one.pt")
    two = _run("eval_worker.py", tmp_path / "two.pt", nproc=2)
    assert one["n_problems"] == two["n_problems"] == 5
    assert two["greedy_texts"] == one["greedy_texts"]
    for key in ("greedy_accuracy", "greedy_reward"):
        torch.testing.assert_close(two["problems"][key], one["problems"][key])
    for key in ("accuracy", "reward", "response_length"):
        assert two["problems"][key].shape == (5,)
    assert ((two["problems"]["accuracy"] >= 0) & (two["problems"]["accuracy"] <= 1)).all()


def test_one_process_is_plain_evaluate():
    from mmrft.trainer.sharded_eval import shard_bounds

    # 7 problems on 3 ranks: blocks of ceil(7/3) = 3 -> [0,3) [3,6) [6,7)
    assert [shard_bounds(7, 3, r) for r in range(3)] == [(0, 3), (3, 6), (6, 7)]
    with pytest.raises(ZeroDivisionError):
        shard_bounds(7, 0, 0)
