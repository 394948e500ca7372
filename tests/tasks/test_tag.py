"""The tagging head: padding never counts, the CRF respects the scheme, span metrics come out per type."""

import copy

import pytest
import torch

from seqexp.data.vocab import SPECIALS
from seqexp.errors import ConfigError
from seqexp.tasks.base import mask
from seqexp.tasks.tag import Tagger

ENCODER = {"_target_": "seqexp.models.encoder.Encoder", "cell": "lstm", "embedding_dim": 8, "hidden_size": 6,
           "bidirectional": True}
OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.05}
LABELS = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
VOCAB = [*SPECIALS, *"abcdefgh"]


def tagger(**kwargs) -> Tagger:
    return Tagger(labels=LABELS, encoder=ENCODER, vocab=VOCAB, optimizer=OPTIMIZER, **kwargs)


def batch(tags: list[list[int]]) -> dict[str, torch.Tensor]:
    lengths = torch.tensor([len(t) for t in tags])
    padded = torch.zeros(len(tags), int(lengths.max()), dtype=torch.long)
    for i, t in enumerate(tags):
        padded[i, :len(t)] = torch.tensor(t)
    return {"tokens": (padded + 4).masked_fill(padded == 0, 4), "lengths": lengths, "tags": padded}


def test_padding_does_not_change_the_loss():
    torch.manual_seed(0)
    for crf in (False, True):
        model = tagger(crf=crf).eval()
        short = batch([[4, 1, 3]])
        padded = batch([[4, 1, 3], [4, 4, 4, 4, 0, 1]])
        loss_alone = model.step(short, "val")[0]
        longer = model.step(batch([[4, 4, 4, 4, 0, 1]]), "val")[0]
        loss_pair = model.step(padded, "val")[0] * (2 if crf else 9) - longer * (1 if crf else 6)
        torch.testing.assert_close(loss_alone * (1 if crf else 3), loss_pair, atol=1e-5, rtol=1e-5)


def test_crf_never_predicts_o_then_i():
    torch.manual_seed(0)
    model = tagger(crf=True).eval()
    with torch.no_grad():
        model.out.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 5.0, 0.0]))  # push every token to I-PER
    preds = model.step(batch([[4, 4, 4], [1, 3, 4]]), "val")[1]
    o, i_loc, i_per = LABELS.index("O"), LABELS.index("I-LOC"), LABELS.index("I-PER")
    for sequence in preds.tolist():
        assert sequence[0] not in (i_loc, i_per)
        for a, b in zip(sequence, sequence[1:], strict=False):
            assert not (a == o and b in (i_loc, i_per))


def test_learns_and_reports_span_metrics():
    torch.manual_seed(0)
    model = tagger(crf=True, dropout=0.0)
    optimizer = model.configure_optimizers()
    data = batch([[1, 3, 4, 0, 2], [4, 1, 3, 3], [0, 2, 4]])
    data["tokens"] = data["tags"] + 4  # each word names its tag
    for _ in range(60):
        loss, preds, targets = model.step(data, "train")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    metrics = model.metrics["val_metrics"]
    model.update_metrics(metrics, *model.step(data, "val")[1:], data)
    scores = metrics.compute()
    assert scores["val/f1"] == 1.0 and scores["val/acc"] == 1.0
    assert set(scores) == {"val/acc", "val/f1", "val/precision", "val/recall", "val/f1_LOC", "val/f1_PER",
                           "val/precision_LOC", "val/precision_PER", "val/recall_LOC", "val/recall_PER"}


def test_pos_mode_reports_accuracy_only():
    model = tagger(scheme=None)
    assert list(model.metrics["test_metrics"].keys(keep_base=True)) == ["acc"]
    assert model.crf is None


def test_lm_loss_predicts_next_word_forward_and_previous_word_backward():
    torch.manual_seed(0)
    model = tagger(lm_weight=0.1, singletons=3).eval()  # vocab ids 9, 10, 11 ("fgh") are singletons: <unk> targets
    assert model.next_word.out_features == len(VOCAB) - 3
    data = batch([[1, 3, 4, 0, 2], [4, 1, 3]])
    data["tokens"] = torch.tensor([[4, 5, 9, 6, 11], [7, 10, 8, 0, 0]])
    m = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    with torch.no_grad():
        features = model.features(data)  # [B, T, 12]: forward half, backward half
        nll = model.lm_nll(features, data["tokens"], m)
        expected = 0.0
        for b, n in enumerate((5, 3)):
            words = [w if w < 9 else 1 for w in data["tokens"][b, :n].tolist()]  # 1 = <unk>
            for t in range(n - 1):
                expected += torch.nn.functional.cross_entropy(model.next_word(features[b, t, :6]), torch.tensor(
                    words[t + 1])) + torch.nn.functional.cross_entropy(model.prev_word(features[b, t + 1, 6:]),
                                                                       torch.tensor(words[t]))
    torch.testing.assert_close(nll, expected)
    for crf, per in ((False, 8), (True, 2)):  # weighted in, divided as the main loss: by tokens, or sentences (CRF)
        model = tagger(crf=crf, lm_weight=0.1, singletons=3, dropout=0.0)  # training mode, nothing random
        with torch.no_grad():
            loss, nll = model.step(data, "train")[0], model.lm_nll(model.features(data), data["tokens"], m)
            main = model.eval().step(data, "val")[0]  # evaluation reports the tagging loss alone
            torch.testing.assert_close(loss, main + 0.1 * nll / per)
            model.lm_weight = 0.0
            torch.testing.assert_close(model.train().step(data, "train")[0], main)


def test_lm_weight_needs_one_bidirectional_layer():
    for encoder in ({**ENCODER, "bidirectional": False}, {**ENCODER, "num_layers": 2}):
        with pytest.raises(ConfigError, match="task.lm_weight"):
            Tagger(labels=LABELS, encoder=encoder, vocab=VOCAB, optimizer=OPTIMIZER, lm_weight=0.1)


@pytest.mark.parametrize("crf", [False, True])
def test_ensemble_scores_are_the_members_mean(crf):
    """``join``: emissions are the members' mean and so is the CRF's score of every path (a geometric mean of
    their distributions); predictions and loss follow from those scores."""
    torch.manual_seed(0)
    members = [tagger(crf=crf).eval() for _ in range(3)]
    data = batch([[1, 3, 4, 0, 2], [4, 1, 3]])
    m = mask(data["lengths"], data["tags"].size(1))  # [B, T]
    with torch.no_grad():
        emissions = [model(data) for model in members]  # [B, T, K] each
        tag_scores = [model.crf.score(em, data["tags"], m) for model, em in zip(members, emissions, strict=True)] \
            if crf else None
        ensemble = copy.deepcopy(members[0])
        ensemble.join([copy.deepcopy(model) for model in members[1:]])
        mean = torch.stack(emissions).mean(0)
        torch.testing.assert_close(ensemble(data), mean)
        loss, preds, _ = ensemble.step(data, "val")
        if crf:
            torch.testing.assert_close(ensemble.crf.score(mean, data["tags"], m), torch.stack(tag_scores).mean(0))
            assert torch.equal(preds, ensemble.crf.decode(mean, m))
        else:
            torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(mean[m], data["tags"][m]))
            assert torch.equal(preds, mean.argmax(-1))


def test_the_loss_is_the_mean_over_real_tokens_without_indexing_by_the_mask():
    """The softmax loss ignores padding by target (ignore_index), as the mean of the real tokens' losses."""
    torch.manual_seed(0)
    model = tagger().eval()
    data = batch([[1, 3, 4, 0, 2], [4, 1, 3], [0]])
    m = mask(data["lengths"], data["tags"].size(1))  # [B, T]
    emissions = model(data)  # [B, T, K]
    torch.testing.assert_close(model.step(data, "val")[0],
                               torch.nn.functional.cross_entropy(emissions[m], data["tags"][m]))
