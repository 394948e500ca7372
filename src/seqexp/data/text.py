"""Reading text files line by line and splitting lines into tokens, the same way for every format."""

import gzip
import logging
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from seqexp.errors import ConfigError, DataError, MissingFile, first_line

log = logging.getLogger(__name__)

BOM = b"\xef\xbb\xbf"
Errors = Literal["strict", "replace"]  # a byte that is not UTF-8: stop, naming file:line, or read it as U+FFFD
SIMPLE = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")  # the `simple` tokenizer (also written into exported models)


def read_lines(path: str | Path, errors: Errors = "strict") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a file as ``split_lines`` reads it; ``.gz`` files are decompressed on the
    fly, and one that is cut short, or is not gzip at all, is a DataError naming the file and how far it read."""
    path = Path(path)
    if not path.is_file():
        raise MissingFile(f"file not found: {path}")
    number = 0
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            for number, line in split_lines(f, path, errors):
                yield number, line
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        why = "not a readable gzip file (cut short, or not compressed)" if path.suffix == ".gz" else "cannot be read"
        raise DataError(f"{path}: {why}; stopped after line {number}: {first_line(e)}") from None


def split_lines(stream: BinaryIO, name: str | Path, errors: Errors = "strict") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a binary stream. Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (old Mac files)
    and nowhere else: not at U+2028, U+0085 or form feeds, as ``str.splitlines`` would, so that N lines in give
    N examples (and N predictions) out. A UTF-8 BOM is dropped. Bytes that are not UTF-8 raise a DataError naming
    ``name:line`` (``errors="strict"``) or become U+FFFD with a logged count of lines (``errors="replace"``)."""
    number = replaced = 0
    for chunk in stream:  # up to and including each b"\n"
        body = chunk[:-1] if chunk.endswith(b"\n") else chunk
        for raw in (body[:-1] if body.endswith(b"\r") else body).split(b"\r"):
            number += 1
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if errors != "replace":
                    raise DataError(f"{name}:{number}: not valid UTF-8 (byte {raw[e.start]:#x} at column "
                                    f"{e.start + 1}); set the data config's encoding_errors=replace to "
                                    "replace such bytes") from None
                line = raw.decode("utf-8", errors="replace")
                replaced += 1
            yield number, line
    if replaced:
        log.warning("%s: %d line(s) had bytes that are not UTF-8, replaced by U+FFFD", Path(name).name, replaced)



def tokenize(text: str, tokenizer: str = "whitespace", lowercase: bool = False) -> list[str]:
    """Split text into tokens: ``whitespace`` for pre-tokenized corpora, ``simple`` also splits punctuation."""
    if lowercase:
        text = text.lower()
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer == "simple":
        return SIMPLE.findall(text)
    raise ConfigError(f"data.tokenizer: unknown tokenizer {tokenizer!r} (expected 'whitespace' or 'simple')")
