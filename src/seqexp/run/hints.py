"""A config value against a parameter's type hint (``seqexp.run.schema`` checks every key with it): whether it fits,
and the hint in words for the one-line error."""

import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from omegaconf import DictConfig, ListConfig

from seqexp.constraints import Range

PLAIN = (int, float, bool, str, type(None))


def conforms(value: Any, hint: Any) -> bool:
    """Whether a config value can be ``hint``, in its Annotated ranges too; classes a config cannot spell (an
    Accelerator) take anything."""
    hint, marks = split(hint)
    if any(isinstance(m, Range) and isinstance(value, int | float) and value not in m for m in marks):
        return False
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (Any, inspect.Parameter.empty):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if is_target(value):  # something Hydra instantiates: an object, never a plain value
        return hint not in PLAIN
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint in (list, tuple) or origin in (list, tuple, Sequence, typing.Sequence):
        if not isinstance(value, list | tuple | ListConfig):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(conforms(v, a) for v, a in zip(value, args, strict=True))
        return not args or all(conforms(v, args[0]) for v in value)
    if hint is dict or origin in (dict, Mapping, typing.Mapping):
        return isinstance(value, Mapping | DictConfig)
    return value is not None or not isinstance(hint, type)  # some other class: not null


def describe(hint: Any) -> str:
    """A type hint in words, for ``KEY must be ...``."""
    base, marks = split(hint)
    ranges = [m for m in marks if isinstance(m, Range)]
    if ranges and base in (int, float):
        return ranges[0].describe(integer=base is int)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin in (typing.Union, types.UnionType):
        choices = [v for a in args if typing.get_origin(a) is Literal for v in typing.get_args(a)]
        words = [describe(Literal[tuple(choices)])] if choices else []
        words += [describe(a) for a in args if typing.get_origin(a) is not Literal and a is not type(None)]
        return " or ".join(dict.fromkeys(words + (["null"] if type(None) in args else [])))
    if origin is Literal:
        return "one of " + ", ".join(map(str, args))
    if base is Sequence or origin in (list, tuple, Sequence):
        if not args or origin is tuple:
            return "a list"
        each = describe(args[0])
        plural = {"an integer": "integers", "a number": "numbers", "a string": "strings"}.get(each)
        return f"a list of {plural}" if plural else f"a list, each {each}"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null",
            dict: "a mapping"}.get(base, getattr(base, "__name__", str(base)))


def is_target(value: Any) -> bool:
    return isinstance(value, Mapping | DictConfig) and "_target_" in value


def split(hint: Any) -> tuple[Any, tuple]:
    """``Annotated[T, marks...]`` -> (T, marks); any other hint -> (hint, ())."""
    if typing.get_origin(hint) is Annotated:
        return hint.__origin__, hint.__metadata__
    return hint, ()
