"""Which test predictions are shown: a spread over the split, the same whatever the order, errors first."""

from seqexp.tasks.shown import Showcase, Shown, spread


def offers(showcase: Showcase, indices, wrong: bool) -> None:
    for i in indices:
        showcase.offer(Shown(i, wrong, {"i": str(i)}))


def test_three_errors_for_two_right_answers_spread_over_the_split():
    showcase = Showcase(5)
    offers(showcase, range(0, 1000, 2), wrong=True)
    offers(showcase, range(1, 1000, 2), wrong=False)
    rows = showcase.pick()
    errors = sorted(range(0, 1000, 2), key=spread)[:3]
    right = sorted(range(1, 1000, 2), key=spread)[:2]
    assert [int(r.row["i"]) for r in rows] == [r.index for r in rows] == errors + right
    assert [r.wrong for r in rows] == [True, True, True, False, False]
    assert max(errors) - min(errors) > 300  # not the first lines of the file
    assert showcase.pick() == []  # picking empties it for the next test epoch


def test_the_pick_does_not_depend_on_the_order_and_fills_from_the_other_kind():
    forward, backward = Showcase(5), Showcase(5)
    offers(forward, range(100), wrong=False)
    offers(forward, [7], wrong=True)
    offers(backward, [7], wrong=True)
    offers(backward, reversed(range(100)), wrong=False)
    rows = forward.pick()
    assert rows == backward.pick() and len(rows) == 5  # one error, four right answers
    assert rows[0] == Shown(7, True, {"i": "7"})
