"""Readers, one per file format: each turns a file into examples that remember their line number."""

import csv
from dataclasses import dataclass
from pathlib import Path

from seqexp.data.text import read_lines
from seqexp.errors import DataError


@dataclass(frozen=True)
class Labeled:
    """A text with one label (N-vs-1); ``line`` points back into the file for error messages."""

    text: str
    label: str
    line: int


def read_trec(path: str | Path, fine: bool = False, encoding_errors: str = "strict") -> list[Labeled]:
    """The UIUC question-classification format: ``COARSE:fine question tokens``.

    ``fine=False`` gives the 6 coarse TREC-6 labels, ``fine=True`` the 50 ``COARSE:fine`` TREC-50 labels.
    """
    examples = []
    for number, line in read_lines(path, encoding_errors):
        if not line.strip():
            continue
        label, _, text = line.partition(" ")
        coarse, colon, _ = label.partition(":")
        if not colon or not coarse or not text.strip():
            raise DataError(f"{path}:{number}: expected 'COARSE:fine question', got {line[:60]!r}")
        examples.append(Labeled(text, label if fine else coarse, number))
    return _nonempty(examples, path)


def read_tsv(path: str | Path, text_column: int = 0, label_column: int = 1, delimiter: str = "\t",
             header: bool = False, encoding_errors: str = "strict") -> list[Labeled]:
    """Delimited text with a text and a label column (TSV by default, CSV with ``delimiter=","``)."""
    lines = read_lines(path, encoding_errors)
    if header:
        next(lines, None)
    examples = []
    needed = max(text_column, label_column) + 1
    for number, line in lines:
        if not line.strip():
            continue
        row = next(csv.reader([line], delimiter=delimiter))
        if len(row) < needed:
            raise DataError(f"{path}:{number}: expected at least {needed} {_name(delimiter)}-separated "
                            f"columns (text in {text_column}, label in {label_column}), got {len(row)}")
        text, label = row[text_column], row[label_column].strip()
        if not label:
            raise DataError(f"{path}:{number}: empty label in column {label_column}")
        examples.append(Labeled(text, label, number))
    return _nonempty(examples, path)


def _name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma"}.get(delimiter, repr(delimiter))


def _nonempty(examples: list, path: str | Path) -> list:
    if not examples:
        raise DataError(f"{path}: no examples (the file is empty or holds only blank lines)")
    return examples
