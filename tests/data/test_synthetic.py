"""The lab's generated data: reproducible from data_seed, the layouts the tasks promise, the answers right."""

import pytest
import torch

from helpers import data_module
from seqexp.data.adding import AddingDataModule
from seqexp.errors import ConfigError

SMALL = ["data.train_size=50", "data.val_size=20", "data.test_size=20"]


def _adding(*overrides: str):
    return data_module("task=adding", *SMALL, *overrides)


def test_adding_layout_markers_and_sums():
    data = _adding("data.length=30")
    assert data.vocabs.input_dim == 2 and {s: len(d) for s, d in data.datasets.items()} == {"train": 50, "val": 20,
                                                                                            "test": 20}
    for item in data.datasets["train"]:
        tokens = item["tokens"]  # [T, 2]: value, marker
        assert tokens.shape == (30, 2) and tokens.dtype == torch.float32
        assert 0 <= tokens[:, 0].min() and tokens[:, 0].max() <= 1
        marked = tokens[:, 1].nonzero().flatten().tolist()
        assert len(marked) == 2 and marked[0] < 15 <= marked[1]  # one in each half
        assert set(tokens[:, 1].tolist()) == {0.0, 1.0}
        torch.testing.assert_close(item["target"], tokens[marked, 0].sum())


def test_adding_is_reproducible_and_seeded():
    first, again, other = _adding(), _adding("seed=7"), _adding("data.data_seed=5")  # training seed: same data
    for split in ("train", "val", "test"):
        for a, b in zip(first.datasets[split], again.datasets[split], strict=True):
            assert torch.equal(a["tokens"], b["tokens"]) and torch.equal(a["target"], b["target"])
    assert not torch.equal(first.datasets["train"][0]["tokens"], other.datasets["train"][0]["tokens"])
    assert not torch.equal(first.datasets["train"][0]["tokens"], first.datasets["val"][0]["tokens"])


def test_adding_baseline_is_a_sixth():
    """Always answering 1.0: the sum of two U[0, 1] has mean 1 and variance 1/6."""
    data = data_module("task=adding", "data.train_size=20000", "data.val_size=1", "data.test_size=1", "data.length=4")
    targets = torch.stack([item["target"] for item in data.datasets["train"]])
    assert abs((targets - 1).square().mean().item() - 1 / 6) < 0.005


def test_copy_layout():
    data = data_module("task=copy", *SMALL, "data.symbols=4", "data.alphabet=3", "data.length=6")
    vocab, labels = data.vocabs.vocab, data.vocabs.labels
    assert labels.itos == ["a", "b", "c"]
    for item in data.datasets["test"]:
        words = vocab.decode(item["tokens"].tolist())
        assert len(words) == 4 + 6 + 1 + 4
        assert words[4:] == ["_"] * 6 + [":"] + ["_"] * 4
        assert words[:4] == labels.decode(item["target"].tolist())  # the target: the symbols read first
    draws = torch.stack([item["target"] for item in data.datasets["train"]])
    assert set(draws.flatten().tolist()) == {0, 1, 2}


def test_character_features_are_refused():
    with pytest.raises(ConfigError, match="model.char"):
        AddingDataModule(chars=True)
