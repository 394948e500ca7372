"""The data module's side of the cache (``data.cache=true``): the settings that key an entry, what it stores of each
split, and how datasets, vocabularies and val/test examples come back from it. ``SeqDataModule`` mixes it in and
calls ``from_cache`` from ``setup``; a data module that stores something else (the LM's token stream) overrides the
public hooks ``cache_settings``, ``cache_items``, ``cached_split``, ``write_splits`` and ``id_bounds``."""

import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from seqexp.data.cache import Cache, CachedSplit, Writer, callable_name, digest, kept_warnings, verify
from seqexp.data.cache import examples as cached_examples
from seqexp.data.vocab import Vocabs

log = logging.getLogger(__name__)


class CachedData:
    """Cache handling for ``seqexp.data.base.SeqDataModule`` (whose attributes and ``read_splits``,
    ``build_vocabs`` and ``items`` it uses)."""

    @property
    def examples(self) -> dict[str, list]:
        """Val and test as read, to show predictions; from the cache's copy on first use."""
        if self._examples is None:
            self._examples = cached_examples.load(self._cache_dir / verify.EXAMPLES)
        return self._examples

    def cache_settings(self) -> dict:
        """Everything but the files that decides the encoded items: each setting is part of the cache's key.
        Subclasses add their own (tests/data/test_cache.py checks each data setting changes the key)."""
        given = digest(self.vocabs.as_args()) if self.vocabs is not None else None  # a checkpoint's (use_vocabs)
        paths = {split: [str(Path(p).resolve()) for p in ps] if ps else None for split, ps in self.paths.items()}
        return {"module": f"{type(self).__module__}.{type(self).__qualname__}", "reader": callable_name(self.reader),
                "paths": paths, "val_fraction": self.val_fraction, "test_fraction": self.test_fraction,
                "split_seed": self.split_seed, "tokenizer": self.tokenizer, "lowercase": self.lowercase,
                "min_freq": self.min_freq, "max_size": self.max_size, "max_len": self.max_len,
                "max_word_len": self.max_word_len, "chars": self.use_chars, "vocabs": given}

    def cache_items(self, split: str, examples: list) -> Iterable[dict[str, torch.Tensor]]:
        """What the cache stores of a split: its items, one at a time."""
        return self.items(split, examples)

    def cached_split(self, split: str, cached: CachedSplit) -> Sequence:
        """The split's dataset from what ``cache_items`` stored."""
        return cached

    def from_cache(self, files: list[tuple[str, int, int]]) -> None:
        """Datasets and vocabularies from the cache entry of ``files`` (``cache.file_stats``), built first when it
        is not there (or stale, or partial). Warnings of the build (truncated texts, long words) are said again on
        every run."""
        start = time.perf_counter()
        cache = Cache(self.cache_dir, self.cache_settings(), files)
        meta, hit = cache.open(self._build_cache, self._verify)
        if self.vocabs is None:
            self.vocabs = Vocabs.from_args(meta["vocabs"])
        for split, m in meta["splits"].items():
            self.datasets[split] = self.cached_split(split, CachedSplit(cache.dir, split, m))
        self._examples, self._cache_dir = None, cache.dir
        if hit:
            for name, message in meta["warnings"]:
                logging.getLogger(name).warning("%s", message)
        log.info("data cache %s: %s (%.1f s)", "hit" if hit else "built", cache.dir, time.perf_counter() - start)

    def write_splits(self, directory: Path) -> tuple[dict, dict[str, list]]:
        """Encode every split into the cache's ``directory``: (each split's meta, val and test as read)."""
        examples = self.read_splits()
        if self.vocabs is None:
            self.vocabs = self.build_vocabs(examples["train"])
        splits = {split: Writer(directory, split).write(self.cache_items(split, exs))
                  for split, exs in examples.items()}
        return splits, {split: exs for split, exs in examples.items() if split != "train"}

    def _build_cache(self, directory: Path) -> dict:
        with kept_warnings() as said:
            splits, held = self.write_splits(directory)
        cached_examples.dump(held, directory / verify.EXAMPLES)
        return {"vocabs": self.vocabs.as_args(), "splits": splits, "warnings": said,
                "examples": verify.sha256(directory / verify.EXAMPLES)}

    def id_bounds(self, vocabs: Vocabs) -> dict[str, int]:
        """Item field -> the size of the vocabulary its ids index, which a cached entry is checked against
        (``seqexp.data.cache.verify``). Subclasses add their own fields."""
        return {"tokens": len(vocabs.vocab), **({"chars": len(vocabs.chars)} if vocabs.chars is not None else {})}

    def _verify(self, directory: Path, meta: dict) -> str | None:
        vocabs = self.vocabs or Vocabs.from_args(meta["vocabs"])
        return verify.problem(directory, meta, self.id_bounds(vocabs), aligned=("chars", "tags"))
