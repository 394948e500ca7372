"""The adding problem's head: one number per sequence, read from the encoder's final state (seqexp.data.adding)."""

from typing import Annotated

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection

from seqexp.constraints import Positive
from seqexp.data.adding import AddingDataModule
from seqexp.tasks.base import SeqTask
from seqexp.tasks.metrics import Regression
from seqexp.tasks.shown import Shown


class Adding(SeqTask):
    """Encoder final state -> linear -> the sum; MSE loss. Metrics: ``mse``, ``within`` (the share of answers within
    ``tolerance`` of the sum; Le et al. 2015 count 0.04) and ``baseline_mse``, the MSE of always answering 1.0 (the
    mean sum, 1/6 in expectation): a model that learned nothing scores about that."""

    reads = AddingDataModule
    reads_text = False  # its inputs are generated sequences, not text
    better = {"mse": "min", "within": "max", "baseline_mse": "min"}

    def __init__(self, tolerance: Annotated[float, Positive] = 0.04, **kwargs):
        super().__init__(**kwargs)  # ranges and choices: seqexp.run.schema checks task.* against this signature
        self.out = nn.Linear(self.encoder.output_size, 1)
        self.set_metrics(MetricCollection({"scores": Regression(tolerance, baseline=1.0)}))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        _, final, _ = self.encode(batch)  # [B, D]
        return self.out(final).squeeze(-1)  # [B]

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        preds = self(batch)  # [B]
        return F.mse_loss(preds, batch["target"]), preds, batch["target"]

    def rows(self, batch: dict[str, Tensor], preds: Tensor, targets: Tensor) -> list[Shown]:
        """The two marked values, the sum and the answer."""
        rows = []
        for i, tokens, gold, pred in zip(batch["index"].tolist(), batch["tokens"], targets.tolist(), preds.tolist(),
                                         strict=True):
            marked = tokens[tokens[:, 1] > 0, 0].tolist()  # the two marked values
            rows.append(Shown(i, abs(pred - gold) >= self.hparams.tolerance, {
                "marked": " + ".join(f"{v:.3f}" for v in marked), "sum": f"{gold:.3f}", "answer": f"{pred:.3f}"}))
        return rows
