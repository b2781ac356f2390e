"""The problem stream: prefetching changes nothing, levels follow the policy, state resumes."""

from __future__ import annotations

import threading

import pytest

from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.tasks.curriculum import AdaptiveLevel, LevelSchedule


def _recording_stream():
    calls: list[tuple[int, int, str]] = []

    def problem_at(i: int, level: int) -> Sample:
        calls.append((i, level, threading.current_thread().name))
        return Sample(id=f"{i}@{level}", prompt="", answer="")

    return ProblemStream(problem_at, level=1), calls


def test_prefetch_serves_exactly_what_plain_generation_would():
    plain, _ = _recording_stream()
    fast, calls = _recording_stream()
    fast.prefetch()
    for k in (3, 3, 2, 4):
        assert [s.id for s in fast.next_batch(k)] == [s.id for s in plain.next_batch(k)]
    # after the first batch, problems were made ahead by the worker thread
    assert any(name.startswith("mmrft-prefetch") for _, _, name in calls)
    fast.prefetch(False)


def test_level_change_discards_the_batch_prefetched_at_the_old_level():
    stream, _ = _recording_stream()
    stream.prefetch()
    stream.policy = LevelSchedule([[0, 1], [2, 3]])
    stream.next_batch(2)  # step 1 at level 1; step 2's batch is prefetched at level 1
    stream.feedback(1, [1.0])  # schedule: step 2 is level 3
    assert [s.id for s in stream.next_batch(2)] == ["2@3", "3@3"]
    stream.prefetch(False)


def test_adaptive_state_round_trips_through_the_stream():
    a, _ = _recording_stream()
    a.policy = AdaptiveLevel(levels=(1, 2, 3), window=4, promote_at=0.75)
    a.next_batch(2)
    a.feedback(1, [1, 1, 1, 1])  # full window at 1.0 -> level 2
    a.feedback(2, [1, 0])  # half a window
    b, _ = _recording_stream()
    b.policy = AdaptiveLevel(levels=(1, 2, 3), window=4, promote_at=0.75)
    b.load_state_dict(a.state_dict())
    assert (b.position, b.level) == (2, 2)
    # the half-full window came along: two more successes complete it at 3/4 -> level 3
    b.feedback(3, [1, 1])
    a.feedback(3, [1, 1])
    assert b.level == a.level == 3


def _dataset(n=4):
    return [Sample(id=f"s{i}", prompt="", answer="") for i in range(n)]


def test_saturated_prompts_are_dropped_after_consecutive_flat_groups():
    samples = _dataset()
    stream = ProblemStream.from_samples(samples, seed=0)
    stream.drop_after = 2
    a, b = samples[0], samples[1]
    stream.feedback(1, [1, 1, 0, 1], [a, a, b, b])  # a all solved (1st time), b mixed
    stream.feedback(2, [1, 1, 0, 0], [a, a, b, b])  # a 2nd time -> dropped; b all failed once
    stream.feedback(3, [0, 1], [b, b])  # b mixed again: its streak restarts
    assert stream.saturated == {"s0"}
    served = [s.id for s in stream.next_batch(12)]  # three epochs' worth
    assert "s0" not in served and set(served) == {"s1", "s2", "s3"}
    # resumes with the same drops
    other = ProblemStream.from_samples(samples, seed=0)
    other.load_state_dict(stream.state_dict())
    assert other.saturated == {"s0"} and [s.id for s in other.next_batch(3)] == [
        s.id for s in stream.next_batch(3)
    ]


def test_everything_saturated_is_a_clear_error():
    samples = _dataset(2)
    stream = ProblemStream.from_samples(samples, seed=0)
    stream.drop_after = 1
    stream.feedback(1, [1, 1, 0, 0], [samples[0], samples[0], samples[1], samples[1]])
    with pytest.raises(ValueError, match="drop_saturated_after"):
        stream.next_batch(1)
