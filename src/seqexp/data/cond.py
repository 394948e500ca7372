"""1-vs-N data: one condition (a class label, or a feature vector) and the sequence to generate from it."""

import torch

from seqexp.data.base import SeqDataModule
from seqexp.data.readers import Captioned, Labeled
from seqexp.data.text import tokenize
from seqexp.data.vocab import BOS, EOS, Vocab, Vocabs
from seqexp.errors import DataError


class CondDataModule(SeqDataModule):
    """``reader`` gives Labeled examples (generate the text from its label: TREC questions from their class) or
    Captioned ones (generate the caption from its feature vector). Items: ``tokens`` = ``<bos>`` + text (the
    generator's input), ``target`` = text + ``<eos>``, ``condition`` = label id or ``features [F]``. Texts keep
    their first ``max_len`` tokens (counted in the log)."""

    def read(self, path: str) -> list[Labeled | Captioned]:
        return self.count_overlong(path, super().read(path))

    def _text(self, example: Labeled | Captioned) -> list[str]:
        return tokenize(example.text, self.tokenizer)[:self.max_len]

    def words(self, example: Labeled | Captioned) -> list[str]:
        return [BOS, *self._text(example)]

    def task_vocabs(self, train: list[Labeled | Captioned]) -> dict:
        if isinstance(train[0], Captioned):
            return {"feature_dim": len(train[0].features)}
        return {"labels": Vocab.labels(ex.label for ex in train)}

    def id_bounds(self, vocabs: Vocabs) -> dict[str, int]:
        labels = {"condition": len(vocabs.labels)} if vocabs.labels is not None else {}  # features: floats
        return {**super().id_bounds(vocabs), "target": len(vocabs.vocab), **labels}

    def encode(self, example: Labeled | Captioned, path: str) -> dict[str, torch.Tensor]:
        vocabs = self.vocabs
        words = [self.norm(w) for w in self._text(example)]
        item = {"target": torch.tensor(vocabs.vocab.encode([*words, EOS]))}  # [T]
        if isinstance(example, Captioned):
            if len(example.features) != vocabs.feature_dim:
                raise DataError(f"{path}:{example.line}: {len(example.features)} features, train has "
                                f"{vocabs.feature_dim}")
            item["condition"] = torch.tensor(example.features)  # [F]
        elif example.label not in vocabs.labels:
            raise DataError(f"{path}:{example.line}: label {example.label!r} does not occur in the training data")
        else:
            item["condition"] = torch.tensor(vocabs.labels.stoi[example.label])
        return item
