"""1-vs-N: generate a sequence from one condition, a class label or a feature vector (Show and Tell's shape:
the condition sets the generator's initial state, and the shared encoder runs as a conditioned language model)."""

import logging
import math
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.text import Perplexity, SacreBLEUScore

from seqexp.constraints import Positive, Unit
from seqexp.data.batch import lengths_of
from seqexp.data.cond import CondDataModule
from seqexp.data.vocab import BOS, EOS, Vocab
from seqexp.errors import ConfigError
from seqexp.models import decoding
from seqexp.models.decoder import Bridge
from seqexp.models.recurrence import CELLS
from seqexp.tasks.base import SeqTask, update_generation_metrics
from seqexp.tasks.shown import Shown

log = logging.getLogger(__name__)


class ConditionalGenerator(SeqTask):
    """Condition -> (label embedding | features) -> Bridge.from_vector -> initial state of the (unidirectional)
    encoder, which reads ``<bos>`` + text and predicts the next token. Val/test also generate greedily from each
    condition and score BLEU against the reference text; perplexity is on summed token log-likelihoods."""

    reads = CondDataModule
    better = {"ppl": "min", "bleu": "max"}

    def __init__(self, labels: list[str] | None = None, feature_dim: int | None = None,
                 condition_dim: Annotated[int, Positive] = 64, dropout: Annotated[float, Unit] = 0.3,
                 max_len: Annotated[int, Positive] = 30, **kwargs):
        super().__init__(**kwargs)
        if self.encoder.directions != 1:
            raise ConfigError("model.bidirectional must be false for task=cond: a generator cannot read ahead")
        if (labels is None) == (feature_dim is None):
            raise ConfigError("task=cond needs data with labels (e.g. data=trec_cond) or feature vectors "
                              "(data=captions)")
        self.labels = Vocab(labels) if labels else None
        size = feature_dim or condition_dim
        self.condition = nn.Embedding(len(labels), condition_dim) if labels else nn.Identity()
        cell = self.hparams.encoder["cell"]
        if cell not in CELLS:
            raise ConfigError(f"model.cell={cell}: task=cond needs a built-in cell ({', '.join(CELLS)}): its bridge "
                              "builds the generator's initial state in their layout")
        self.bridge = Bridge(size, self.hparams.encoder["hidden_size"], self.encoder.num_layers,
                             "lstm" if CELLS[cell].cell_state else "gru")  # (h, c), or h alone
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.encoder.output_size, len(self.vocab))
        self.bos, self.eos = self.vocab.stoi[BOS], self.vocab.stoi[EOS]
        ppl = Perplexity(ignore_index=self.vocab.pad_index)  # val/test: exact over tokens (train: see loss)
        self.set_metrics(MetricCollection({"ppl": ppl, "bleu": SacreBLEUScore()}), train=MetricCollection({}))

    def initial_state(self, condition: Tensor):
        return self.bridge.from_vector(self.condition(condition))  # [L, B, H] (or (h, c))

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        state = self.initial_state(batch["condition"])
        outputs, _, _ = self.encoder(batch["tokens"], lengths_of(batch), state)  # [B, T, H]
        return self.out(self.dropout(outputs))  # [B, T, V]

    def next_logits(self, tokens: Tensor, state) -> tuple[Tensor, object]:
        """``tokens [B, T]`` read from ``state`` -> ``(logits [B, T, V], state)``: the generator's forward."""
        outputs, _, state = self.encoder(tokens, None, state)  # [B, T, H]; every row fills the window
        return self.out(self.dropout(outputs)), state

    @torch.no_grad()
    def generate(self, condition: Tensor) -> Tensor:
        """Greedy generation, ``[B, L]`` ids padded after ``<eos>``; one recurrent step per token."""
        start = torch.full((condition.size(0),), self.bos, device=self.device)  # [B]
        return decoding.greedy(decoding.RecurrentSteps(self.next_logits), self.initial_state(condition), start,
                               self.eos, self.vocab.pad_index, self.hparams.max_len)

    def text(self, ids: Tensor) -> str:
        return self.vocab.text(ids.tolist())

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, tuple, Tensor]:
        logits = self(batch)  # [B, T, V]
        loss = F.cross_entropy(logits.transpose(1, 2), batch["target"], ignore_index=self.vocab.pad_index)
        return loss, (logits, None if stage == "train" else self.generate(batch["condition"])), batch["target"]

    def update_metrics(self, metrics: MetricCollection, preds: tuple, targets: Tensor,
                       batch: dict[str, Tensor]) -> None:
        update_generation_metrics(metrics, *preds, targets, self.vocab)

    def describe(self, condition: Tensor) -> str:
        return self.labels.itos[int(condition)] if self.labels else f"features[{condition.numel()}]"

    def rows(self, batch: dict[str, Tensor], preds: tuple, targets: Tensor) -> list[Shown]:
        """The condition, the reference as written in the file, and the generation."""
        rows = []
        for i, c, t, g in zip(batch["index"].tolist(), batch["condition"], targets.tolist(), preds[1].tolist(),
                              strict=True):
            generated = self.vocab.text(g)
            rows.append(Shown(i, generated != self.vocab.text(t), {"condition": self.describe(c), "reference":
                                                                   self.example(i).text, "generated": generated}))
        return rows

    def check_input(self, text: str) -> str | None:
        """A line is a label name (label-conditioned models) or ``feature_dim`` numbers."""
        if self.labels:
            return None if text.strip() in self.labels else (f"unknown label {text.strip()!r} (expected one of "
                                                              f"{', '.join(self.labels.itos)})")
        size = self.hparams.feature_dim
        try:
            values = [float(v) for v in text.split()]
        except ValueError:
            values = []
        if len(values) != size or not all(math.isfinite(v) for v in values):
            return f"expected {size} finite numbers separated by spaces (the features), got {text[:60]!r}"
        return None

    def predict(self, texts: list[str]) -> list[dict]:
        """Each line is a label name (label-conditioned models) or whitespace-separated feature values."""
        if self.labels:
            condition = torch.tensor([self.labels.stoi[t.strip()] for t in texts], device=self.device)
        else:
            condition = torch.tensor([[float(v) for v in t.split()] for t in texts], device=self.device)
        return [{"condition": t, "generated": self.text(g)} for t, g in zip(texts, self.generate(condition),
                                                                            strict=True)]
