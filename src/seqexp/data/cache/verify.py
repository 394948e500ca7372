"""What a cache entry must hold before a run trusts it: sizes alone (``Cache.meta``) do not catch bytes overwritten
in place, which would reach the model as out-of-range ids an epoch later. One pass over the mapped values, vectorised
(min and max per field)."""

import hashlib
from pathlib import Path

import numpy as np

from seqexp.data.cache import CachedSplit, Writer

EXAMPLES = "examples.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def problem(directory: Path, meta: dict, bounds: dict[str, int], aligned: tuple[str, ...] = ()) -> str | None:
    """What is wrong with the entry, or None. ``bounds``: field -> the size of the vocabulary its ids index
    (``index`` is bounded by the split's item count); float fields must be finite; each field of ``aligned`` has
    as many rows per item as ``tokens``; the entry holds no file but those it wrote, and ``examples.json`` is the
    one the build wrote (its hash is in ``meta``)."""
    expected = {"meta.json"}
    if meta.get("examples") is not None:
        expected.add(EXAMPLES)
        if not (directory / EXAMPLES).is_file() or sha256(directory / EXAMPLES) != meta["examples"]:
            return f"{EXAMPLES} is not the file the build wrote"
    for split, m in meta["splits"].items():
        writer = Writer(directory, split)
        for name, f in m["fields"].items():
            expected.add(writer.path(name).name)
            if f["ndim"]:
                expected.add(writer.path(name, "shape").name)
        maps = CachedSplit(directory, split, m).maps()
        for name, (data, shapes, _) in maps.items():
            where = f"{split}.{name}"
            if shapes is not None and ((shapes < 0).any() or int(shapes.prod(1).sum()) != len(data)):
                return f"{where}: shapes that do not add up to its values"
            if name in aligned and "tokens" in maps and not np.array_equal(shapes[:, 0], maps["tokens"][1][:, 0]):
                return f"{where}: rows that do not match the tokens'"
            if not len(data):
                continue
            if np.issubdtype(data.dtype, np.floating):
                if not np.isfinite(data).all():
                    return f"{where}: values that are not finite"
                continue
            bound = m["items"] if name == "index" else bounds.get(name)
            low, high = int(data.min()), int(data.max())
            if low < 0 or (bound is not None and high >= bound):
                return f"{where}: ids from {low} to {high}, outside [0, {bound})"
    foreign = sorted(p.name for p in directory.iterdir() if p.name not in expected)
    return f"a file it did not write: {foreign[0]}" if foreign else None
