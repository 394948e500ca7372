"""Files written whole or not at all, and archives read as streams: what fetching and preparing corpora share."""

import contextlib
import os
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def members(archive: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """Stream ``(path, readable file)`` for the regular files of a zip or (any) tar archive, in archive order,
    each read before the next is opened; paths lose a leading ``./``."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    with z.open(info) as f:
                        yield info.filename.removeprefix("./"), f
    else:
        with tarfile.open(archive, "r|*") as tar:  # a stream: one pass over the compressed file
            for member in tar:
                f = tar.extractfile(member) if member.isfile() else None
                if f is not None:
                    yield member.name.removeprefix("./"), f


@contextlib.contextmanager
def atomic(dest: Path) -> Iterator[Path]:
    """A temp path beside ``dest`` to write; it becomes ``dest`` if the block succeeds and is deleted if not."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
