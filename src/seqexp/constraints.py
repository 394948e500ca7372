"""What a constructor accepts beyond its types, declared once in its signature with ``typing.Annotated``
(``hidden_size: Annotated[int, Positive]``, ``dropout: Annotated[float, Unit]``); choices are ``Literal`` types.
``seqexp.run.schema`` checks every config value against the signature of its ``_target_`` before anything is
built. Every module may import this one, as it may ``errors``."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated


@dataclass(frozen=True)
class Range:
    """The interval a number must lie in; a missing bound is unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self, integer: bool) -> str:
        """``a positive integer``, ``in [0, 1)``, ...: what the error says a value must be."""
        if self.high is None and self.low == 0:
            sign = "positive" if self.low_open else "non-negative"
            return f"a {sign} integer" if integer else sign
        low = "(-inf" if self.low is None else f"{'(' if self.low_open else '['}{_number(self.low)}"
        high = "inf)" if self.high is None else f"{_number(self.high)}{')' if self.high_open else ']'}"
        return f"{'an integer ' if integer else ''}in {low}, {high}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


Positive = Range(0, low_open=True)  # sizes, counts, temperatures
NonNegative = Range(0)  # weights, top_k (0: off)
Unit = Range(0, 1, high_open=True)  # dropout probabilities: 1 would drop everything
Probability = Range(0, 1)
Fraction = Range(0, 1, low_open=True, high_open=True)  # a share of a split that leaves some on both sides

Size = Annotated[int, Positive]  # sizes and counts: hidden_size, batch_size, max_len


@dataclass(frozen=True)
class Keywords:
    """A ``dict`` parameter that holds the keyword arguments of ``target`` (``task.decoder`` -> Decoder): checked
    key by key as a ``_target_`` node is. ``hints``: what to say of some key that is not one of them."""

    target: Callable
    hints: tuple[tuple[str, str], ...] = ()
