"""Pretrained word vectors (GloVe or word2vec text format) aligned to a vocabulary.

Vector files run to gigabytes, so they are streamed line by line and only the rows of
vocabulary words are kept (and parsed as numbers). Words with no vector get random rows
scaled to the std of the loaded vectors, so that they neither dominate nor vanish next to them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from seqexp.data.text import read_lines
from seqexp.errors import DataError

log = logging.getLogger(__name__)

_FALLBACK_STD = 0.1  # scale of the random rows when no vocabulary word has a vector


def load_vectors(path: str | Path, itos: Sequence[str], *, pad_index: int = 0) -> torch.Tensor:
    """Return a float tensor [len(itos), D] whose row i is the vector of ``itos[i]``.

    The file holds one ``word v1 ... vD`` row per line, optionally after a word2vec
    ``N D`` header line (detected automatically); ``.gz`` files are decompressed on the fly.
    A word without an exact match takes the vector of its lowercased form, if present. Words
    still missing get ``torch.randn(D) * std`` (global RNG, so seeding makes it repeatable),
    std being that of the loaded vectors. Row ``pad_index`` is zeros and is not looked up.

    Every line's value count is checked; values are parsed (and checked) only on the rows of
    vocabulary words. Raises DataError, naming ``file:line``, for a missing, empty or
    malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"vectors file not found: {path}")
    if not 0 <= pad_index < len(itos):
        raise ValueError(f"pad_index {pad_index} is out of range for a vocabulary of {len(itos)} words")

    exact_targets: dict[str, list[int]] = {}
    lower_targets: dict[str, list[int]] = {}  # only for words whose lowercase form differs
    for index, word in enumerate(itos):
        if index == pad_index:
            continue
        exact_targets.setdefault(word, []).append(index)
        if word.lower() != word:
            lower_targets.setdefault(word.lower(), []).append(index)

    exact_rows: dict[int, list[float]] = {}
    lower_rows: dict[int, list[float]] = {}
    dim = 0
    header_line = 0  # line of the word2vec header, 0 when there is none
    declared_rows = rows = 0
    for lineno, text in read_lines(path):
        parts = text.rstrip().split(" ")
        if parts == [""]:
            continue
        if not dim:
            header = _parse_header(parts)
            if header is not None:
                declared_rows, dim = header
                header_line = lineno
                if dim < 1:
                    raise DataError(f"{path}:{lineno}: word2vec header declares {dim} dimensions")
                continue
            dim = len(parts) - 1
            if dim < 1:
                raise DataError(
                    f"{path}:{lineno}: expected a word followed by its vector values, got {text.strip()!r}"
                )
        n_values = len(parts) - 1
        # Extra leading tokens belong to a word with spaces (GloVe 840B), unless they are all numbers.
        if n_values < dim or (n_values > dim and all(_is_number(token) for token in parts[1:-dim])):
            source = f" (dimension from the word2vec header on line {header_line})" if header_line else ""
            raise DataError(f"{path}:{lineno}: expected {dim} values after the word{source}, got {n_values}")
        rows += 1
        word = " ".join(parts[:-dim])
        exact_hits = exact_targets.get(word, [])
        lower_hits = [i for i in lower_targets.get(word, []) if i not in lower_rows]
        if not exact_hits and not lower_hits:
            continue
        vector = _parse_values(parts[-dim:], path, lineno)
        for index in exact_hits:
            exact_rows.setdefault(index, vector)
        for index in lower_hits:
            lower_rows[index] = vector

    if not rows:
        raise DataError(f"{path}: no vectors found (empty file)")
    if header_line and declared_rows != rows:
        log.warning(
            "vectors: %s header declares %s rows, found %s", path.name, f"{declared_rows:,}", f"{rows:,}"
        )

    found = {**lower_rows, **exact_rows}  # an exact match wins over the lowercase one
    n_lower = len(found) - len(exact_rows)
    n_words = len(itos) - 1  # the pad row is not looked up
    share = 100.0 * len(found) / n_words if n_words else 0.0
    log.info(
        "vectors: %s / %s vocabulary words found in %s (%.1f%%), %s by lowercase",
        f"{len(found):,}",
        f"{n_words:,}",
        path.name,
        share,
        f"{n_lower:,}",
    )

    indices = sorted(found)
    loaded = torch.tensor([found[i] for i in indices], dtype=torch.float32).reshape(len(indices), dim)
    if loaded.numel() > 1:
        std = float(loaded.std())
    else:
        log.warning("vectors: too few values from %s to measure a std; using %s", path.name, _FALLBACK_STD)
        std = _FALLBACK_STD
    weights = torch.randn(len(itos), dim) * std
    weights[indices] = loaded
    weights[pad_index] = 0.0
    return weights


def _parse_header(parts: list[str]) -> tuple[int, int] | None:
    """Return (rows, dim) if the first line is a word2vec ``N D`` header, else None."""
    if len(parts) == 2 and all(part.isascii() and part.isdigit() for part in parts):
        return int(parts[0]), int(parts[1])
    return None


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_values(tokens: list[str], path: Path, lineno: int) -> list[float]:
    values = []
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(f"{path}:{lineno}: value {token!r} is not a finite number")
        values.append(value)
    return values
