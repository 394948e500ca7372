"""Seq2seq data: the bundled Tatoeba subset, the user's parallel files, and what goes wrong with them."""

import logging

import pytest

from helpers import data_module as compose_data
from seqexp.data.readers import read_parallel
from seqexp.errors import DataError


def data_module(*overrides: str):
    return compose_data("task=seq2seq", *overrides)


def test_tatoeba_default_subset_and_splits():
    data = data_module()
    sizes = {s: len(d) for s, d in data.datasets.items()}
    assert sizes == {"train": 12563, "val": 661, "test": 696}  # 5% test, then 5% of the rest for val
    item = data.datasets["train"][0]
    target = data.vocabs.target_vocab.decode(item["target"].tolist())
    assert target[0] == "<bos>" and target[-1] == "<eos>"
    assert data.vocabs.vocab.decode(item["tokens"].tolist())[0] in ("i", "i'm", "he", "he's", "she", "she's", "you",
                                                            "you're", "we", "we're", "they", "they're")
    assert "suis" in data.vocabs.target_vocab and "suis" not in data.vocabs.vocab
    batch = next(iter(data.train_dataloader()))
    assert batch["target"].shape[0] == batch["tokens"].shape[0] == 64


def _write(tmp_path, name, lines):
    (tmp_path / name).write_text("".join(f"{line}\n" for line in lines))


def test_parallel_files(tmp_path):
    _write(tmp_path, "train.de", ["ein hund .", "eine katze ."] * 10)
    _write(tmp_path, "train.en", ["a dog .", "a cat ."] * 10)
    data = data_module("data=parallel", f"data.train={tmp_path}/train", "data.src=de", "data.tgt=en")
    assert sum(len(d) for d in data.datasets.values()) == 20
    assert "hund" in data.vocabs.vocab and "dog" in data.vocabs.target_vocab


def test_parallel_errors(tmp_path):
    _write(tmp_path, "a.de", ["eins", "zwei", "drei"])
    _write(tmp_path, "a.en", ["one", "two"])
    with pytest.raises(DataError, match=rf"{tmp_path}/a.de has 3 lines but {tmp_path}/a.en has 2"):
        read_parallel(tmp_path / "a", "de", "en")
    _write(tmp_path, "b.de", ["eins", "", "drei"])
    _write(tmp_path, "b.en", ["one", "two", "three"])
    with pytest.raises(DataError, match=rf"{tmp_path}/b.de:2: empty line where the other side has text"):
        read_parallel(tmp_path / "b", "de", "en")
    with pytest.raises(DataError, match=r"data.train: file not found: .*/missing.de"):
        data_module("data=parallel", f"data.train={tmp_path}/missing", "data.src=de", "data.tgt=en")
    _write(tmp_path, "c.de", ["eins", "zwei", "drei"])
    _write(tmp_path, "c.en", ["one", "two", "three"])
    with pytest.raises(DataError, match=rf"^{tmp_path}/c: none of its 3 pairs is left after data.prefixes and "
                                        "data.filter_max_len"):
        data_module("data=parallel", f"data.train={tmp_path}/c", "data.src=en", "data.tgt=de",
                    "data.prefixes=[zzz]")


def test_overlong_sentences_truncated_with_a_count_or_rejected(tmp_path, caplog):
    _write(tmp_path, "t.de", ["a b c d e f", "a b"] * 10)
    _write(tmp_path, "t.en", ["x y", "x y z w v u t"] * 10)
    base = ["data=parallel", f"data.train={tmp_path}/t", "data.src=de", "data.tgt=en", "data.max_len=4"]
    with caplog.at_level(logging.WARNING):
        data = data_module(*base)
    assert "20 pair(s) longer than data.max_len=4 tokens, truncated" in caplog.text
    assert max(len(x["tokens"]) for x in data.datasets["train"]) == 4
    assert max(len(x["target"]) for x in data.datasets["train"]) == 4 + 2  # + <bos>, <eos>
    with pytest.raises(DataError, match=rf"{tmp_path}/t:1: longer than data.max_len=4 tokens"):
        data_module(*base, "data.overlong=error")
