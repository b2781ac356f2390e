"""The Task interface: registry wiring, seed ranges, and extension by subclassing."""

import pytest

from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS
from mmrft.tasks import SEED_STRIDE, TASKS, CountingTask, Task, sample_seeds


def test_registered_tasks_are_consistent():
    assert TASKS.get("count") is CountingTask
    for key in TASKS.names():
        cls = TASKS.get(key)
        assert cls.name == key
        assert cls.description and "\n" not in cls.description
        assert cls.reward_name in REWARDS, f"{key} names unknown reward {cls.reward_name!r}"


def test_sample_seeds_ranges_are_disjoint():
    train, held = set(sample_seeds(0, 1000)), set(sample_seeds(10_000, 1000))
    assert len(train) == len(held) == 1000
    assert not train & held
    # The largest allowed dataset still stops short of the next base seed's range.
    assert max(sample_seeds(1, SEED_STRIDE)) < min(sample_seeds(2, 1))


@pytest.mark.parametrize("base, n", [(-1, 5), (0, SEED_STRIDE + 1), (0, -1)])
def test_sample_seeds_rejects_bad_arguments(base, n):
    with pytest.raises(ValueError):
        sample_seeds(base, n)


def test_subclass_gets_dataset_and_level_check():
    class Echo(Task):
        name = "echo-test"
        description = "Repeat the seed."
        reward_name = "format"
        levels = (1, 2)

        def __init__(self, prefix: str = "") -> None:
            self.prefix = prefix

        def generate(self, seed: int, level: int = 1) -> Sample:
            self.check_level(level)
            return Sample(id=f"echo-{seed}", prompt="?", answer=f"{self.prefix}{seed}")

    task = Echo(prefix="n")
    assert [s.answer for s in task.dataset(3, seed=2)] == ["n2000000", "n2000001", "n2000002"]
    with pytest.raises(ValueError, match=r"levels \[1, 2\]"):
        task.generate(0, level=3)
