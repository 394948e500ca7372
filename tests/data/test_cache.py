"""The tokenized cache: its key, atomic and locked builds, stale and partial entries, equality with reading the
corpus, and the clear command."""

import logging
import multiprocessing
import os
import time
from functools import partial
from pathlib import Path

import pytest
import torch

from helpers import read_metrics, run_seqexp
from seqexp.data.cache import Cache, Writer, file_stats
from seqexp.data.cache.__main__ import main as cache_cli
from seqexp.data.classify import ClassifyDataModule
from seqexp.data.cond import CondDataModule
from seqexp.data.lm import LMDataModule
from seqexp.data.readers import read_text, read_tsv
from seqexp.data.seq2seq import Seq2SeqDataModule
from seqexp.data.tagging import TaggingDataModule
from seqexp.data.vocab import Vocab, Vocabs
from seqexp.run.build import build_data
from seqexp.run.schema import parameters

LOADER_ONLY = {"batch_size", "bucket", "bucket_pool", "num_workers", "seed", "vectors", "hint", "download",
               "download_dir", "cache", "cache_dir", "bptt", "eval_batch_size",
               "reader", "train", "val", "test"}  # these three: tests below
"""Data settings that change how items are batched, not what they are: not part of the key."""
CHANGED = {"val_fraction": 0.2, "test_fraction": 0.1, "split_seed": 1, "tokenizer": "simple", "lowercase": True,
           "min_freq": 2, "max_size": 10, "max_len": 7, "max_word_len": 9, "chars": True, "prefixes": ["i "],
           "filter_max_len": 5, "overlong": "error", "reverse": True, "src": "de", "tgt": "en"}


def key(module) -> str:
    return Cache("unused", module.cache_settings(), []).dir.name


@pytest.mark.parametrize("cls", [ClassifyDataModule, TaggingDataModule, Seq2SeqDataModule, LMDataModule,
                                 CondDataModule])
def test_every_data_setting_changes_the_key(cls):
    """A new data setting must be declared here as loader-only or make cache_settings change the key."""
    settings = set(parameters(cls)[0]) - LOADER_ONLY
    assert settings <= CHANGED.keys(), f"{cls.__name__}: add {settings - CHANGED.keys()} to cache_settings"
    base = dict(reader=read_tsv, train="t.tsv")
    reference = key(cls(**base))
    assert key(cls(**base)) == reference  # stable
    for name in settings - ({"chars"} if cls is LMDataModule else set()):  # the LM reads words only
        assert key(cls(**base, **{name: CHANGED[name]})) != reference, name
    for name, value in (("batch_size", 7), ("seed", 3), ("bucket", False), ("num_workers", 2)):
        assert key(cls(**base, **{name: value})) == reference, name
    assert key(cls(reader=partial(read_tsv, label_column=2), train="t.tsv")) != reference
    assert key(cls(reader=read_text, train="t.tsv")) != reference
    assert key(cls(**base, test="u.tsv")) != reference
    given = cls(**base)
    given.use_vocabs(Vocabs(Vocab(["<pad>", "<unk>", "a"])))
    assert key(given) != reference  # a checkpoint's vocabularies encode differently


def _tsv(path: Path, rows: list[str]) -> str:
    path.write_text("".join(f"{r}\n" for r in rows))
    return str(path)


ROWS = ["a b c\tx", "b c\ty", "c d e f\tx", "a\ty", "d d\tx", "e f a\ty"]


def _module(tmp_path, train: str, **kwargs) -> ClassifyDataModule:
    return ClassifyDataModule(reader=read_tsv, train=train, batch_size=2, cache=True,
                              cache_dir=str(tmp_path / "cache"), chars=True, **kwargs)


def _items(data) -> dict:
    return {s: [{k: v.tolist() for k, v in item.items()} for item in d] for s, d in data.datasets.items()}


def _equal(got: list[dict], want: list[dict]) -> bool:
    return bool(want) and [{k: v.tolist() for k, v in x.items()} for x in got] == \
        [{k: v.tolist() for k, v in x.items()} for x in want]


def _entries(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "cache").iterdir())


def test_cached_items_equal_read_items_and_a_second_setup_hits(tmp_path, caplog):
    train = _tsv(tmp_path / "t.tsv", ROWS)
    plain = ClassifyDataModule(reader=read_tsv, train=train, batch_size=2, chars=True)
    plain.setup()
    with caplog.at_level(logging.INFO, "seqexp"):
        built = _module(tmp_path, train)
        built.setup()
        hit = _module(tmp_path, train)
        hit.setup()
    said = [r.getMessage().split(":")[0] for r in caplog.records if "data cache" in r.getMessage()]
    assert said == ["data cache built", "data cache hit"]
    assert _items(built) == _items(hit) == _items(plain)
    assert hit.vocabs.as_args() == plain.vocabs.as_args()
    assert hit.examples == plain.examples and hit.examples["val"]
    assert hit.datasets["train"][0]["chars"].shape == plain.datasets["train"][0]["chars"].shape  # [T, W]
    assert hit.datasets["train"].lengths() == [len(x["tokens"]) for x in plain.datasets["train"]]
    for part in (slice(1, 3), slice(-2, None)):  # a split reads as the list it replaces
        assert _equal(hit.datasets["train"][part], plain.datasets["train"][part])
    assert _equal([hit.datasets["train"][-1]], [plain.datasets["train"][-1]])
    for got, want in zip(hit.train_dataloader(), plain.train_dataloader(), strict=True):  # the same batches
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)


@pytest.mark.parametrize("splits", [{}, {"test_fraction": 0.2}, {"val": "v.txt"}, {"val": "v.txt", "test": "v.txt"},
                                    {"test": "v.txt", "min_freq": 2}])
def test_a_text_corpus_streams_into_the_cache_with_the_items_it_reads_to(tmp_path, splits):
    lines = [" ".join(f"w{(i * 7 + j) % 13}" for j in range(i % 5 + 1)) for i in range(40)]
    _tsv(tmp_path / "t.txt", lines[:30] + ["", "   "] + lines[30:])
    _tsv(tmp_path / "v.txt", lines[::3])
    splits = {k: str(tmp_path / v) if k in ("val", "test") else v for k, v in splits.items()}
    reader = partial(read_text, skip_blank=True, encoding_errors="strict")
    read = LMDataModule(reader=reader, train=str(tmp_path / "t.txt"), batch_size=2, bptt=3, **splits)
    read.setup()
    streamed = LMDataModule(reader=reader, train=str(tmp_path / "t.txt"), batch_size=2, bptt=3, cache=True,
                            cache_dir=str(tmp_path / "cache"), **splits)
    streamed.setup()
    assert streamed.streams.keys() == read.streams.keys()
    assert all(torch.equal(streamed.streams[s], read.streams[s]) for s in read.streams)
    assert streamed.vocabs.as_args() == read.vocabs.as_args() and streamed.examples == read.examples


def test_changed_files_rebuild_and_the_stale_entry_goes(tmp_path):
    train, val = _tsv(tmp_path / "t.tsv", ROWS), _tsv(tmp_path / "v.tsv", ROWS[:2])
    first = _module(tmp_path, train, val=val)
    first.setup()
    old = _entries(tmp_path)
    _tsv(tmp_path / "t.tsv", [*ROWS, "z z z\tx"])
    second = _module(tmp_path, train, val=val)
    second.setup()
    assert len(second.datasets["train"]) == len(ROWS) + 1 and "z" in second.vocabs.vocab
    entries = [e for e in _entries(tmp_path) if not e.startswith(".")]
    assert len(entries) == 1 and entries != old


def test_partial_entries_are_rebuilt_never_read(tmp_path, caplog):
    train = _tsv(tmp_path / "t.tsv", ROWS)
    reference = _module(tmp_path, train)
    reference.setup()
    entry = tmp_path / "cache" / next(e for e in _entries(tmp_path) if not e.startswith("."))
    for damage in (lambda: (entry / "train.tokens.bin").write_bytes(b"\0" * 4),  # cut short
                   lambda: (entry / "meta.json").unlink()):  # never finished
        damage()
        with caplog.at_level(logging.WARNING, "seqexp"):
            again = _module(tmp_path, train)
            again.setup()
        assert "is damaged (a file missing or cut short, or no meta.json); rebuilding it" in caplog.text
        assert _items(again) == _items(reference)
        caplog.clear()


def test_a_killed_build_leaves_nothing_that_is_read_and_the_next_build_clears_it(tmp_path):
    cache = Cache(tmp_path / "cache", {"x": 1}, [])

    def build(directory: Path) -> dict:
        Writer(directory, "train").write([{"tokens": torch.arange(3)}])
        raise KeyboardInterrupt  # killed mid-build

    with pytest.raises(KeyboardInterrupt):
        cache.open(build)
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []
    assert cache.meta() is None
    killed = tmp_path / "cache" / f".{cache.dir.name}.x1y2"  # what SIGKILL mid-build leaves
    killed.mkdir()
    (killed / "train.tokens.bin").write_bytes(b"\0" * 16)
    meta, hit = cache.open(lambda d: {"splits": {"train": Writer(d, "train").write([{"tokens": torch.arange(2)}])}})
    assert not hit and not killed.exists() and meta["splits"]["train"]["items"] == 1
    assert cache.open(build) == (meta, True)


def _open_slowly(root: str, log: str) -> bool:
    def build(directory: Path) -> dict:
        with open(log, "a") as f:
            f.write("build\n")
        time.sleep(0.5)  # the other process arrives meanwhile
        return {"splits": {"train": Writer(directory, "train").write([{"tokens": torch.arange(3)}])}}

    return Cache(root, {"x": 1}, []).open(build)[1]


def test_two_processes_build_once(tmp_path):
    """What DDP ranks and parallel sweep jobs do: the first builds under the lock, the other waits and maps it."""
    log = tmp_path / "builds"
    with multiprocessing.get_context("fork").Pool(2) as pool:
        hits = pool.starmap(_open_slowly, [(str(tmp_path / "c"), str(log))] * 2)
    assert sorted(hits) == [False, True]
    assert log.read_text() == "build\n"


def test_missing_files_skip_the_cache_and_reading_reports_them(tmp_path):
    assert file_stats([str(tmp_path / "nope.tsv")]) is None
    parallel = tmp_path / "train"
    (tmp_path / "train.de").write_text("a\n")
    (tmp_path / "train.en").write_text("b\n")
    assert [Path(p).name for p, _, _ in file_stats([str(parallel)])] == ["train.de", "train.en"]


SLOW = pytest.mark.slow  # each reads its corpus three times


@pytest.mark.parametrize("task", ["classify", "lm", *(pytest.param(t, marks=SLOW) for t in ("ner", "seq2seq", "cond"))])
def test_cached_batches_equal_uncached_on_the_bundled_corpora(make_cfg, tmp_path, task):
    overrides = [f"task={task}", f"data.cache_dir={tmp_path}/cache", *(["data=ud_ewt_text"] if task == "lm" else [])]
    runs = []
    for cache in ("false", "true", "true"):  # read, built, hit
        data = build_data(make_cfg(*overrides, f"data.cache={cache}"))
        batches = [*list(data.train_dataloader())[:20], *data.val_dataloader(), *data.test_dataloader()]
        runs.append((batches, data.vocabs.as_args(), data.examples))
    for batches, vocabs, examples in runs[1:]:
        assert vocabs == runs[0][1] and examples == runs[0][2]
        assert len(batches) == len(runs[0][0])
        for got, want in zip(batches, runs[0][0], strict=True):
            assert got.keys() == want.keys()
            assert all(torch.equal(got[k], want[k]) and got[k].dtype == want[k].dtype for k in got)


def test_clear_removes_every_entry(tmp_path, capsys):
    train = _tsv(tmp_path / "t.tsv", ROWS)
    _module(tmp_path, train).setup()
    _module(tmp_path, train, lowercase=True).setup()
    assert cache_cli(["clear", f"cache_dir={tmp_path / 'cache'}"]) == 0
    assert "removed 2 cache entries" in capsys.readouterr().out
    assert not (tmp_path / "cache").exists()
    assert cache_cli(["purge"]) == 2


@pytest.mark.slow  # four training runs
def test_a_second_run_hits_the_cache_with_the_same_metrics(tmp_path):
    small = ["trainer.max_epochs=1", "+trainer.limit_train_batches=5", "model.hidden_size=16",
             f"data.cache_dir={tmp_path}/cache"]
    outputs = {}
    for name, cache in (("off", "false"), ("built", "true"), ("hit", "true"), ("damaged", "true")):
        if name == "damaged":  # bytes overwritten in place: the size still fits, the ids do not
            entry = next(p for p in (tmp_path / "cache").iterdir() if p.is_dir() and not p.name.startswith("."))
            with open(entry / "train.tokens.bin", "r+b") as f:
                f.write(b"\xff" * 64)
        proc = run_seqexp(tmp_path / name, *small, f"data.cache={cache}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs[name] = proc.stdout + proc.stderr
    assert "data cache built" in outputs["built"] and "data cache hit" in outputs["hit"]
    assert "data cache" not in outputs["off"]
    assert "is damaged (train.tokens: ids from -1 to" in outputs["damaged"]
    assert "data cache built" in outputs["damaged"]
    metrics = {name: read_metrics(tmp_path / name)["metrics"] for name in outputs}
    assert metrics["off"] == metrics["built"] == metrics["hit"] == metrics["damaged"]
    assert os.listdir(tmp_path / "cache")
