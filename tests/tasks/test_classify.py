"""The classification head: pooling ignores padding, metrics match scikit-learn, checkpoints are self-contained."""

import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from seqexp.tasks.classify import Classifier, Pooling

ENCODER = {"_target_": "seqexp.models.encoder.Encoder", "cell": "gru", "embedding_dim": 8, "hidden_size": 6}
OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}
VOCAB = ["<pad>", "<unk>", "<bos>", "<eos>", *"abcdefgh"]


def classifier(**kwargs) -> Classifier:
    return Classifier(labels=["x", "y", "z"], encoder=ENCODER, vocab=VOCAB, optimizer=OPTIMIZER, **kwargs)


@pytest.mark.parametrize("kind", ["mean", "max", "attention"])
def test_pooling_ignores_padding(kind):
    torch.manual_seed(0)
    pool = Pooling(kind, 4)
    outputs, lengths = torch.randn(2, 5, 4), torch.tensor([5, 2])
    noisy = outputs.clone()
    noisy[1, 2:] = 1e4  # garbage where sequence 1 is padding
    torch.testing.assert_close(pool(outputs, None, lengths), pool(noisy, None, lengths))
    alone = pool(outputs[1:, :2], None, lengths[1:])
    torch.testing.assert_close(pool(outputs, None, lengths)[1:], alone)


def test_mean_and_max_by_hand():
    outputs, lengths = torch.tensor([[[1.0], [3.0], [-9.0]]]), torch.tensor([2])
    assert Pooling("mean", 1)(outputs, None, lengths).item() == 2.0
    assert Pooling("max", 1)(outputs, None, lengths).item() == 3.0
    final = torch.tensor([[7.0]])
    assert Pooling("last", 1)(outputs, final, lengths) is final


def test_metrics_match_scikit_learn():
    torch.manual_seed(0)
    model = classifier()
    metrics = model.metrics["test_metrics"]
    preds, target = torch.randint(0, 3, (200,)), torch.randint(0, 3, (200,))
    for chunk in range(0, 200, 32):  # accumulated over batches, as in an epoch
        metrics.update(preds[chunk:chunk + 32], target[chunk:chunk + 32])
    scores = metrics.compute()
    assert scores["test/acc"].item() == pytest.approx(accuracy_score(target, preds))
    assert scores["test/f1"].item() == pytest.approx(f1_score(target, preds, average="macro"))


def test_checkpoint_alone_rebuilds_the_model(tmp_path):
    """Vocab, labels and encoder config live in the checkpoint, which loads with weights_only=True."""
    import pytorch_lightning as pl

    torch.manual_seed(0)
    model = classifier(pooling="max")
    trainer = pl.Trainer(max_epochs=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.strategy.connect(model)
    trainer.save_checkpoint(tmp_path / "m.ckpt")
    raw = torch.load(tmp_path / "m.ckpt", weights_only=True)
    assert raw["hyper_parameters"]["vocab"] == VOCAB and raw["hyper_parameters"]["labels"] == ["x", "y", "z"]
    loaded = Classifier.load_from_checkpoint(tmp_path / "m.ckpt", weights_only=True).eval()
    batch = {"tokens": torch.tensor([[4, 5, 6], [7, 8, 0]]), "lengths": torch.tensor([3, 2])}
    torch.testing.assert_close(loaded(batch), model.eval()(batch))
    assert loaded.labels.itos == ["x", "y", "z"] and loaded.vocab.itos == VOCAB


def test_overfits_a_tiny_problem():
    """Labels depend on the last token; a few dozen Adam steps must learn them exactly."""
    torch.manual_seed(0)
    model = classifier(dropout=0.0)
    optimizer = model.configure_optimizers()
    tokens = torch.randint(4, 12, (24, 6))
    batch = {"tokens": tokens, "lengths": torch.full((24,), 6), "labels": tokens[:, -1] % 3}
    for _ in range(60):
        loss, preds, _ = model.step(batch, "train")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1 and torch.equal(preds, batch["labels"])


def test_ensemble_probabilities_are_the_normalised_geometric_mean():
    torch.manual_seed(0)
    members = [classifier().eval() for _ in range(3)]
    batch = {"tokens": torch.tensor([[5, 6, 7], [8, 9, 0]]), "lengths": torch.tensor([3, 2])}
    with torch.no_grad():
        probs = torch.stack([model(batch).softmax(-1) for model in members])  # [M, B, C]
        members[0].join(members[1:])
        geometric = probs.log().mean(0).exp()  # [B, C]
        torch.testing.assert_close(members[0](batch).softmax(-1), geometric / geometric.sum(-1, keepdim=True))


def test_only_test_batches_fill_the_confusion_matrix_and_no_trainer_is_needed():
    """A training step runs outside a trainer too (the GPU sync check does): the head asks its metric collection,
    not the trainer, which stage it is in."""
    model = classifier()
    preds, targets = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])
    model.update_metrics(model.metrics["train_metrics"], preds, targets, {})
    assert model.confusion.compute().sum() == 0
    model.update_metrics(model.metrics["test_metrics"], preds, targets, {})
    assert model.confusion.compute().tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
