"""1-vs-N data: TREC questions conditioned on their class, and feature vectors with captions."""

import numpy as np
import pytest

from helpers import data_module as compose_data
from seqexp.data.readers import read_captions
from seqexp.errors import DataError


def data_module(*overrides: str):
    return compose_data("task=cond", *overrides)


def test_trec_questions_from_their_class():
    data = data_module()
    item = data.datasets["train"][0]
    words = data.vocabs.vocab.decode(item["tokens"].tolist())
    assert words[0] == "<bos>" and data.vocabs.vocab.decode(item["target"].tolist()) == [*words[1:], "<eos>"]
    assert data.vocabs.labels.itos[int(item["condition"])] == "DESC"  # "How did serfdom develop ..."
    assert data.vocabs.as_args()["labels"] == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]


def test_captions_with_feature_vectors(tmp_path):
    np.save(tmp_path / "train.npy", np.arange(40, dtype=np.float32).reshape(20, 2))
    (tmp_path / "train.txt").write_text("".join(f"a {'big' if i % 2 else 'small'} dog\n" for i in range(20)))
    data = data_module("data=captions", f"data.train={tmp_path}/train")
    batch = next(iter(data.train_dataloader()))
    assert batch["condition"].shape == (batch["tokens"].size(0), 2)
    assert data.vocabs.as_args()["feature_dim"] == 2 and "labels" not in data.vocabs.as_args()


def test_captions_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 4)))
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    with pytest.raises(DataError, match=rf"{tmp_path}/a.npy has 3 feature row.s. of shape \(3, 4\) but "
                                        rf"{tmp_path}/a.txt has 2 caption line"):
        read_captions(tmp_path / "a")
    (tmp_path / "b.txt").write_text("one\n")
    with pytest.raises(DataError, match=r"data.train: file not found: .*b.npy"):
        data_module("data=captions", f"data.train={tmp_path}/b")
