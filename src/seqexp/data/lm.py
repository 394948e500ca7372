"""Language-modelling data: each split as one continuous token stream, cut into ``batch_size`` contiguous
columns and read in consecutive windows of ``bptt`` steps (Zaremba et al. 2014; PyTorch's word_language_model).
"""

import logging
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain, islice
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqexp.constraints import Size
from seqexp.data.base import SPLITS, SeqDataModule
from seqexp.data.cache import CachedSplit, Writer, progress
from seqexp.data.readers import iter_text, read_text
from seqexp.data.splits import carve, held_out
from seqexp.data.text import tokenize
from seqexp.data.vocab import EOS, Vocabs
from seqexp.errors import ConfigError, DataError

log = logging.getLogger(__name__)


class LMDataModule(SeqDataModule):
    """``reader`` is a reader partial giving lines of text (``readers.read_text``) or sentences of words
    (``conll.read_conllu``). Every line or sentence ends with ``<eos>``; the vocabulary comes from train
    (``max_size``, ``min_freq``) and a literal ``<unk>`` in the text (PTB, WikiText) is the vocabulary's unk.

    Batches come in order, never shuffled: ``tokens [B, bptt]``, ``targets [B, bptt]`` (the next token of each
    position) and ``lengths [B]``, column ``b`` of batch ``i + 1`` continuing column ``b`` of batch ``i``; the last
    window of a split may be shorter. Tokens that do not fill the last column (fewer than ``batch_size``) are
    dropped, as in the PyTorch example. ``eval_batch_size`` (null: ``batch_size``) batchifies val and test.
    Without ``val`` (and with ``test_fraction``), the last lines of train are held out, so the held-out text
    stays one contiguous piece.
    """

    def __init__(self, reader: Callable[[str], list], bptt: Size = 35, eval_batch_size: Size | None = None,
                 **kwargs):
        super().__init__(reader=reader, **kwargs)
        if self.use_chars:
            raise ConfigError("model.char: the language model reads words only; set model.char=none")
        self.bptt = bptt
        self.eval_batch_size = eval_batch_size or self.batch_size
        self.streams: dict[str, torch.Tensor] = {}  # split -> [N] token ids, <eos> after every line

    def words(self, example) -> list[str]:
        tokens = getattr(example, "tokens", None)  # conll.Tagged: already words
        return list(tokens) if tokens is not None else tokenize(example.text, self.tokenizer)

    def encode_split(self, split: str, examples: list) -> list[dict]:
        """The split as one stream, ``<eos>`` after every line, cut into its BPTT windows."""
        self.streams[split] = self.stream(examples)
        return self.split_windows(split)

    def stream(self, examples: list) -> torch.Tensor:
        """``[N]`` token ids of the examples, ``<eos>`` after every line."""
        ids = chain.from_iterable(self.line(ex) for ex in progress(examples, "lines encoded"))
        return torch.from_numpy(np.fromiter(ids, dtype=np.int64))  # [N], never a list of Python ints

    def line(self, example) -> list[int]:
        """One line's ids, then ``<eos>``."""
        vocab = self.vocabs.vocab
        return [*vocab.encode(self.norm(w) for w in self.words(example)), vocab.stoi[EOS]]

    def id_bounds(self, vocabs: Vocabs) -> dict[str, int]:
        return {"stream": len(vocabs.vocab)}

    def cache_items(self, split: str, examples: list) -> Iterator[dict[str, torch.Tensor]]:
        """A line at a time, written as it comes: the cache's file of them all is the stream (``cached_split``);
        windows are cut at load, by ``batch_size`` and ``bptt``."""
        return ({"stream": torch.tensor(self.line(ex))} for ex in examples)

    def write_splits(self, directory: Path) -> tuple[dict, dict[str, list]]:
        """A text corpus (``readers.read_text``) streams, never held whole: one pass counts its lines (to hold out
        the last ones, as ``carve`` does), one counts the training words, one encodes every line into its split's
        files. Other readers (CoNLL-U sentences) read as every data module does."""
        if getattr(self.reader, "func", self.reader) is not read_text:
            return super().write_splits(directory)
        lines = {split: self.paths[split] and partial(self._lines, split) for split in SPLITS}  # split -> () -> iter
        ends = {"train": sum(1 for _ in lines["train"]())}  # split -> end, in train's lines, of the carved ones
        for split, fraction in (("test", self.test_fraction), ("val", self.val_fraction)):
            if not lines[split] and (split == "val" or fraction):
                n = held_out(ends["train"], fraction, split, "line(s)")
                ends[split], ends["train"] = ends["train"], ends["train"] - n
        if self.vocabs is None:
            self.vocabs = self.build_vocabs(islice(lines["train"](), ends["train"]))  # task_vocabs needs no list
        writers = {split: Writer(directory, split) for split in SPLITS if lines[split] or split in ends}
        held: dict[str, list] = {split: [] for split in writers if split != "train"}
        try:
            for i, ex in enumerate(lines["train"]()):  # train, then the carved val, then the carved test
                split = next(s for s in ("train", "val", "test") if s in ends and i < ends[s])
                writers[split].add({"stream": torch.tensor(self.line(ex))})
                if split != "train":
                    held[split].append(ex)
            for split in ("val", "test"):
                for ex in lines[split]() if lines[split] else ():
                    writers[split].add({"stream": torch.tensor(self.line(ex))})
                    held[split].append(ex)
        finally:
            splits = {split: writer.close() for split, writer in writers.items()}
        return splits, held

    def _lines(self, split: str) -> Iterator:
        """The split's lines as ``read_text`` reads them, one at a time."""
        reader = self.reader
        args, keywords = (reader.args, reader.keywords) if isinstance(reader, partial) else ((), {})
        return chain.from_iterable(iter_text(path, *args, **keywords) for path in self.paths[split])

    def cached_split(self, split: str, cached: CachedSplit) -> list[dict]:
        self.streams[split] = cached.array("stream")  # [N]: every line's ids end to end, over the mapped file
        return self.split_windows(split)

    def split_windows(self, split: str) -> list[dict]:
        size = self.batch_size if split == "train" else self.eval_batch_size
        return self.windows(self.streams[split], size, self.bptt, f"data.{split}")

    def describe(self) -> str:
        vocab = self.vocabs.vocab
        unk = {s: (x == vocab.unk_index).sum().item() / len(x) for s, x in self.streams.items()}  # no float copy
        return (f"{', '.join(f'{s} {len(x):,}' for s, x in self.streams.items())} tokens; vocabulary {len(vocab)}; "
                f"<unk> {', '.join(f'{s} {u:.1%}' for s, u in unk.items())}")

    @staticmethod
    def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
        """``[N] -> [B, N // B]``: row ``b`` is the ``b``-th contiguous piece of the stream; the rest is dropped."""
        columns = len(stream) // batch_size
        return stream[:columns * batch_size].view(batch_size, columns)

    @classmethod
    def windows(cls, stream: torch.Tensor, batch_size: int, bptt: int, name: str = "data") -> list[dict]:
        """The batches of one split, in reading order."""
        data = cls.batchify(stream, batch_size)  # [B, C]
        if data.size(1) < 2:
            raise DataError(f"{name}: {len(stream)} token(s) are too few for data.batch_size={batch_size} "
                            "(each batch row needs at least 2 tokens)")
        batches = []
        for start in range(0, data.size(1) - 1, bptt):
            steps = min(bptt, data.size(1) - 1 - start)
            batches.append({"tokens": data[:, start:start + steps], "targets": data[:, start + 1:start + 1 + steps],
                            "lengths": torch.full((batch_size,), steps, dtype=torch.long)})
        return batches  # each: tokens [B, T], targets [B, T], lengths [B]

    def carve(self, train: list, split: str, fraction: float) -> tuple[list, list]:
        """The last ``fraction`` of the training lines, as one piece: a language model reads text in order."""
        return carve(train, split, fraction, seed=None, what="line(s)")

    def _loader(self, split: str, train: bool = False) -> DataLoader:
        data = self.datasets[split]
        replicas, rank = self.replicas()
        if replicas > 1:  # DDP: each process reads its own rows (streams), so carried states stay in order
            if data[0]["tokens"].size(0) < replicas:
                raise ConfigError(f"data.batch_size / data.eval_batch_size must be at least the {replicas} "
                                  "processes: each reads its own rows of the token stream")
            data = [{k: v[rank::replicas] for k, v in batch.items()} for batch in data]
        # batch_size=None: each item is already a batch; in order, so the model can carry its state across
        return DataLoader(data, batch_size=None, shuffle=False, num_workers=self.num_workers)
