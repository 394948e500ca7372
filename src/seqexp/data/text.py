"""Reading text files line by line and splitting lines into tokens, the same way for every format."""

import gzip
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from seqexp.errors import ConfigError, DataError, MissingFile

log = logging.getLogger(__name__)

SIMPLE = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")  # the `simple` tokenizer (also written into exported models)


def read_lines(path: str | Path, errors: str = "strict") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` without the line ending; ``.gz`` files are read transparently.

    A UTF-8 BOM and Windows line endings are dropped. Bytes that are not UTF-8 raise a DataError naming
    the line (``errors="strict"``) or become U+FFFD with a logged count of lines (``errors="replace"``).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFile(f"file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    replaced = 0
    with opener(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if errors != "replace":
                    raise DataError(f"{path}:{number}: not valid UTF-8 (byte {raw[e.start]:#x} at column "
                                    f"{e.start + 1}); set the data config's encoding_errors=replace to "
                                    "replace such bytes") from None
                line = raw.decode("utf-8", errors="replace")
                replaced += 1
            yield number, line.rstrip("\r\n")
    if replaced:
        log.warning("%s: %d line(s) had bytes that are not UTF-8, replaced by U+FFFD", path.name, replaced)


def tokenize(text: str, tokenizer: str = "whitespace", lowercase: bool = False) -> list[str]:
    """Split text into tokens: ``whitespace`` for pre-tokenized corpora, ``simple`` also splits punctuation."""
    if lowercase:
        text = text.lower()
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer == "simple":
        return SIMPLE.findall(text)
    raise ConfigError(f"data.tokenizer: unknown tokenizer {tokenizer!r} (expected 'whitespace' or 'simple')")
