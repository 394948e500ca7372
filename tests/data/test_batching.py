import random

import pytest

from seqexp.data.batching import BucketBatchSampler, padding_ratio


@pytest.fixture
def lengths():
    rng = random.Random(0)
    return [rng.randint(1, 40) for _ in range(1000)]


def test_every_example_once_per_epoch(lengths):
    for shuffle in (True, False):
        batches = list(BucketBatchSampler(lengths, 32, shuffle=shuffle))
        assert sorted(i for b in batches for i in b) == list(range(1000))
        assert len(batches) == len(BucketBatchSampler(lengths, 32)) == 32


def test_deterministic_per_seed_and_epoch(lengths):
    a, b = BucketBatchSampler(lengths, 32, seed=1), BucketBatchSampler(lengths, 32, seed=1)
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(BucketBatchSampler(lengths, 32, seed=2)) != list(b)


def test_bucketing_cuts_padding(lengths):
    bucketed = padding_ratio(lengths, iter(BucketBatchSampler(lengths, 32)))
    unbucketed = padding_ratio(lengths, iter(BucketBatchSampler(lengths, 32, pool=1)))
    assert unbucketed > 0.4  # uniform 1..40 lengths in random batches: about half is padding
    assert bucketed < 0.05
    assert padding_ratio(lengths, iter(BucketBatchSampler(lengths, 32, shuffle=False))) <= bucketed


def test_padding_ratio_by_hand():
    assert padding_ratio([1, 3, 2, 2], iter([[0, 1], [2, 3]])) == pytest.approx(1 - 8 / 10)


def test_ranks_share_out_the_single_process_batches(lengths):
    """DDP: training shards the same bucketed batches (the first repeated so both ranks step equally);
    evaluation scores every example exactly once across ranks."""
    single = list(BucketBatchSampler(lengths, 48, seed=3))  # 21 batches: odd, so one is repeated
    ranks = [list(BucketBatchSampler(lengths, 48, seed=3, replicas=2, rank=r)) for r in (0, 1)]
    assert [len(r) for r in ranks] == [len(BucketBatchSampler(lengths, 48, replicas=2, rank=r)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 11
    assert ranks[0] == single[0::2] and ranks[1] == [*single[1::2], single[0]]
    evaluation = [list(BucketBatchSampler(lengths, 48, shuffle=False, replicas=2, rank=r)) for r in (0, 1)]
    assert [len(e) for e in evaluation] == [11, 10]
    assert sorted(i for e in evaluation for b in e for i in b) == list(range(1000))
