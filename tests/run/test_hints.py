"""A config value against a type hint: what fits, and the hint in the words of the one-line error."""

from typing import Annotated, Literal

from omegaconf import OmegaConf

from seqexp.constraints import Fraction, Size
from seqexp.run.hints import conforms, describe


def test_values_conform_to_types_ranges_and_choices() -> None:
    assert conforms(3, Size) and not conforms(0, Size) and not conforms(True, int) and not conforms(2.5, int)
    assert conforms(1, float) and not conforms(1.0, Annotated[float, Fraction])
    assert conforms("simple", Literal["whitespace", "simple"]) and not conforms("bpe", Literal["whitespace", "simple"])
    assert conforms(None, str | None) and not conforms(None, str)
    assert conforms(OmegaConf.create([1, 2]), list[int]) and not conforms([1, "a"], list[int])
    assert conforms(OmegaConf.create({"_target_": "x.Y"}), object) and not conforms({"_target_": "x.Y"}, int)


def test_hints_in_words() -> None:
    assert describe(Size) == "a positive integer"
    assert describe(Literal["a", "b"] | None) == "one of a, b or null"
    assert describe(list[float]) == "a list of numbers"
    assert describe(bool) == "true or false"
