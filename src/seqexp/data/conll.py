"""Column-format tagging data: CoNLL files (a token and a chunk tag per line) and CoNLL-U treebanks."""

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqexp.data.schemes import Scheme, convert, problems
from seqexp.data.text import Errors, read_lines
from seqexp.errors import DataError

log = logging.getLogger(__name__)

_CONLLU_ID = re.compile(r"([0-9]+)(?:([-.])([0-9]+))?")
_CONLLU_FIELDS = {"upos": 3, "xpos": 4}


@dataclass(frozen=True)
class Tagged:
    """A sentence with one tag per token (N-vs-N); ``line`` is its first token line, for error messages."""

    tokens: list[str]
    tags: list[str]
    line: int


def read_conll(path: str | Path, token_column: int = 0, tag_column: int = -1,
               scheme: Scheme = "bio", output_scheme: Literal["bio", "bioes"] = "bio",
               strict: bool = False, encoding_errors: Errors = "strict", delimiter: str | None = None) -> list[Tagged]:
    """CoNLL column files (CoNLL-2000/2003, WNUT): columns split on whitespace (or ``delimiter``), blank lines
    between sentences, ``-DOCSTART-`` lines dropped; tags re-tagged from ``scheme`` to ``output_scheme``.

    Chunks that break ``scheme`` (BIO: I- after O) are errors with ``strict``; otherwise they are read as
    conlleval reads them (the I- starts a chunk) and counted in one warning per file.
    """
    sentences, repairs, width = [], 0, None
    for block in _blocks(path, encoding_errors, skip="-DOCSTART-"):
        rows = [line.split(delimiter) for _, line in block]
        for (number, _), columns in zip(block, rows, strict=True):
            if width is None:
                width = (len(columns), number)
                _check_columns(path, number, len(columns), token_column, tag_column)
            elif len(columns) != width[0]:
                raise DataError(f"{path}:{number}: {len(columns)} column(s), but the first token line "
                                f"(line {width[1]}) has {width[0]}")
        tags = [columns[tag_column] for columns in rows]
        invalid = problems(tags, scheme)
        broken = [] if invalid else problems(tags, scheme, strict=True)
        if invalid or (strict and broken):
            i, problem = (invalid or broken)[0]
            hint = "" if invalid else " (data.reader.strict=false reads it as conlleval does)"
            raise DataError(f"{path}:{block[i][0]}: {problem}{hint}")
        repairs += len(broken)
        sentences.append(Tagged([columns[token_column] for columns in rows], convert(tags, scheme, output_scheme),
                                block[0][0]))
    if repairs:
        log.warning("%s: %d tag(s) break the %s chunk rules (e.g. I- after O); read as conlleval does, the I- "
                    "starting a chunk (data.reader.strict=true makes them errors)", Path(path).name, repairs,
                    scheme.upper())
    return _nonempty(sentences, path)


def read_conllu(path: str | Path, tag_field: Literal["upos", "xpos"] = "upos",
                encoding_errors: Errors = "strict") -> list[Tagged]:
    """CoNLL-U treebanks (Universal Dependencies): the words of each sentence with their UPOS or XPOS tags.

    Multiword token lines (``1-2 don't``) and empty nodes (``8.1``) are dropped, so tags align with words.
    """
    field = _CONLLU_FIELDS[tag_field]
    sentences = []
    for block in _blocks(path, encoding_errors, skip="#"):
        tokens, tags = [], []
        for number, line in block:
            fields = line.split("\t")
            if len(fields) != 10:
                raise DataError(f"{path}:{number}: expected 10 tab-separated CoNLL-U fields, got {len(fields)}")
            word = _word_id(fields[0], path, number)
            if word is None:
                continue
            if word != len(tokens) + 1:
                raise DataError(f"{path}:{number}: word ID {word} out of order (expected {len(tokens) + 1})")
            tokens.append(fields[1])
            tags.append(fields[field])
        if tokens:
            sentences.append(Tagged(tokens, tags, block[0][0]))
    return _nonempty(sentences, path)


def _blocks(path: str | Path, encoding_errors: str, skip: str) -> Iterator[list[tuple[int, str]]]:
    """Sentences as ``(line number, line)`` lists: blank or whitespace-only lines end them (so the last needs
    none), lines starting with ``skip`` are dropped."""
    block: list[tuple[int, str]] = []
    for number, line in read_lines(path, encoding_errors):
        if not line.strip():
            if block:
                yield block
            block = []
        elif not line.startswith(skip):
            block.append((number, line))
    if block:
        yield block


def _check_columns(path: str | Path, number: int, width: int, token_column: int, tag_column: int) -> None:
    for key, column in (("token_column", token_column), ("tag_column", tag_column)):
        if not -width <= column < width:
            raise DataError(f"{path}:{number}: {width} column(s), no column {column} "
                            f"(data.reader.{key}={column})")
    if token_column % width == tag_column % width:
        raise DataError(f"{path}:{number}: {width} column(s): token_column={token_column} and "
                        f"tag_column={tag_column} are the same column; a tagged file needs both")


def _word_id(text: str, path: str | Path, number: int) -> int | None:
    """The word number of a CoNLL-U ID, or None for a multiword range (``1-2``) or an empty node (``8.1``)."""
    match = _CONLLU_ID.fullmatch(text)
    if not match:
        raise DataError(f"{path}:{number}: malformed ID {text!r} (expected a word number, a range like 1-2 "
                        "or an empty node like 8.1)")
    first, separator, last = match.groups()
    if separator == "-" and int(last) < int(first):
        raise DataError(f"{path}:{number}: multiword token range {text!r} ends before it starts")
    return None if separator else int(first)


def _nonempty(sentences: list[Tagged], path: str | Path) -> list[Tagged]:
    if not sentences:
        raise DataError(f"{path}: no sentences (the file is empty or holds only blank lines, comments "
                        "or -DOCSTART-)")
    return sentences
