"""Which test predictions a run shows (in the log and as a W&B table): some errors and some right answers worth
reading, spread over the test set and the same whatever the batch order, rather than its first lines."""

import heapq
import math
from typing import NamedTuple


class Shown(NamedTuple):
    """A test example as a row to show: ``index`` is its place in the split, ``wrong`` whether the model erred (None:
    nothing to judge, as a language model's continuation)."""

    index: int
    wrong: bool | None
    row: dict[str, str]


def spread(index: int) -> int:
    """A fixed pseudo-random key per example (Knuth's multiplicative hash): the smallest keys pick examples from
    all over the split, whatever the batch order or the number of processes."""
    return index * 2_654_435_761 % 2**32


class Showcase:
    """Keeps, of the rows offered during a test epoch, the ``n`` wrong and the ``n`` right ones with the smallest
    ``spread`` key; ``pick`` shows about three errors for two right answers."""

    def __init__(self, n: int):
        self.n = n
        self.pools: dict[bool, list[tuple[int, int, dict]]] = {True: [], False: []}  # max-heaps of (-key, i, row)

    def offer(self, shown: Shown) -> None:
        pool = self.pools[shown.wrong]
        item = (-spread(shown.index), shown.index, shown.row)
        if len(pool) < self.n:
            heapq.heappush(pool, item)
        elif item > pool[0]:  # a smaller key than the largest kept
            heapq.heapreplace(pool, item)

    def pick(self) -> list[Shown]:
        wrong, right = (sorted(self.pools[w], reverse=True) for w in (True, False))  # smallest key first
        k = min(len(wrong), max(math.ceil(self.n * 3 / 5), self.n - len(right)))
        self.pools = {True: [], False: []}
        return [Shown(i, w, row) for w, pool in ((True, wrong[:k]), (False, right[:self.n - k])) for _, i, row in pool]
