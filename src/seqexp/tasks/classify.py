"""N-vs-1: one label per sequence, from the encoder's final state or a pooling of its outputs."""

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from seqexp.data.vocab import Vocab
from seqexp.encoders import mask
from seqexp.errors import ConfigError
from seqexp.tasks.base import SeqTask

POOLINGS = ("last", "mean", "max", "attention")


class Pooling(nn.Module):
    """Sequence -> vector. ``last``: final hidden state (both directions' ends when bidirectional);
    ``mean``/``max`` over real tokens; ``attention``: a learned query scores each position."""

    def __init__(self, kind: str, size: int):
        super().__init__()
        if kind not in POOLINGS:
            raise ConfigError(f"task.pooling: unknown pooling {kind!r} (expected one of {', '.join(POOLINGS)})")
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

    def __init__(self, labels: list[str], pooling: str = "last", dropout: float = 0.5, **kwargs):
        if not 0 <= dropout < 1:
            raise ConfigError(f"task.dropout must be in [0, 1), got {dropout!r}")
        super().__init__(**kwargs)
        self.labels = Vocab(labels)
        self.pool = Pooling(pooling, self.encoder.output_size)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.encoder.output_size, len(labels))
        self.set_metrics(MetricCollection({"acc": MulticlassAccuracy(len(labels), average="micro"),
                                           "f1": MulticlassF1Score(len(labels), average="macro")}))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        outputs, final, _ = self.encode(batch)  # [B, T, D], [B, D]
        return self.out(self.dropout(self.pool(outputs, final, batch["lengths"])))  # [B, C]

    def step(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        logits = self(batch)  # [B, C]
        return F.cross_entropy(logits, batch["labels"]), logits.argmax(-1), batch["labels"]

    def predict(self, texts: list[str]) -> list[dict]:
        batch, _ = self.batch_from_texts(texts)
        probs = self(batch).softmax(-1)  # [B, C]
        best = probs.max(-1)
        return [{"text": t, "label": self.labels.itos[i], "probability": round(p, 4)}
                for t, i, p in zip(texts, best.indices.tolist(), best.values.tolist(), strict=True)]
