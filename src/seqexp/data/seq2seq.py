"""N-vs-M data: source and target texts with separate vocabularies (translation)."""

import logging
from collections.abc import Callable, Sequence
from typing import Literal

import torch

from seqexp.constraints import Size
from seqexp.data.base import SeqDataModule
from seqexp.data.readers import Pair
from seqexp.data.text import tokenize
from seqexp.data.vocab import BOS, EOS, Vocab, Vocabs
from seqexp.errors import DataError

log = logging.getLogger(__name__)


class Seq2SeqDataModule(SeqDataModule):
    """Pairs, optionally a subset (``prefixes`` of the source text, at most ``filter_max_len`` tokens a side, as
    in the PyTorch seq2seq tutorial), then ``max_len`` per side: longer sentences are truncated (counted in
    the log) or rejected, by ``overlong``. ``reverse=true`` swaps source and target. ``src``/``tgt`` are the
    file suffixes (languages) a parallel-files reader needs: ``{split}.{src}`` and ``{split}.{tgt}``."""

    def __init__(self, reader: Callable[[str], list[Pair]], prefixes: Sequence[str] | None = None,
                 filter_max_len: Size | None = None, max_len: Size = 50,
                 overlong: Literal["truncate", "error"] = "truncate", reverse: bool = False, src: str | None = None,
                 tgt: str | None = None, **kwargs):
        super().__init__(reader=reader, max_len=max_len, **kwargs)
        self.reverse = reverse
        self.languages = {"src": src, "tgt": tgt} if src or tgt else {}
        self.prefixes = tuple(p.lower() for p in prefixes) if prefixes else None
        self.filter_max_len, self.overlong = filter_max_len, overlong

    def cache_settings(self) -> dict:
        return {**super().cache_settings(), "prefixes": self.prefixes, "filter_max_len": self.filter_max_len,
                "overlong": self.overlong, "reverse": self.reverse, "languages": self.languages}

    def read(self, path: str) -> list[Pair]:
        pairs = read = self.reader(path, **self.languages)
        if self.reverse:
            pairs = [Pair(p.target, p.source, p.line) for p in pairs]
        if self.prefixes:
            pairs = [p for p in pairs if p.source.lower().startswith(self.prefixes)]
        if self.filter_max_len:
            pairs = [p for p in pairs if max(len(self._split(p.source)), len(self._split(p.target)))
                     <= self.filter_max_len]
        if not pairs:
            raise DataError(f"{path}: none of its {len(read)} pairs is left after data.prefixes and "
                            "data.filter_max_len; widen them or set them to null")
        truncated = sum(max(len(self._split(p.source)), len(self._split(p.target))) > self.max_len for p in pairs)
        if truncated and self.overlong == "error":
            first = next(p for p in pairs if max(len(self._split(p.source)), len(self._split(p.target)))
                         > self.max_len)
            raise DataError(f"{path}:{first.line}: longer than data.max_len={self.max_len} tokens "
                            "(data.overlong=truncate cuts such sentences)")
        if truncated:
            log.warning("%s: %d pair(s) longer than data.max_len=%d tokens, truncated", path, truncated,
                        self.max_len)
        return pairs

    def _split(self, text: str) -> list[str]:
        return tokenize(text, self.tokenizer)

    def words(self, example: Pair) -> list[str]:
        return self._split(example.source)[:self.max_len]

    def task_vocabs(self, train: list[Pair]) -> dict:
        return {"target_vocab": Vocab.build(([self.norm(w) for w in self._split(p.target)] for p in train),
                                            self.min_freq, self.max_size)}

    def id_bounds(self, vocabs: Vocabs) -> dict[str, int]:
        return {**super().id_bounds(vocabs), "target": len(vocabs.target_vocab)}

    def encode(self, example: Pair, path: str) -> dict[str, torch.Tensor]:
        words = [self.norm(w) for w in self._split(example.target)[:self.max_len]]
        if not words:
            raise DataError(f"{path}:{example.line}: the target text has no tokens")
        return {"target": torch.tensor(self.vocabs.target_vocab.encode([BOS, *words, EOS]))}  # [T_tgt + 2]
