"""Carving a val (or test) split off train when no file gives it: one rule for every data module, and the same
examples whatever the training seed, so runs compare on the same data."""

import torch

from seqexp.errors import DataError


def held_out(total: int, fraction: float, split: str, what: str = "example(s)") -> int:
    """How many of ``total`` training items a carved ``split`` takes: ``fraction`` of them, at least one; refused,
    naming the key to set, when that would leave none to train on."""
    n = max(1, round(total * fraction))
    if n >= total:
        raise DataError(f"data.train: {total} {what} are too few to carve a {split} split from; set data.{split}")
    return n


def carve(train: list, split: str, fraction: float, seed: int | None, what: str = "example(s)"
          ) -> tuple[list, list]:
    """``(train, held)``: with a ``seed``, a fixed-seed random choice, each part in file order; without one, the
    last items as one contiguous piece (a language model reads its text in order)."""
    n = held_out(len(train), fraction, split, what)
    if seed is None:
        return train[:-n], train[-n:]
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
    return [train[i] for i in sorted(order[n:])], [train[i] for i in sorted(order[:n])]
