"""The 1-vs-N head: the condition decides the generated sequence; generators must be unidirectional."""

import pytest
import torch

from seqexp.data.vocab import SPECIALS
from seqexp.errors import ConfigError
from seqexp.tasks.cond import ConditionalGenerator

OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.02}
VOCAB = [*SPECIALS, *"abcdef"]


def generator(bidirectional: bool = False, cell: str = "lstm") -> ConditionalGenerator:
    encoder = {"_target_": "seqexp.models.encoder.Encoder", "cell": cell, "embedding_dim": 8, "hidden_size": 16,
               "bidirectional": bidirectional, "impl": "scratch" if cell == "lnlstm" else "cudnn"}
    return ConditionalGenerator(labels=["x", "y"], encoder=encoder, vocab=VOCAB, optimizer=OPTIMIZER, dropout=0.0,
                                max_len=6)


def test_learns_one_sequence_per_label():
    """x -> "a b c", y -> "d e": after training, greedy generation from each label gives its sequence."""
    torch.manual_seed(0)
    model = generator()
    a, b, c, d, e = (VOCAB.index(t) for t in "abcde")
    batch = {"tokens": torch.tensor([[2, a, b, c], [2, d, e, 0]]), "lengths": torch.tensor([4, 3]),
             "target": torch.tensor([[a, b, c, 3], [d, e, 3, 0]]), "condition": torch.tensor([0, 1])}
    optimizer = model.configure_optimizers()
    for _ in range(80):
        loss = model.step(batch, "train")[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    assert [model.text(g) for g in model.generate(torch.tensor([0, 1]))] == ["a b c", "d e"]
    assert model.predict(["y", "x"]) == [{"condition": "y", "generated": "d e"}, {"condition": "x",
                                                                                  "generated": "a b c"}]
    assert model.check_input("z") == "unknown label 'z' (expected one of x, y)" and model.check_input(" y") is None


@pytest.mark.parametrize("cell", ["gru", "lnlstm"])
def test_other_cells_and_bidirectional_rejected(cell):
    model = generator(cell=cell).eval()
    assert model.generate(torch.tensor([0, 1])).shape[0] == 2
    with pytest.raises(ConfigError, match="model.bidirectional must be false for task=cond"):
        generator(bidirectional=True)
