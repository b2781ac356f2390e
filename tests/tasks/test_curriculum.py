"""Task mixtures and the adaptive level rule."""

import doctest

import pytest

import mmrft.tasks.curriculum
from mmrft.tasks import TASKS
from mmrft.tasks.curriculum import AdaptiveLevel, TaskMixture


def test_mixture_weights_and_determinism():
    mix = TaskMixture({"count": 3.0, "grid_count": 1.0})
    picks = [mix.pick(s) for s in range(2000)]
    share = picks.count("count") / len(picks)
    assert 0.72 < share < 0.78  # 3 : 1 -> 0.75 (binomial sd ~0.01)
    a, b = mix.dataset(20, seed=1, level=2), mix.dataset(20, seed=1, level=2)
    assert [(s.id, s.answer) for s in a] == [(s.id, s.answer) for s in b]
    for s in a:  # each sample is exactly its task's sample for that seed
        want = TASKS.get(s.task)().generate(int(s.id.rsplit("-", 1)[1]), 2)
        assert (s.id, s.answer, s.meta) == (want.id, want.answer, want.meta)


def test_mixture_reward_routes_by_task():
    mix = TaskMixture({"count": 1.0, "clock": 1.0, "spatial": 1.0})
    samples = mix.dataset(30, seed=0, level=1)
    assert len({s.task for s in samples}) == 3
    scores = mix.reward()([f"<answer>{s.answer}</answer>" for s in samples], samples)
    assert scores["accuracy"] == [1.0] * len(samples)


def test_mixture_kwargs_and_errors():
    mix = TaskMixture({"ground": 1.0}, {"ground": {"box_format": "rel1000"}})
    assert mix.generate(0, 3).meta["box_format"] == "rel1000"
    with pytest.raises(ValueError):
        TaskMixture({"count": 0.0})
    with pytest.raises(ValueError):
        TaskMixture({"count": 1.0}, {"clock": {}})


def test_adaptive_level_rises_only_on_full_windows():
    lv = AdaptiveLevel(levels=(1, 2, 3), window=10, promote_at=0.8)
    assert lv.update([1] * 9) == 1  # window not yet full
    assert lv.update([1]) == 2  # 10/10 >= 0.8
    assert lv.update([1] * 7 + [0] * 3) == 2  # 7/10 < 0.8, and the window was cleared
    assert lv.update([1] * 10) == 3
    assert lv.update([1] * 50) == 3  # top level is sticky
    assert lv.update([0] * 50) == 3  # demote_at=0 never moves down


def test_adaptive_level_moves_down():
    lv = AdaptiveLevel(levels=(1, 2, 3, 4, 5), window=4, promote_at=0.75, demote_at=0.25, start=3)
    # [0, 1, 0, 0]: 1/4 = 0.25 <= 0.25 -> level 2; the next four are all wrong -> level 1
    assert lv.update([0, 1, 0, 0]) == 2
    assert lv.update([0, 0, 0, 0]) == 1
    assert lv.update([0] * 8) == 1  # bottom level is sticky


@pytest.mark.parametrize(
    "kwargs", [{"window": 0}, {"promote_at": 0.3, "demote_at": 0.5}, {"levels": ()}]
)
def test_adaptive_level_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        AdaptiveLevel(**kwargs)


def test_doctests():
    result = doctest.testmod(mmrft.tasks.curriculum)
    assert result.attempted and not result.failed
