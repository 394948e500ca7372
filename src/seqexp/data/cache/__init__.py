"""The tokenized cache: each split's encoded items in flat memory-mapped files under ``data.cache_dir``, built once
and then mapped read-only by later runs, sweep jobs and DDP ranks, so none of them reads or tokenizes the corpus
again. ``python -m seqexp.data.cache clear [cache_dir=DIR]`` removes it.

An entry is a directory named ``{settings}-{files}``: a hash of everything that decides the items (data module,
reader, tokenizer, vocabulary settings, filters, format version) and a hash of the input files' paths, sizes and
mtimes. Changed files give another name, and the entry they replace (same settings) is removed; a build writes into
a temporary directory renamed into place at the end, under a file lock, so a killed build leaves nothing a run
would read and two processes never build the same entry twice. Per split and field (``tokens``, ``chars``,
``labels``...): ``{split}.{field}.bin``, every item's values concatenated, and ``{split}.{field}.shape.bin``, each
item's shape (int64 ``[N, ndim]``); ``examples.json``, val and test as read (``seqexp.data.cache.examples``: JSON,
never a pickle, as the directory may be shared); ``meta.json`` (written last) says dtypes and sizes, which also catch a
truncated file. An entry is verified before it is used (``verify``: every id within its vocabulary, shapes that add
up, no file it did not write); a damaged one is rebuilt, with a warning naming it."""

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from glob import escape, glob
from pathlib import Path

import numpy as np
import torch

from seqexp import interrupts
from seqexp.data.fetch import default_data_dir
from seqexp.errors import ConfigError

log = logging.getLogger(__name__)

FORMAT = 2  # bump when the layout or the encoding code changes what an entry holds
PROGRESS = 1_000_000  # items (or lines) between progress lines of a build


def digest(value) -> str:
    """A short stable hash of JSON-able settings."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def callable_name(fn: Callable) -> dict:
    """A reader partial as data: its function and bound keywords (``encoding_errors``, ``fine``...)."""
    if isinstance(fn, partial):
        return {"function": callable_name(fn.func)["function"], "args": list(fn.args), "keywords": fn.keywords}
    return {"function": f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"}


def file_stats(paths: Iterable[str]) -> list[tuple[str, int, int]] | None:
    """(absolute path, size, mtime) of each input file; a path that is no file stands for the files it prefixes
    (``train`` -> ``train.de``, ``train.en``: parallel text, captions). None when one has none: the run reads
    without the cache and the reader reports the missing file."""
    stats = []
    for path in paths:
        files = [path] if Path(path).is_file() else sorted(glob(f"{escape(path)}.*"))
        if not files:
            return None
        for f in files:
            st = os.stat(f)
            stats.append((str(Path(f).resolve()), st.st_size, st.st_mtime_ns))
    return stats


class Writer:
    """One split's items, written as they come (``add``, or ``write`` them all): memory stays bounded by one item,
    whatever the corpus size. Paths name the files of a written split too (``CachedSplit``, ``Cache.meta``)."""

    def __init__(self, directory: Path, split: str):
        self.directory, self.split = Path(directory), split
        self.fields: dict[str, dict] = {}  # name -> {"dtype", "ndim", "size"}
        self.files: dict = {}
        self.shapes: dict[str, array] = {}
        self.count = 0

    def add(self, item: dict[str, torch.Tensor]) -> None:
        if not self.files:  # the first item says which fields there are
            for name, value in item.items():
                self.fields[name] = {"dtype": str(value.dtype).removeprefix("torch."), "ndim": value.dim(), "size": 0}
                self.files[name] = open(self.path(name), "wb")  # closed by close()
                self.shapes[name] = array("q")
        for name, value in item.items():
            self.files[name].write(value.contiguous().numpy().tobytes())
            self.shapes[name].extend(value.shape)
            self.fields[name]["size"] += value.numel()
        self.count += 1
        if self.count % PROGRESS == 0:
            log.info("data cache: %s %s items encoded", f"{self.count:,}", self.split)

    def close(self) -> dict:
        """Finish the files; the split's meta."""
        for f in self.files.values():
            f.close()
        for name, values in self.shapes.items():
            if self.fields[name]["ndim"]:  # scalars (labels, index) have no shapes to keep
                self.path(name, "shape").write_bytes(values.tobytes())
        return {"items": self.count, "fields": self.fields}

    def write(self, items: Iterable[dict[str, torch.Tensor]]) -> dict:
        try:
            for item in items:
                self.add(item)
        finally:
            meta = self.close()
        return meta

    def path(self, name: str, part: str = "") -> Path:
        return self.directory / f"{self.split}.{name}.{part + '.' if part else ''}bin"


def progress(items: Iterable, what: str, every: int = PROGRESS) -> Iterator:
    """``items``, with a log line every ``every`` of them: a large corpus's build takes minutes."""
    for count, item in enumerate(items, 1):
        if count % every == 0:
            log.info("data cache: %s %s", f"{count:,}", what)
        yield item


def numpy_dtype(name: str) -> np.dtype:
    return torch.empty(0, dtype=getattr(torch, name)).numpy().dtype


class CachedSplit(Sequence):
    """A split's items read from the cache's files: ``split[i]`` is the dict of tensors the data module's
    ``encode_split`` made for example ``i`` (each a small copy out of the mapped files). Maps the files on first use,
    and again in each loader worker rather than pickling their contents."""

    def __init__(self, directory: Path, split: str, meta: dict):
        self.directory, self.split, self.meta = Path(directory), split, meta
        self._maps: dict | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_maps": None}

    def __len__(self) -> int:
        return self.meta["items"]

    def __getitem__(self, i: int | slice) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        if isinstance(i, slice):  # as a list of items would answer
            return [self[j] for j in range(*i.indices(len(self)))]
        i = i + len(self) if i < 0 else i
        if not 0 <= i < len(self):
            raise IndexError(i)
        item = {}
        for name, (data, shapes, offsets) in self.maps().items():
            if shapes is None:  # a scalar per item: labels, index
                item[name] = torch.from_numpy(np.array(data[i]))
            else:
                item[name] = torch.from_numpy(np.array(data[offsets[i]:offsets[i + 1]])).view(*shapes[i])
        return item

    def lengths(self, name: str = "tokens") -> list[int]:
        """Each item's first dimension of ``name``, without reading the items: what bucketing sorts by."""
        return self.maps()[name][1][:, 0].tolist()

    def array(self, name: str) -> torch.Tensor:
        """All of field ``name``'s values as one tensor over the mapped file (no copy): an LM's token stream."""
        return torch.from_numpy(self.maps()[name][0])

    def maps(self) -> dict:
        """name -> (values [S] mapped copy-on-write, shapes [N, ndim] or None, offsets [N + 1] or None)."""
        if self._maps is None:
            writer = Writer(self.directory, self.split)
            self._maps = {}
            for name, f in self.meta["fields"].items():
                dtype = numpy_dtype(f["dtype"])
                data = np.memmap(writer.path(name), dtype=dtype, mode="c") if f["size"] else np.empty(0, dtype)
                shapes = offsets = None
                if f["ndim"]:
                    shapes = np.fromfile(writer.path(name, "shape"), dtype=np.int64).reshape(len(self), f["ndim"])
                    offsets = np.zeros(len(self) + 1, dtype=np.int64)
                    np.cumsum(shapes.prod(1), out=offsets[1:])
                self._maps[name] = (data, shapes, offsets)
        return self._maps


class Cache:
    """The entry for one data module's settings and input files (``file_stats``) under ``root``."""

    def __init__(self, root: str | Path, settings: dict, files: list):
        self.root = Path(root)
        self.settings = digest({"format": FORMAT, **settings})
        self.dir = self.root / f"{self.settings}-{digest(files)}"

    def open(self, build: Callable[[Path], dict], verify: Callable[[Path, dict], str | None] = lambda d, m: None
             ) -> tuple[dict, bool]:
        """(the entry's meta, whether it was there already and ``verify(directory, meta)`` found nothing wrong).
        Otherwise ``build(directory)`` writes the split files into a fresh directory and returns their meta; it
        becomes the entry whole or not at all."""
        meta = self.meta()
        if meta is not None and verify(self.dir, meta) is None:
            return meta, True
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"data.cache_dir={self.root}: cannot create it ({e.strerror}); set data.cache_dir to "
                              "a writable directory, or data.cache=false") from None
        with self.lock():
            meta = self.meta()  # built by the process that held the lock before us: another DDP rank, a sweep job
            problem = verify(self.dir, meta) if meta is not None else "a file missing or cut short, or no meta.json"
            if problem is None:
                return meta, True
            if self.dir.exists():
                log.warning("data cache: %s is damaged (%s); rebuilding it", self.dir, problem)
                shutil.rmtree(self.dir)
            for killed in self.root.glob(f".{self.dir.name}.*/"):  # a killed build's: only the lock holder writes
                shutil.rmtree(killed, ignore_errors=True)
            temp = Path(tempfile.mkdtemp(prefix=f".{self.dir.name}.", dir=self.root))
            try:
                interrupts.enter("building the data cache", "nothing was written: the unfinished entry is removed")
                meta = {"format": FORMAT, **build(temp)}
                (temp / "meta.json").write_text(json.dumps(meta))
                os.rename(temp, self.dir)
            finally:
                shutil.rmtree(temp, ignore_errors=True)  # gone already after the rename
            for stale in self.root.glob(f"{self.settings}-*"):  # the same settings over files that changed since
                if stale != self.dir and stale.is_dir():
                    log.info("data cache: removing %s (its input files changed)", stale)
                    shutil.rmtree(stale, ignore_errors=True)
        return meta, False

    def meta(self) -> dict | None:
        """The entry's meta when it is complete: meta.json there (written last) and every file of the size it
        says; None otherwise."""
        try:
            meta = json.loads((self.dir / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT:
            return None
        for split, m in meta["splits"].items():
            writer = Writer(self.dir, split)
            for name, f in m["fields"].items():
                expected = {writer.path(name): f["size"] * numpy_dtype(f["dtype"]).itemsize}
                if f["ndim"]:
                    expected[writer.path(name, "shape")] = m["items"] * f["ndim"] * 8
                if any(not p.is_file() or p.stat().st_size != size for p, size in expected.items()):
                    return None
        return meta

    @contextmanager
    def lock(self):
        """Held while building: other processes wait here, then find the entry built."""
        with open(self.root / f".{self.dir.name}.lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if (record.name, record.getMessage()) not in self.records:  # a streamed build reads its files more than once
            self.records.append((record.name, record.getMessage()))


@contextmanager
def kept_warnings() -> Iterator[list[tuple[str, str]]]:
    """(logger, message) of each warning seqexp logs meanwhile: a build's warnings (truncated texts, long words),
    said again by every run that reads the cache instead of the corpus."""
    kept = _Kept()
    logging.getLogger("seqexp").addHandler(kept)
    try:
        yield kept.records
    finally:
        logging.getLogger("seqexp").removeHandler(kept)


def clear(root: str | Path) -> int:
    """Remove every entry (and lock and unfinished build) under ``root``; returns how many entries there were."""
    root = Path(root)
    if not root.is_dir():
        return 0
    entries = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    shutil.rmtree(root)
    return len(entries)


def default_dir() -> str:
    """conf/data_defaults.yaml's ``cache_dir`` outside a run: ``$SEQEXP_CACHE_DIR``, else ``{data_dir}/cache``."""
    return os.environ.get("SEQEXP_CACHE_DIR") or os.path.join(default_data_dir(), "cache")
