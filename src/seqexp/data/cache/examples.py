"""Val and test examples as read (their original words, for the predictions a run shows), kept in a cache entry as
JSON: an entry may sit on a shared disk, and JSON holds data only, where a pickle would run whatever code a writer
put in it. Only the readers' example classes come back; anything else in the file is refused."""

import dataclasses
import json
import typing
from pathlib import Path

from seqexp.data.conll import Tagged
from seqexp.data.readers import Captioned, Labeled, Pair, Text

KINDS = {cls.__name__: cls for cls in (Labeled, Pair, Text, Captioned, Tagged)}
"""The example classes a cache entry may hold, by name."""


def dump(examples: dict[str, list], path: Path) -> None:
    """``{split: [example, ...]}`` into ``path``, each example as ``[class name, [field values]]``."""
    rows = {split: [[type(ex).__name__, [getattr(ex, f.name) for f in dataclasses.fields(ex)]] for ex in exs]
            for split, exs in examples.items()}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False)


def load(path: Path) -> dict[str, list]:
    """What ``dump`` wrote; ``ValueError`` for anything else (a damaged or foreign file)."""
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    if not isinstance(rows, dict):
        raise ValueError(f"{path.name}: not a mapping of splits")
    return {split: [_example(row) for row in exs] for split, exs in rows.items()}


def _example(row) -> object:
    kind, values = row if isinstance(row, list) and len(row) == 2 else (None, None)
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    fields = dataclasses.fields(cls) if cls is not None else ()
    if cls is None or not isinstance(values, list) or len(values) != len(fields):
        raise ValueError(f"not an example: {str(row)[:60]}")
    hints = typing.get_type_hints(cls)
    return cls(*(tuple(v) if typing.get_origin(hints[f.name]) is tuple else v for f, v in zip(fields, values,
                                                                                             strict=True)))
