"""N-vs-1 data: a text and one label per example (question type, sentiment, topic)."""

import logging

import torch

from seqexp.data.base import SeqDataModule
from seqexp.data.readers import Labeled
from seqexp.data.text import tokenize
from seqexp.data.vocab import Vocab
from seqexp.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class ClassifyDataModule(SeqDataModule):
    """``reader`` is any readers.read_* partial (from the data config's ``_target_``). Texts longer than
    ``max_len`` tokens keep their first ``max_len`` (counted in the log): one runaway line must not turn every
    batch it pads into a 100,000-step recurrence."""

    def __init__(self, reader, max_len: int = 1000, **kwargs):
        super().__init__(reader=reader, **kwargs)
        if max_len < 1:
            raise ConfigError(f"data.max_len must be a positive integer, got {max_len}")
        self.max_len = max_len

    def read(self, path: str) -> list[Labeled]:
        examples = super().read(path)
        truncated = sum(len(tokenize(ex.text, self.tokenizer)) > self.max_len for ex in examples)
        if truncated:
            log.warning("%s: %d text(s) longer than data.max_len=%d tokens, truncated", path, truncated,
                        self.max_len)
        return examples

    def words(self, example: Labeled) -> list[str]:
        return tokenize(example.text, self.tokenizer)[:self.max_len]

    def build_vocabs(self, train: list[Labeled]) -> None:
        self.labels = Vocab.labels(ex.label for ex in train)

    def encode(self, example: Labeled, path: str) -> dict[str, torch.Tensor]:
        if example.label not in self.labels:
            raise DataError(f"{path}:{example.line}: label {example.label!r} does not occur in the training data")
        return {"labels": torch.tensor(self.labels.stoi[example.label])}

    def model_args(self) -> dict:
        return {**super().model_args(), "labels": self.labels.itos}
