"""N-vs-N data: a tag per token (NER, POS, chunking) from CoNLL or CoNLL-U files."""

import torch

from seqexp.data.base import SeqDataModule
from seqexp.data.conll import Tagged
from seqexp.data.vocab import Vocabs
from seqexp.errors import DataError


class TaggingDataModule(SeqDataModule):
    """``reader`` is a seqexp.data.conll reader partial (from the data config's ``_target_``)."""

    def words(self, example: Tagged) -> list[str]:
        return example.tokens

    def task_vocabs(self, train: list[Tagged]) -> dict:
        return {"labels": self.label_set([tag for ex in train for tag in ex.tags], "tag")}

    def id_bounds(self, vocabs: Vocabs) -> dict[str, int]:
        return {**super().id_bounds(vocabs), "tags": len(vocabs.labels)}

    def encode(self, example: Tagged, path: str) -> dict[str, torch.Tensor]:
        labels = self.vocabs.labels
        unseen = [tag for tag in example.tags if tag not in labels]
        if unseen:
            raise DataError(f"{path}:{example.line}: tag {unseen[0]!r} does not occur in the training data")
        return {"tags": torch.tensor(labels.encode(example.tags))}  # [T]
