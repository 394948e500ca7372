"""Readers, one per file format: each turns a file into examples that remember their line number."""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqexp.data.text import Errors, read_lines
from seqexp.errors import ConfigError, DataError, MissingFile, first_line

csv.field_size_limit(2**31 - 1)  # one example may be a whole book; its length is data.max_len's business


@dataclass(frozen=True)
class Labeled:
    """A text with one label (N-vs-1); ``line`` points back into the file for error messages."""

    text: str
    label: str
    line: int


def read_trec(path: str | Path, fine: bool = False, encoding_errors: Errors = "strict") -> list[Labeled]:
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
             header: bool = False, quoting: Literal["none", "csv"] = "none",
             encoding_errors: Errors = "strict") -> list[Labeled]:
    """Delimited text with a text and a label column, one example per line. ``quoting=none`` (TSV): a field is
    whatever lies between two delimiters, quotes included; ``quoting=csv`` (conf/data/csv.yaml): CSV's rules, a
    field in double quotes may hold the delimiter and ``""`` is a quote."""
    if not delimiter or (quoting == "csv" and len(delimiter) != 1):
        raise ConfigError(f"data.reader.delimiter must be {'one character' if quoting == 'csv' else 'non-empty'} "
                          f"(data.reader.quoting={quoting}), got {delimiter!r}")
    lines = read_lines(path, encoding_errors)
    if header:
        next(lines, None)
    examples = []
    needed = max(text_column, label_column) + 1
    for number, line in lines:
        if not line.strip():
            continue
        row = line.split(delimiter) if quoting == "none" else _csv_row(line, delimiter, f"{path}:{number}")
        if len(row) < needed:
            raise DataError(f"{path}:{number}: expected at least {needed} {_name(delimiter)}-separated "
                            f"columns (text in {text_column}, label in {label_column}), got {len(row)}")
        text, label = row[text_column], row[label_column].strip()
        if not label:
            raise DataError(f"{path}:{number}: empty label in column {label_column}")
        examples.append(Labeled(text, label, number))
    return _nonempty(examples, path)


def _csv_row(line: str, delimiter: str, where: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error as e:
        raise DataError(f"{where}: {e} (CSV quoting; data.reader.quoting=none reads quotes as text)") from None


def _name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma"}.get(delimiter, repr(delimiter))


def _nonempty(examples: list, path: str | Path) -> list:
    if not examples:
        raise DataError(f"{path}: no examples (the file is empty or holds only blank lines)")
    return examples


@dataclass(frozen=True)
class Pair:
    """A source text and its target (N-vs-M: translation, summarisation); ``line`` as in the files."""

    source: str
    target: str
    line: int


def read_tatoeba(path: str | Path, encoding_errors: Errors = "strict") -> list[Pair]:
    """Tatoeba / manythings.org pairs: ``English<TAB>French[<TAB>attribution]`` per line."""
    pairs = []
    for number, line in read_lines(path, encoding_errors):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2 or not columns[0].strip() or not columns[1].strip():
            raise DataError(f"{path}:{number}: expected 'source<TAB>target', got {line[:60]!r}")
        pairs.append(Pair(columns[0], columns[1], number))
    return _nonempty(pairs, path)


def read_parallel(prefix: str | Path, src: str, tgt: str, encoding_errors: Errors = "strict") -> list[Pair]:
    """Line-aligned files ``{prefix}.{src}`` and ``{prefix}.{tgt}`` (Multi30k, OpenNMT, Moses layout)."""
    source, target = Path(f"{prefix}.{src}"), Path(f"{prefix}.{tgt}")
    if not source.is_file() and Path(f"{source}.gz").is_file():
        source, target = Path(f"{source}.gz"), Path(f"{target}.gz")
    src_lines, tgt_lines = list(read_lines(source, encoding_errors)), list(read_lines(target, encoding_errors))
    if len(src_lines) != len(tgt_lines):
        raise DataError(f"{source} has {len(src_lines)} lines but {target} has {len(tgt_lines)}: parallel files "
                        "must be line-aligned")
    pairs = []
    for (number, s), (_, t) in zip(src_lines, tgt_lines, strict=True):
        if bool(s.strip()) != bool(t.strip()):
            empty = target if s.strip() else source
            raise DataError(f"{empty}:{number}: empty line where the other side has text")
        if s.strip():
            pairs.append(Pair(s, t, number))
    return _nonempty(pairs, source)


@dataclass(frozen=True)
class Text:
    """A line of running text (language modelling); ``line`` as in the file."""

    text: str
    line: int


def read_text(path: str | Path, skip_blank: bool = True, encoding_errors: Errors = "strict") -> list[Text]:
    """Plain text, one sentence or paragraph per line (PTB, WikiText, a user's corpus).

    ``skip_blank=False`` keeps blank lines as empty texts: WikiText's published perplexities count an
    end-of-line token for each of them.
    """
    return list(iter_text(path, skip_blank, encoding_errors))


def iter_text(path: str | Path, skip_blank: bool = True, encoding_errors: Errors = "strict") -> Iterator[Text]:
    """``read_text`` a line at a time: a corpus too large to hold streams through the LM's cache build."""
    seen = False
    for number, line in read_lines(path, encoding_errors):
        if line.strip() or not skip_blank:
            seen = seen or bool(line.strip())
            yield Text(line, number)
    if not seen:
        raise DataError(f"{path}: no text (the file is empty or holds only blank lines)")


@dataclass(frozen=True)
class Captioned:
    """A feature vector and its caption (1-vs-N, the image-captioning shape)."""

    text: str
    features: tuple[float, ...]
    line: int


def read_captions(prefix: str | Path, encoding_errors: Errors = "strict") -> list[Captioned]:
    """``{prefix}.npy`` (one feature row per example, ``[N, F]``) and ``{prefix}.txt`` (one caption per line)."""
    import numpy as np

    vectors, captions = Path(f"{prefix}.npy"), Path(f"{prefix}.txt")
    lines = list(read_lines(captions, encoding_errors))
    if not vectors.is_file():
        raise MissingFile(f"file not found: {vectors}")
    try:
        rows = np.load(vectors, allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:  # not .npy, cut short, or pickled objects (refused)
        raise DataError(f"{vectors}: not a readable .npy array of numbers ({first_line(e)})") from None
    if rows.dtype.kind not in "biuf":
        raise DataError(f"{vectors}: holds {rows.dtype} values, not numbers")
    if rows.ndim != 2 or len(rows) != len(lines):
        raise DataError(f"{vectors} has {rows.shape[0] if rows.ndim else 0} feature row(s) of shape {rows.shape} but "
                        f"{captions} has {len(lines)} caption line(s): expected [N, F] rows, one per line")
    examples = []
    for (number, text), row in zip(lines, rows, strict=True):
        if not text.strip():
            raise DataError(f"{captions}:{number}: empty caption")
        examples.append(Captioned(text, tuple(float(v) for v in row), number))
    return _nonempty(examples, captions)
