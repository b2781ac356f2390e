"""mmrft-bench: frozen problems (pinned fingerprints), its fingerprint definition, its scoring."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from mmrft.data.sample import Sample
from mmrft.eval.scoring import RewardScoring
from mmrft.eval.suite import (
    MANIFESTS,
    build_suite,
    entry_samples,
    fingerprint,
    manifest,
    suite_names,
    suite_reward,
)
from mmrft.tasks import SEED_STRIDE, TASKS

# Regression pins: the fingerprint of the first 2 problems of each v1 entry, recorded when v1
# was released. If one fails, a generator (or a renderer it depends on) now makes different
# problems: do NOT update these values. Add a new suite version with its own pins instead
# (see the versioning rule in mmrft/eval/suite.py and docs/eval.md).
V1_PINS = {
    "count/L2": "8ab7f7c1774249553da26104b8327885b96c8c2bfd8efeaa8d4f514bfe07841d",
    "count/L4": "1d8725938f0bc838e6398fac0d98e3f0d167352b451c1a58a5a3be2d4f34228d",
    "grid_count/L2": "496b6f143e98393750f4651704f9534c84050c4b98ea2c510a4b37d87fd3d9fc",
    "spatial/L2": "7b1dfb1a25eb28ad677df58113798bbd2b9baa1186a806611ff5aa20d241379b",
    "compare_count/L2": "cc8492da402bd78c626c86274feba58d2d6e74c95167bc6bd201ce3427bfdf6d",
    "clock/L2": "3e53d9da37f2548924cf9ef443ed5c43ceb062374692b251a86e9e9f78691bee",
    "digits/L2": "13f44ae7e989db9ca3e2044bfd3e7b666341c076137b373231fef8c75c4828fe",
    "ocr/L2": "b544910f2fbc569fcadf20432d37253a85a9dcac9348242cb0c9268d39a0d375",
    "chart/L2": "56423008196d2e3a32b6dab3f92986c0fc01c8783cc908d796d351a4cb5d99bb",
}


@pytest.mark.parametrize("entry", MANIFESTS["v1"], ids=lambda e: e.category)
def test_v1_problems_are_frozen(entry):
    got = fingerprint(entry_samples(entry, 2, "mmrft-bench-v1"))
    assert got == V1_PINS[entry.category], (
        f"mmrft-bench-v1 entry {entry.category} changed: its problems differ from the released "
        "version. Keep v1's pins; add a new suite version instead."
    )


def test_every_entry_is_pinned_and_valid():
    entries = manifest("mmrft-bench-v1")
    assert [e.category for e in entries] == list(V1_PINS)  # categories are unique
    assert len({e.seed for e in entries}) == len(entries)
    for e in entries:
        assert e.level in TASKS.get(e.task).levels and 0 < e.n < SEED_STRIDE
        # disjoint from the held-out eval problems (data.eval_seed = 1_000_000) and from the
        # training bases (run.seed * 10 + 1|2) of any run.seed below 700_000
        assert e.seed != 1_000_000 and e.seed > 7_000_000
    assert suite_names() == ["mmrft-bench-v1"]
    with pytest.raises(KeyError, match="mmrft-bench-v1"):
        manifest("v0")


def test_fingerprint_is_the_documented_hash():
    """Recompute the documented definition by hand: length-prefixed fields, then raw pixels."""
    image = Image.new("RGB", (2, 1), (10, 20, 30))
    samples = [
        Sample(id="a", prompt="p?", answer="3", images=[image]),
        Sample(id="b", prompt="", answer="x"),
    ]
    h = hashlib.sha256()
    for part in [b"a", b"p?", b"3", b"RGB 2x1", bytes([10, 20, 30] * 2), b"b", b"", b"x"]:
        h.update(len(part).to_bytes(8, "little") + part)
    assert fingerprint(samples) == h.hexdigest()
    # one pixel or one answer changed -> a different fingerprint
    image.putpixel((1, 0), (10, 20, 31))
    assert fingerprint(samples) != h.hexdigest()


def test_limit_spreads_over_entries_and_prefixes_are_stable():
    three = build_suite("v1", limit=3)
    assert [s.meta["category"] for s in three] == ["count/L2", "count/L4", "grid_count/L2"]
    assert [s.id for s in three] == ["count-L2-0000", "count-L4-0000", "grid_count-L2-0000"]
    assert all(s.meta["suite"] == "mmrft-bench-v1" for s in three)
    # the first problems of an entry do not depend on how many are built
    entry = MANIFESTS["v1"][0]
    one, two = entry_samples(entry, 1, "x"), entry_samples(entry, 2, "x")
    assert fingerprint(one) == fingerprint(two[:1])


def test_suite_reward_scores_gold_answers_right():
    samples = build_suite("v1", limit=5)  # count, count, grid_count, spatial, compare_count
    scoring = RewardScoring(suite_reward("v1"))
    gold = [f"<answer>{s.answer}</answer>" for s in samples]
    results, failed = scoring.score(gold, samples)
    assert failed == 0 and [r["score"] for r in results] == [1.0] * 5
    wrong = [f"<answer>{s.answer}9</answer>" for s in samples]  # "3" -> "39", "A" -> "A9"
    assert [r["score"] for r in scoring.score(wrong, samples)[0]] == [0.0] * 5
