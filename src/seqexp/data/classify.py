"""N-vs-1 data: a text and one label per example (question type, sentiment, topic)."""

from collections.abc import Callable

import torch
from torch.nn.utils.rnn import pad_sequence

from seqexp.data.base import SeqDataModule
from seqexp.data.readers import Labeled
from seqexp.data.vocab import Vocab
from seqexp.errors import DataError


class ClassifyDataModule(SeqDataModule):
    """``reader`` is any readers.read_* partial (from the data config's ``_target_``)."""

    def __init__(self, reader: Callable[[str], list[Labeled]], **kwargs):
        super().__init__(**kwargs)
        self.reader = reader

    def read(self, path: str) -> list[Labeled]:
        return self.reader(path)

    def build_vocabs(self, train: list[Labeled]) -> None:
        self.vocab = Vocab.build((self.tokens(ex.text) for ex in train), self.min_freq, self.max_size)
        self.labels = Vocab.labels(ex.label for ex in train)

    def encode(self, examples: list[Labeled], path: str) -> list[tuple[torch.Tensor, int]]:
        items = []
        for ex in examples:
            tokens = self.tokens(ex.text)
            if not tokens:
                raise DataError(f"{path}:{ex.line}: the text has no tokens")
            if ex.label not in self.labels:
                raise DataError(f"{path}:{ex.line}: label {ex.label!r} does not occur in the training data")
            items.append((torch.tensor(self.vocab.encode(tokens)), self.labels.stoi[ex.label]))
        return items

    def collate(self, items: list[tuple[torch.Tensor, int]]) -> dict[str, torch.Tensor]:
        return {
            "tokens": pad_sequence([ids for ids, _ in items], batch_first=True,
                                   padding_value=self.vocab.pad_index),  # [B, T]
            "lengths": torch.tensor([len(ids) for ids, _ in items]),  # [B]
            "labels": torch.tensor([label for _, label in items]),  # [B]
        }

    def model_args(self) -> dict:
        return {"vocab": self.vocab.itos, "labels": self.labels.itos,
                "tokenizer": {"tokenizer": self.tokenizer, "lowercase": self.lowercase}}
