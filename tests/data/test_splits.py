"""One carve for every data module: a fixed-seed choice kept in file order, or the LM's contiguous tail."""

import pytest

from seqexp.data.splits import carve, held_out
from seqexp.errors import DataError


def test_a_seeded_carve_is_fixed_disjoint_and_in_file_order() -> None:
    items = list(range(20))
    train, val = carve(items, "val", 0.25, seed=1234)
    assert len(val) == 5 and sorted(train + val) == items
    assert train == sorted(train) and val == sorted(val)
    assert carve(items, "val", 0.25, seed=1234) == (train, val)
    assert carve(items, "val", 0.25, seed=1) != (train, val)


def test_without_a_seed_the_last_items_are_held_out_as_one_piece() -> None:
    assert carve(list("abcdefghij"), "val", 0.2, seed=None) == (list("abcdefgh"), ["i", "j"])


def test_at_least_one_is_held_out_and_one_left_to_train_on() -> None:
    assert held_out(3, 0.01, "val") == 1
    with pytest.raises(DataError, match=r"1 line\(s\) are too few to carve a test split from; set data.test"):
        held_out(1, 0.5, "test", "line(s)")
