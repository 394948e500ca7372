"""Vocabularies and label maps: a plain list of strings, so they save into checkpoints as JSON-safe data."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)


class Vocab:
    """Maps strings to ids. Word vocabularies start with the specials (pad=0, unk=1); label maps have none."""

    def __init__(self, itos: Sequence[str]):
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary entries must be unique")
        self.unk_index = self.stoi.get(UNK)

    @classmethod
    def build(cls, sequences: Iterable[Iterable[str]], min_freq: int = 1, max_size: int | None = None,
              specials: Sequence[str] = SPECIALS) -> "Vocab":
        """Most frequent first (ties alphabetical, so ids are deterministic); ``max_size`` excludes specials."""
        return cls.from_counts(Counter(token for seq in sequences for token in seq), min_freq, max_size, specials)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], min_freq: int = 1, max_size: int | None = None,
                    specials: Sequence[str] = SPECIALS) -> "Vocab":
        """``build`` from counts already made: one pass over a corpus counts, nothing else of it is kept."""
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in specials),
                      key=lambda t: (-counts[t], t))
        return cls([*specials, *kept[:max_size]])

    def singletons(self, counts: Mapping[str, int]) -> int:
        """How many entries occur exactly once by ``counts`` (of the text the vocabulary was built from): being
        least frequent, they are the vocabulary's last entries."""
        return sum(counts.get(t, 0) == 1 for t in self.itos)

    @classmethod
    def labels(cls, labels: Iterable[str]) -> "Vocab":
        """A label map: sorted, no specials, so label ids do not depend on example order."""
        return cls(sorted(set(labels)))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    @property
    def pad_index(self) -> int:
        return self.stoi[PAD]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of tokens; unknown tokens map to ``<unk>`` (a KeyError for a label map, which has none)."""
        if self.unk_index is None:
            return [self.stoi[t] for t in tokens]
        return [self.stoi.get(t, self.unk_index) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def text(self, ids: Iterable[int]) -> str:
        """A generated sequence as text: up to ``<eos>``, without ``<bos>`` and padding."""
        words = []
        for token in (self.itos[i] for i in ids):
            if token == EOS:
                break
            if token not in (BOS, PAD):
                words.append(token)
        return " ".join(words)


@dataclass
class Vocabs:
    """What a model must know of its training data: the word and character vocabularies, the label set or the
    target vocabulary, the feature and input sizes, how many words were seen once, and how text became tokens. A data
    module builds it on train; a head takes it as plain constructor arguments (``as_args``), so the checkpoint
    alone rebuilds it (``from_args``) and evaluation and prediction need no training data."""

    vocab: Vocab
    chars: Vocab | None = None
    labels: Vocab | None = None
    target_vocab: Vocab | None = None
    feature_dim: int | None = None
    input_dim: int | None = None  # inputs are vectors of this size, not word ids (task=adding)
    singletons: int = 0  # the vocabulary's last entries, least frequent first-seen (model.singleton_dropout)
    tokenizer: dict = field(default_factory=dict)  # {"tokenizer": "whitespace", "lowercase": true}

    def as_args(self) -> dict:
        """The set fields as plain data (vocabularies as their lists of strings), for a head's constructor."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v.itos if isinstance(v, Vocab) else v for k, v in values.items() if v is not None}

    @classmethod
    def from_args(cls, args: Mapping) -> "Vocabs":
        """Back from a head's arguments (its checkpoint's hyperparameters)."""
        values = {f.name: args[f.name] for f in fields(cls) if args.get(f.name) is not None}
        return cls(**{k: Vocab(v) if isinstance(v, list | tuple) else v for k, v in values.items()})
