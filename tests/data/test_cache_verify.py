"""Fault injection over a cache entry (seqexp.data.cache.verify, .examples): bytes overwritten in place, ids out of
range, shapes that do not add up, a planted pickle or foreign file. Each is caught before the run uses the entry,
which is rebuilt with one warning naming it, into the items a clean build gives; no planted pickle ever runs."""

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from seqexp.data.cache import examples
from seqexp.data.classify import ClassifyDataModule
from seqexp.data.conll import Tagged
from seqexp.data.readers import Captioned, Labeled, Pair, Text, read_tsv

ROWS = ["a b c\tx", "b c\ty", "c d e f\tx", "a\ty", "d d\tx", "e f a\ty", "f e\tx", "c c b\ty"]


class Planted:
    """A pickle that, if ever unpickled, writes a marker file: what an attacker with write access would plant."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def _module(tmp_path) -> ClassifyDataModule:
    train = tmp_path / "t.tsv"
    if not train.exists():
        train.write_text("".join(f"{r}\n" for r in ROWS))
    return ClassifyDataModule(reader=read_tsv, train=str(train), val_fraction=0.25, batch_size=2, cache=True,
                              cache_dir=str(tmp_path / "cache"), chars=True)


def _items(data) -> dict:
    return {s: [{k: v.tolist() for k, v in item.items()} for item in d] for s, d in data.datasets.items()}


@pytest.fixture
def entry(tmp_path):
    """(a built entry's directory, the items and examples a clean build gives)."""
    clean = _module(tmp_path)
    clean.setup()
    return clean._cache_dir, _items(clean), clean.examples


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:  # in place: the size stays, which is all Cache.meta checks
        f.seek(offset)
        f.write(data)


def _damaged(tmp_path, caplog, damage, entry) -> ClassifyDataModule:
    directory, items, shown = entry
    damage(directory)
    with caplog.at_level(logging.WARNING, "seqexp"):
        again = _module(tmp_path)
        again.setup()
    assert again._cache_dir == directory
    assert _items(again) == items and again.examples == shown
    return again


@pytest.mark.parametrize(("damage", "said"), [
    (lambda d: _overwrite(d / "train.tokens.bin", 0, b"\xff" * 64), "train.tokens: ids from -1 to"),
    (lambda d: _overwrite(d / "val.labels.bin", 0, np.int64(2).tobytes()), "val.labels: ids from "),
    (lambda d: _overwrite(d / "train.chars.bin", 8, np.int64(10_000).tobytes()), "train.chars: ids from"),
    (lambda d: _overwrite(d / "train.index.bin", 0, np.int64(99).tobytes()), "train.index: ids from"),
    (lambda d: _overwrite(d / "train.tokens.shape.bin", 0, np.int64(2).tobytes()), "train.tokens: shapes that do"),
    (lambda d: _overwrite(d / "train.chars.shape.bin", 0, np.int64(4).tobytes()), "train.chars: "),
    (lambda d: _overwrite(d / "examples.json", 2, b"X"), "examples.json is not the file the build wrote"),
    (lambda d: (d / "notes.txt").write_text("hello"), "a file it did not write: notes.txt"),
])
def test_a_damaged_entry_is_rebuilt_with_a_warning_into_the_clean_items(tmp_path, caplog, entry, damage, said):
    _damaged(tmp_path, caplog, damage, entry)
    assert f"is damaged ({said}" in caplog.text and "rebuilding it" in caplog.text
    assert caplog.text.count("is damaged") == 1


def test_a_sound_entry_is_a_hit_without_warnings(tmp_path, caplog, entry):
    with caplog.at_level(logging.WARNING, "seqexp"):
        again = _module(tmp_path)
        again.setup()
    assert caplog.text == "" and _items(again) == entry[1]


@pytest.mark.parametrize("where", ["examples.json", "examples.pkl", "train.tokens.bin"])
def test_a_planted_pickle_never_runs(tmp_path, caplog, entry, where):
    marker = tmp_path / "pwned"
    _damaged(tmp_path, caplog, lambda d: (d / where).write_bytes(pickle.dumps(Planted(marker))), entry)
    assert "is damaged" in caplog.text
    assert not marker.exists()


def test_examples_come_back_as_the_readers_made_them(tmp_path):
    held = {"val": [Labeled("a b", "x", 3), Pair("s", "t", 4), Text("words here", 5)],
            "test": [Captioned("a cap", (0.5, -1.0), 6), Tagged(["New", "York"], ["B-loc", "I-loc"], 7)]}
    examples.dump(held, tmp_path / "e.json")
    assert examples.load(tmp_path / "e.json") == held  # tuples stay tuples, so examples compare and hash alike


@pytest.mark.parametrize("text", ['{"val": [["Popen", [["ls"]]]]}', '{"val": [["Labeled", ["a"]]]}', '[1, 2]',
                                  '{"val": [["Labeled", ["a", "x", 1], "extra"]]}'])
def test_anything_but_the_readers_examples_is_refused(tmp_path, text):
    (tmp_path / "e.json").write_text(text)
    with pytest.raises(ValueError):
        examples.load(tmp_path / "e.json")
