"""N-vs-N: a tag per token from the encoder's per-token outputs, by softmax or a linear-chain CRF."""

from typing import Annotated

import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection

from seqexp.constraints import NonNegative, Unit
from seqexp.data.schemes import Scheme, allowed_transitions, spans
from seqexp.data.tagging import TaggingDataModule
from seqexp.data.vocab import Vocab
from seqexp.errors import ConfigError
from seqexp.models.crf import CRF
from seqexp.tasks.base import SeqTask, mask
from seqexp.tasks.metrics import SpanF1, TokenAccuracy
from seqexp.tasks.shown import Shown

IGNORE = -100  # target of padding positions: cross_entropy's ignore_index


class Tagger(SeqTask):
    """Encoder outputs -> dropout -> linear emissions -> softmax or CRF.

    ``scheme`` (bio, bioes, iob1) marks chunk tags (NER): span precision/recall/F1 are reported, and the CRF
    forbids transitions the scheme rules out (O -> I-X). ``scheme=null`` (POS): token accuracy only.

    ``lm_weight > 0`` adds Rei (2017)'s language-modelling objective: the forward half of each BiLSTM state
    predicts the next word, the backward half the previous one, so every word trains the encoder, not just the
    few inside entities. It is summed over tokens, divided as the main loss is (by sentences with a CRF, tokens
    without), and trained on only: val and test losses stay the tagging loss.
    """

    ensembles = True
    reads = TaggingDataModule
    better = {"acc": "max", "f1": "max", "precision": "max", "recall": "max"}

    def __init__(self, labels: list[str], scheme: Scheme | None = "bio", crf: bool = False,
                 dropout: Annotated[float, Unit] = 0.5, lm_weight: Annotated[float, NonNegative] = 0.0, **kwargs):
        super().__init__(**kwargs)  # ranges and choices: seqexp.run.schema checks task.* against this signature
        if lm_weight and (self.encoder.directions, self.encoder.num_layers) != (2, 1):
            raise ConfigError(f"task.lm_weight={lm_weight!r} needs one bidirectional layer "
                              "(model.bidirectional=true, model.num_layers=1): a stacked layer sees the next word")
        self.labels = Vocab(labels)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(self.encoder.output_size, len(labels))
        self.lm_weight = lm_weight
        if lm_weight:  # over the words seen twice or more in train; the rest are <unk> targets
            half, words = self.encoder.output_size // 2, self.encoder.rare_from
            self.next_word, self.prev_word = nn.Linear(half, words), nn.Linear(half, words)
        self.crf = CRF(len(labels), allowed_transitions(labels, scheme) if scheme else None) if crf else None
        metrics = {"acc": TokenAccuracy()}
        if scheme:
            metrics["span"] = SpanF1(labels, scheme)  # logs f1, precision, recall, f1_<type>; val and test only
        self.set_metrics(MetricCollection(metrics), train=MetricCollection({"acc": TokenAccuracy()}))

    def features(self, batch: dict[str, Tensor]) -> Tensor:
        outputs, _, _ = self.encode(batch)  # [B, T, D]
        return self.dropout(outputs)

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.mean_scores(self.out(self.features(batch)), batch)  # [B, T, K]

    def join(self, others: list[SeqTask]) -> None:
        """With a CRF, whose potentials add to the emissions, the members' potentials are averaged too."""
        super().join(others)
        if self.crf is not None:
            self.crf.average([other.crf for other in others])

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        features, tags = self.features(batch), batch["tags"]  # [B, T, D], [B, T]
        emissions = self.mean_scores(self.out(features), batch)  # [B, T, K]
        m = mask(batch["lengths"], tags.size(1))  # [B, T]
        if self.crf is None:  # the mean over real tokens
            loss = F.cross_entropy(emissions.transpose(1, 2), tags.masked_fill(~m, IGNORE), ignore_index=IGNORE)
            preds = emissions.argmax(-1)  # [B, T]
        else:
            loss, preds = self.crf(emissions, tags, m) / tags.size(0), self.crf.decode(emissions, m)  # sentence NLL
        if self.lm_weight and self.training:  # val/test loss stays the tagging NLL, comparable across weights
            per = tags.size(0) if self.crf is not None else m.sum()  # divided as the main loss: sentences or tokens
            loss = loss + self.lm_weight * self.lm_nll(features, batch["tokens"], m) / per
        return loss, preds, tags

    def lm_nll(self, features: Tensor, tokens: Tensor, m: Tensor) -> Tensor:
        """Summed NLL of each word given the forward state before it and the backward state after it."""
        forward, backward = features.chunk(2, dim=-1)  # [B, T, H] each
        targets = tokens.masked_fill(tokens >= self.encoder.rare_from, self.vocab.unk_index)  # [B, T]
        pairs = m[:, 1:]  # [B, T-1]: positions t, t+1 both real
        nll = F.cross_entropy(self.next_word(forward[:, :-1]).transpose(1, 2), targets[:, 1:].masked_fill(
            ~pairs, IGNORE), ignore_index=IGNORE, reduction="sum")  # each next word from the state before it
        return nll + F.cross_entropy(self.prev_word(backward[:, 1:]).transpose(1, 2), targets[:, :-1].masked_fill(
            ~pairs, IGNORE), ignore_index=IGNORE, reduction="sum")  # each previous word from the state after it

    def update_metrics(self, metrics: MetricCollection, preds: Tensor, targets: Tensor,
                       batch: dict[str, Tensor]) -> None:
        m = mask(batch["lengths"], targets.size(1))  # [B, T]
        for metric in metrics.values():
            metric.update(preds, targets, m)  # real tokens only

    def predict(self, texts: list[str]) -> list[dict]:
        batch, words = self.batch_from_texts(texts)
        emissions = self(batch)  # [B, T, K]
        m = mask(batch["lengths"], emissions.size(1))  # [B, T]
        tags = emissions.argmax(-1) if self.crf is None else self.crf.decode(emissions, m)  # [B, T]
        return [{"tokens": w, "tags": self.labels.decode(t[:len(w)].tolist())}
                for w, t in zip(words, tags, strict=True)]

    def rows(self, batch: dict[str, Tensor], preds: Tensor, targets: Tensor) -> list[Shown]:
        """Chunk tags: the gold and predicted spans (``[Donald Trump]person``), sentences with no entity and no
        error left out; other tags: the tag sequences, wrong ones marked ``*X*``."""
        shown = []
        for i, n, gold, pred in zip(batch["index"].tolist(), batch["lengths"].tolist(), targets.tolist(),
                                    preds.tolist(), strict=True):
            words, gold, pred = self.input_words(i), self.labels.decode(gold[:n]), self.labels.decode(pred[:n])
            if self.hparams.scheme:
                gold, pred = spans(gold), spans(pred)
                if gold or pred:
                    shown.append(Shown(i, set(gold) != set(pred), {"input": " ".join(words), "gold": bracket(
                        words, gold), "predicted": bracket(words, pred)}))
            else:
                shown.append(Shown(i, gold != pred, {"input": " ".join(words), "gold": " ".join(gold),
                                                     "predicted": " ".join(p if p == g else f"*{p}*"
                                                                           for g, p in zip(gold, pred, strict=True))}))
        return shown


def bracket(words: list[str], chunks: list[tuple[str, int, int]]) -> str:
    """Chunks as text: ``[Donald Trump]person, [Paris]location``; ``-`` for none."""
    return ", ".join(f"[{' '.join(words[start:end])}]{type_}" for type_, start, end in chunks) or "-"
