"""The classification DataModule on the bundled TREC data and on a user's TSV."""

import pytest
import torch

from helpers import data_module
from seqexp.data.batching import padding_ratio
from seqexp.errors import DataError


@pytest.fixture(scope="module")
def trec():
    return data_module()


def test_trec_splits_vocab_and_labels(trec):
    assert {s: len(d) for s, d in trec.datasets.items()} == {"train": 4907, "val": 545, "test": 500}
    assert trec.vocabs.labels.itos == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert trec.vocabs.vocab.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and "what" in trec.vocabs.vocab
    assert "What" not in trec.vocabs.vocab  # lowercase: true
    args = trec.vocabs.as_args()
    assert args["vocab"] == trec.vocabs.vocab.itos and args["labels"] == trec.vocabs.labels.itos
    assert args["tokenizer"] == {"tokenizer": "whitespace", "lowercase": True, "max_word_len": 50}


def test_batches_are_padded_tensors(trec):
    batch = next(iter(trec.train_dataloader()))
    b, t = batch["tokens"].shape
    assert b == 32 and batch["lengths"].max() == t and batch["labels"].shape == (32,)
    assert torch.all(batch["tokens"][torch.arange(t)[None, :] >= batch["lengths"][:, None]] == 0)


def test_trec_padding_is_small(trec):
    lengths = [len(x["tokens"]) for x in trec.datasets["train"]]
    assert padding_ratio(lengths, iter(trec.train_dataloader().batch_sampler)) < 0.03


def _tsv(path, rows):
    path.write_text("".join(f"{t}\t{label}\n" for t, label in rows))
    return str(path)


def _module(**kwargs):
    from seqexp.data.classify import ClassifyDataModule
    from seqexp.data.readers import read_tsv

    return ClassifyDataModule(reader=read_tsv, tokenizer="simple", **kwargs)


def test_val_carved_with_a_fixed_seed(tmp_path):
    train = _tsv(tmp_path / "t.tsv", [(f"text {i}", "ab"[i % 2]) for i in range(100)])
    a, b = _module(train=train, val_fraction=0.2, seed=1), _module(train=train, val_fraction=0.2, seed=2)
    a.setup(), b.setup()
    assert len(a.datasets["val"]) == 20 and len(a.datasets["train"]) == 80
    assert [x["tokens"].tolist() for x in a.datasets["val"]] == [x["tokens"].tolist() for x in b.datasets["val"]]


def test_user_files_errors(tmp_path):
    train = _tsv(tmp_path / "t.tsv", [("a b", "x"), ("c", "y")])
    with pytest.raises(DataError, match=r"t2.tsv:2: the text has no tokens"):
        _module(train=train, val=_tsv(tmp_path / "t2.tsv", [("a", "x"), ("   ", "x")])).setup()
