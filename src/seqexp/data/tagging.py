"""N-vs-N data: a tag per token (NER, POS, chunking) from CoNLL or CoNLL-U files."""


import torch

from seqexp.data.base import SeqDataModule
from seqexp.data.conll import Tagged
from seqexp.data.vocab import Vocab
from seqexp.errors import DataError


class TaggingDataModule(SeqDataModule):
    """``reader`` is a seqexp.data.conll reader partial (from the data config's ``_target_``)."""


    def words(self, example: Tagged) -> list[str]:
        return example.tokens

    def build_vocabs(self, train: list[Tagged]) -> None:
        self.labels = Vocab.labels(tag for ex in train for tag in ex.tags)

    def encode(self, example: Tagged, path: str) -> dict[str, torch.Tensor]:
        unseen = [tag for tag in example.tags if tag not in self.labels]
        if unseen:
            raise DataError(f"{path}:{example.line}: tag {unseen[0]!r} does not occur in the training data")
        return {"tags": torch.tensor(self.labels.encode(example.tags))}  # [T]

    def model_args(self) -> dict:
        return {**super().model_args(), "labels": self.labels.itos}
