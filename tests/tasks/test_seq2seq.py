"""The seq2seq head: perplexity is exp(mean token NLL), beam size 1 decodes exactly like greedy."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqexp.data.vocab import SPECIALS
from seqexp.errors import ConfigError
from seqexp.tasks.seq2seq import Seq2Seq

ENCODER = {"_target_": "seqexp.models.encoder.Encoder", "cell": "gru", "embedding_dim": 8, "hidden_size": 6,
           "bidirectional": True}
OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}


def model(attention: str = "bahdanau") -> Seq2Seq:
    decoder = {"cell": "gru", "embedding_dim": 8, "hidden_size": 10, "attention": attention}
    return Seq2Seq(target_vocab=[*SPECIALS, *"uvwxyz"], decoder=decoder, encoder=ENCODER,
                   vocab=[*SPECIALS, *"abcdef"], optimizer=OPTIMIZER, max_len=8).eval()


def batch() -> dict[str, torch.Tensor]:
    return {"tokens": torch.tensor([[4, 5, 6, 7], [8, 9, 0, 0], [5, 5, 5, 0]]), "lengths": torch.tensor([4, 2, 3]),
            "target": torch.tensor([[2, 4, 5, 3, 0], [2, 6, 7, 8, 3], [2, 9, 3, 0, 0]])}


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong-general"])
def test_beam_one_is_greedy(attention):
    torch.manual_seed(0)
    m = model(attention)
    with torch.no_grad():
        assert torch.equal(m.translate(batch(), beam_size=1), m.decoder.beam_search(
            m.bridge(m.encode(batch())[2]), m._memory(m.encode(batch())[0]), batch()["tokens"] != 0, m.bos, m.eos,
            8, beam_size=1))


def test_perplexity_is_exp_of_mean_token_nll():
    torch.manual_seed(0)
    m = model()
    metrics = m.metrics["val_metrics"]  # perplexity is scored on val and test (train: its loss, not a softmax more)
    nll = count = 0.0
    with torch.no_grad():
        for _ in range(3):
            logits = m(batch())  # [B, T-1, V]
            gold = batch()["target"][:, 1:]
            m.update_metrics(metrics, (logits, None), gold, batch())
            real = gold != 0
            nll += F.cross_entropy(logits[real], gold[real], reduction="sum").item()
            count += real.sum().item()
    assert metrics.compute()["val/ppl"].item() == pytest.approx(math.exp(nll / count), rel=1e-5)


def test_translations_are_text_up_to_eos():
    m = model()
    assert m.text(torch.tensor([2, 4, 5, 3, 6, 0])) == "u v"


def test_generators_are_not_ensembled():
    with pytest.raises(ConfigError, match="Seq2Seq checkpoints cannot be ensembled"):
        model().join([model()])


def test_validation_decodes_greedily_unless_val_beam_size_says_otherwise():
    torch.manual_seed(0)
    m = model()
    with torch.no_grad():
        assert torch.equal(m.step(batch(), "val")[1][1], m.translate(batch(), beam_size=1))
        m.hparams.val_beam_size = 3  # python -m seqexp.evaluate split=val task.val_beam_size=3: choose on val
        assert torch.equal(m.step(batch(), "val")[1][1], m.translate(batch(), beam_size=3))
        assert torch.equal(m.step(batch(), "test")[1][1], m.translate(batch(), beam_size=m.hparams.beam_size))
