"""The copy-memory head: after the delimiter, write back the symbols read before the blank stretch
(seqexp.data.copy)."""

import logging
import math

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from seqexp.data.copy import CopyDataModule
from seqexp.data.vocab import Vocab
from seqexp.tasks.base import SeqTask
from seqexp.tasks.metrics import Majority
from seqexp.tasks.shown import Shown

log = logging.getLogger(__name__)


class Copy(SeqTask):
    """The encoder's outputs at the last S steps (after the delimiter) -> linear over the alphabet, one symbol per
    step; cross-entropy on those S steps only (the blank outputs before them are no test of memory) and ``acc``, the
    share of symbols recalled, next to ``baseline_acc``, what always writing the most frequent symbol scores: a
    memoryless model scores about 1/alphabet and loss log(alphabet), logged at the start."""

    reads = CopyDataModule
    reads_text = False  # its inputs are generated sequences, not text
    better = {"acc": "max", "baseline_acc": "max"}

    def __init__(self, labels: list[str], **kwargs):
        super().__init__(**kwargs)  # ranges and choices: seqexp.run.schema checks task.* against this signature
        self.labels = Vocab(labels)
        self.out = nn.Linear(self.encoder.output_size, len(labels))
        acc = MulticlassAccuracy(len(labels), average="micro", validate_args=False)
        self.set_metrics(MetricCollection({"acc": acc, "baseline_acc": Majority(len(labels))}),
                         train=MetricCollection({"acc": acc.clone()}))

    def on_fit_start(self) -> None:
        size = len(self.labels)
        log.info("memoryless baseline: acc %.4f, loss %.4f (guessing among %d symbols)", 1 / size, math.log(size),
                 size)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        outputs, _, _ = self.encode(batch)  # [B, T, D]
        return self.out(outputs[:, -batch["target"].size(1):])  # [B, S, A]: every sequence ends at T

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        logits = self(batch)  # [B, S, A]
        return F.cross_entropy(logits.transpose(1, 2), batch["target"]), logits.argmax(-1), batch["target"]

    def rows(self, batch: dict[str, Tensor], preds: Tensor, targets: Tensor) -> list[Shown]:
        def text(ids: list[int]) -> str:
            return "".join(self.labels.itos[s] for s in ids)

        return [Shown(i, p != g, {"symbols": text(g), "recalled": text(p)})
                for i, g, p in zip(batch["index"].tolist(), targets.tolist(), preds.tolist(), strict=True)]
