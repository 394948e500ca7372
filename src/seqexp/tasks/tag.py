"""N-vs-N: a tag per token from the encoder's per-token outputs, by softmax or a linear-chain CRF."""

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from seqexp.crf import CRF
from seqexp.data.schemes import SCHEMES, allowed_transitions
from seqexp.data.vocab import Vocab
from seqexp.encoders import mask
from seqexp.errors import ConfigError
from seqexp.metrics import SpanF1
from seqexp.tasks.base import SeqTask


class Tagger(SeqTask):
    """Encoder outputs -> dropout -> linear emissions -> softmax or CRF.

    ``scheme`` (bio, bioes, iob1) marks chunk tags (NER): span precision/recall/F1 are reported, and the CRF
    forbids transitions the scheme rules out (O -> I-X). ``scheme=null`` (POS): token accuracy only.
    """

    def __init__(self, labels: list[str], scheme: str | None = "bio", crf: bool = False, dropout: float = 0.5,
                 **kwargs):
        if scheme is not None and scheme not in SCHEMES:
            raise ConfigError(f"task.scheme: unknown tagging scheme {scheme!r} (expected {', '.join(SCHEMES)} "
                              "or null)")
        if not 0 <= dropout < 1:
            raise ConfigError(f"task.dropout must be in [0, 1), got {dropout!r}")
        super().__init__(**kwargs)
        self.labels = Vocab(labels)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.encoder.output_size, len(labels))
        self.crf = CRF(len(labels), allowed_transitions(labels, scheme) if scheme else None) if crf else None
        metrics = {"acc": MulticlassAccuracy(len(labels), average="micro")}
        if scheme:
            metrics["span"] = SpanF1(labels, scheme)  # logs f1, precision, recall, f1_<type>
        self.set_metrics(MetricCollection(metrics))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        outputs, _, _ = self.encode(batch)  # [B, T, D]
        return self.out(self.dropout(outputs))  # [B, T, K]

    def step(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        emissions, tags = self(batch), batch["tags"]  # [B, T, K], [B, T]
        m = mask(batch["lengths"], tags.size(1))  # [B, T]
        if self.crf is None:
            return F.cross_entropy(emissions[m], tags[m]), emissions.argmax(-1), tags
        loss = self.crf(emissions, tags, m) / tags.size(0)  # mean sentence NLL
        return loss, self.crf.decode(emissions, m), tags

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, targets: Tensor,
                       batch: dict[str, Tensor]) -> None:
        m = mask(batch["lengths"], targets.size(1))  # [B, T]
        for metric in metrics.values():
            if isinstance(metric, SpanF1):
                metric.update(preds, targets, m)
            else:
                metric.update(preds[m], targets[m])  # real tokens only

    def predict(self, texts: list[str]) -> list[dict]:
        batch, words = self.batch_from_texts(texts)
        emissions = self(batch)  # [B, T, K]
        m = mask(batch["lengths"], emissions.size(1))  # [B, T]
        tags = emissions.argmax(-1) if self.crf is None else self.crf.decode(emissions, m)  # [B, T]
        return [{"tokens": w, "tags": self.labels.decode(t[:len(w)].tolist())}
                for w, t in zip(words, tags, strict=True)]

    def rows(self, batch: dict[str, Tensor], preds: Tensor, targets: Tensor) -> list[dict[str, str]]:
        return [{"input": self.words(t, n), "gold": " ".join(self.labels.decode(g[:n].tolist())),
                 "predicted": " ".join(self.labels.decode(p[:n].tolist()))}
                for t, n, g, p in zip(batch["tokens"], batch["lengths"], targets, preds, strict=True)]
