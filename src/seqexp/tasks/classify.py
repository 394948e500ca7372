"""N-vs-1: one label per sequence, from the encoder's final state or a pooling of its outputs."""

from pathlib import Path
from typing import Annotated, Literal

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score

from seqexp.constraints import Unit
from seqexp.data.classify import ClassifyDataModule
from seqexp.data.vocab import Vocab
from seqexp.tasks.base import SeqTask, mask
from seqexp.tasks.shown import Shown

Kind = Literal["last", "mean", "max", "attention"]


class Pooling(nn.Module):
    """Sequence -> vector. ``last``: final hidden state (both directions' ends when bidirectional);
    ``mean``/``max`` over real tokens; ``attention``: a learned query scores each position."""

    def __init__(self, kind: Kind, size: int):
        super().__init__()
        self.kind = kind
        self.score = nn.Linear(size, 1, bias=False) if kind == "attention" else None

    def forward(self, outputs: Tensor, final: Tensor, lengths: Tensor) -> Tensor:
        if self.kind == "last":
            return final  # [B, D]
        m = mask(lengths, outputs.size(1)).unsqueeze(-1)  # [B, T, 1]
        if self.kind == "mean":
            return (outputs * m).sum(1) / lengths.unsqueeze(-1).to(outputs.dtype)  # [B, D]
        if self.kind == "max":
            return outputs.masked_fill(~m, float("-inf")).max(1).values  # [B, D]
        weights = self.score(outputs).masked_fill(~m, float("-inf")).softmax(1)  # [B, T, 1]
        return (weights * outputs).sum(1)  # [B, D]


class Classifier(SeqTask):
    """Encoder -> pooling -> dropout -> linear over the label set; cross-entropy, accuracy and macro-F1."""

    ensembles = True
    reads = ClassifyDataModule
    better = {"acc": "max", "f1": "max"}

    def __init__(self, labels: list[str], pooling: Kind = "last", dropout: Annotated[float, Unit] = 0.5, **kwargs):
        super().__init__(**kwargs)  # ranges and choices: seqexp.run.schema checks task.* against this signature
        self.labels = Vocab(labels)
        self.pool = Pooling(pooling, self.encoder.output_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.encoder.output_size, len(labels))
        # validate_args=False: the inputs are ours, and checking them costs two torch.unique a step
        acc = MulticlassAccuracy(len(labels), average="micro", validate_args=False)
        self.set_metrics(MetricCollection({"acc": acc, "f1": MulticlassF1Score(len(labels), average="macro",
                                                                               validate_args=False)}),
                         train=MetricCollection({"acc": acc}))  # macro F1 counts per class (bincount): not per step
        self.confusion = MulticlassConfusionMatrix(len(labels), validate_args=False)  # test: gold rows, predicted

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        outputs, final, _ = self.encode(batch)  # [B, T, D], [B, D]
        return self.mean_scores(self.out(self.dropout(self.pool(outputs, final, batch["lengths"]))), batch)  # [B, C]

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        logits = self(batch)  # [B, C]
        return F.cross_entropy(logits, batch["labels"]), logits.argmax(-1), batch["labels"]

    def predict(self, texts: list[str]) -> list[dict]:
        batch, _ = self.batch_from_texts(texts)
        probs = self(batch).softmax(-1)  # [B, C]
        best = probs.max(-1)
        return [{"text": t, "label": self.labels.itos[i], "probability": round(p, 4)}
                for t, i, p in zip(texts, best.indices.tolist(), best.values.tolist(), strict=True)]

    def rows(self, batch: dict[str, Tensor], preds: Tensor, targets: Tensor) -> list[Shown]:
        return [Shown(i, p != g, {"input": " ".join(self.input_words(i)), "gold": self.labels.itos[g],
                                  "predicted": self.labels.itos[p]})
                for i, g, p in zip(batch["index"].tolist(), targets.tolist(), preds.tolist(), strict=True)]

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, targets: Tensor,
                       batch: dict[str, Tensor]) -> None:
        super().update_metrics(metrics, preds, targets, batch)
        if metrics is self.metrics["test_metrics"]:  # not self.trainer.testing: a step runs without a trainer too
            self.confusion.update(preds, targets)

    def on_test_epoch_end(self) -> None:
        """Also the confusion matrix: confusion_matrix.csv in the run dir, and a W&B table."""
        super().on_test_epoch_end()
        matrix = self.confusion.compute().tolist()
        self.confusion.reset()
        header, rows = ["gold \\ predicted", *self.labels.itos], [[g, *r] for g, r in zip(self.labels.itos, matrix,
                                                                                           strict=True)]
        if self.trainer.is_global_zero:
            lines = [",".join(map(str, row)) for row in [header, *rows]]
            (Path(self.trainer.default_root_dir) / "confusion_matrix.csv").write_text("\n".join(lines) + "\n")
        for logger in self.loggers:
            if hasattr(logger, "log_table"):
                logger.log_table("test/confusion_matrix", columns=header, data=rows)
