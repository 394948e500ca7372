"""N-vs-1 data: a text and one label per example (question type, sentiment, topic)."""

import torch

from seqexp.data.base import SeqDataModule
from seqexp.data.readers import Labeled
from seqexp.data.text import tokenize
from seqexp.data.vocab import Vocabs
from seqexp.errors import DataError


class ClassifyDataModule(SeqDataModule):
    """``reader`` is any readers.read_* partial (from the data config's ``_target_``). Texts longer than
    ``max_len`` tokens keep their first ``max_len`` (counted in the log): one runaway line must not turn every
    batch it pads into a 100,000-step recurrence."""

    def read(self, path: str) -> list[Labeled]:
        return self.count_overlong(path, super().read(path))

    def words(self, example: Labeled) -> list[str]:
        return tokenize(example.text, self.tokenizer)[:self.max_len]

    def task_vocabs(self, train: list[Labeled]) -> dict:
        return {"labels": self.label_set([ex.label for ex in train], "label")}

    def id_bounds(self, vocabs: Vocabs) -> dict[str, int]:
        return {**super().id_bounds(vocabs), "labels": len(vocabs.labels)}

    def encode(self, example: Labeled, path: str) -> dict[str, torch.Tensor]:
        labels = self.vocabs.labels
        if example.label not in labels:
            raise DataError(f"{path}:{example.line}: label {example.label!r} does not occur in the training data")
        return {"labels": torch.tensor(labels.stoi[example.label])}
