"""Next-word language modelling: truncated BPTT over a token stream, perplexity, tied input/output embeddings."""

import logging
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.text import Perplexity

from seqexp.constraints import NonNegative, Positive, Unit
from seqexp.data.base import SPLITS
from seqexp.data.lm import LMDataModule
from seqexp.data.text import tokenize
from seqexp.data.vocab import BOS, EOS, PAD
from seqexp.errors import ConfigError
from seqexp.models import decoding
from seqexp.tasks.base import SeqTask
from seqexp.tasks.shown import Shown, spread

log = logging.getLogger(__name__)

State = Tensor | tuple[Tensor, ...] | None


class LanguageModel(SeqTask):
    """Encoder outputs -> dropout -> [projection] -> linear over the vocabulary; mean token cross-entropy.

    The encoder must read left to right (``model.bidirectional=false``). ``tie_weights`` shares the output
    matrix with the input embedding (Press & Wolf 2017, Inan et al. 2017); when the encoder's output size is not
    ``model.embedding_dim``, a linear projection maps the outputs to it first. The hidden state is carried from
    batch to batch (the data's columns are contiguous) and detached every step (truncated BPTT), one state per
    stage, reset when each train/val/test epoch starts. ``init_range``: all weights uniform in ``±init_range``
    (Zaremba et al. 2014), null keeps torch's initialisation. ``sample_prompt``: the test epoch logs a sample
    continuing it (null: no sample), drawn as ``predict`` draws, with ``max_tokens``, ``temperature``, ``top_k``.
    """

    reads = LMDataModule
    better = {"ppl": "min"}

    def __init__(self, dropout: Annotated[float, Unit] = 0.5, tie_weights: bool = True,
                 init_range: Annotated[float, Positive] | None = None, sample_prompt: str | None = "the",
                 max_tokens: Annotated[int, Positive] = 30, temperature: Annotated[float, Positive] = 1.0,
                 top_k: Annotated[int, NonNegative] = 0, **kwargs):
        encoder = kwargs.get("encoder") or {}
        if encoder.get("bidirectional", False):
            raise ConfigError("model.bidirectional=true: a language model must not see the words it predicts; "
                              "use a unidirectional encoder (model=lstm, gru or rnn)")
        if encoder.get("char", "none") != "none":
            raise ConfigError("model.char: the language model reads words only; set model.char=none")
        if init_range is not None and encoder.get("init", "default") != "default":
            raise ConfigError(f"task.init_range={init_range} sets every weight, model.init={encoder['init']} the "
                              "recurrent ones: choose one")
        super().__init__(**kwargs)  # ranges: seqexp.run.schema checks task.* against this signature
        embedding = self.encoder.embedding
        self.dropout = nn.Dropout(dropout)
        size = self.encoder.output_size
        self.proj = nn.Linear(size, embedding.embedding_dim) if tie_weights and size != embedding.embedding_dim \
            else None
        self.out = nn.Linear(embedding.embedding_dim if tie_weights else size, len(self.vocab))
        if tie_weights:
            self.out.weight = embedding.weight  # one Parameter: [V, E]
        if init_range is not None:
            pretrained = kwargs.get("pretrained") is not None
            for param in self.parameters():  # a tied matrix once
                if not (pretrained and param is embedding.weight):
                    nn.init.uniform_(param, -init_range, init_range)
        self.sample_prompt = sample_prompt
        self.max_tokens, self.temperature, self.top_k = max_tokens, temperature, top_k
        self.states: dict[str, State] = dict.fromkeys(SPLITS)
        # train/loss_epoch is the mean token NLL, log(ppl): a second softmax over the vocabulary each step would add
        # nothing but cost
        self.set_metrics(MetricCollection({"ppl": Perplexity()}), train=MetricCollection({}))

    def forward(self, tokens: Tensor, state: State = None) -> tuple[Tensor, State]:
        """``tokens [B, T]`` -> ``(logits [B, T, V], state)``; ``state`` continues an earlier call's."""
        outputs, _, state = self.encoder(tokens, None, state)  # [B, T, H]; windows are full: nothing to pack
        h = self.dropout(outputs)
        if self.proj is not None:
            h = self.proj(h)  # [B, T, E]
        return self.out(h), state

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, Tensor, Tensor]:
        """One window of the stream, continuing ``stage``'s state: ``(loss, logits [B, T, V], targets [B, T])``."""
        logits, state = self(batch["tokens"], self.states[stage])
        self.states[stage] = detach(state)  # the next window starts here; gradients stop at this boundary
        targets = batch["targets"]
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)), logits, targets

    def loss_weight(self, batch: dict[str, Tensor], targets: Tensor) -> int:
        return targets.numel()  # by tokens: the epoch's loss is the mean token NLL, log(ppl)

    def on_train_epoch_start(self) -> None:
        self.states["train"] = None

    def on_validation_epoch_start(self) -> None:
        self.states["val"] = None

    def on_test_epoch_start(self) -> None:
        self.states["test"] = None

    def rows(self, batch: dict[str, Tensor], preds: Tensor, targets: Tensor) -> list[Shown]:
        return []  # windows cut lines anywhere: shown_rows continues whole test lines instead

    def shown_rows(self) -> list[Shown]:
        """Test lines spread over the split: their first words as written (the prompt), the model's continuation
        (drawn as ``predict`` draws) and how the line really goes on."""
        data = self.trainer.datamodule
        lines = [data.words(ex) for ex in data.examples.get("test", [])]
        picked = sorted((i for i, words in enumerate(lines) if len(words) >= 6), key=spread)[:self.hparams.examples]
        rows = []
        for i in picked:
            prompt, actual = lines[i][:len(lines[i]) // 2], lines[i][len(lines[i]) // 2:]
            _, drawn = self._continue(" ".join(prompt), self.max_tokens, self.temperature, self.top_k, seed=0)
            rows.append(Shown(i, None, {"prompt": " ".join(prompt), "continuation": " ".join(drawn),
                                        "actual": " ".join(actual)}))
        return rows

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        if self.sample_prompt is not None:
            log.info("sample: %s", self.sample(self.sample_prompt, self.max_tokens, self.temperature, self.top_k,
                                               seed=0))

    def predict(self, texts: list[str]) -> list[dict]:
        """A continuation of each text (``python -m seqexp.predict``), drawn with the task's ``max_tokens``,
        ``temperature`` and ``top_k`` (``task.top_k=1``: greedy), seed 0 for every text: repeatable."""
        return [{"text": text, "continuation": " ".join(self._continue(text, self.max_tokens, self.temperature,
                                                                       self.top_k, seed=0)[1])} for text in texts]

    @torch.no_grad()
    def sample(self, prompt: str, max_tokens: int = 30, temperature: float = 1.0, top_k: int = 0,
               seed: int | None = None) -> str:
        """The prompt's words and up to ``max_tokens`` words drawn after them, stopping at ``<eos>``.

        The prompt is tokenized and looked up as the training data was (the tokenizer settings saved in the
        checkpoint) and read after an ``<eos>``, as if it started a line. Each word is drawn from
        softmax(logits / temperature), restricted to the ``top_k`` most likely words (0: all; 1: greedy).
        ``seed`` makes the draw repeatable without touching the global random state.
        """
        words, drawn = self._continue(prompt, max_tokens, temperature, top_k, seed)
        return " ".join([*words, *drawn])

    @torch.no_grad()
    def _continue(self, prompt: str, max_tokens: int, temperature: float, top_k: int,
                  seed: int | None = None) -> tuple[list[str], list[str]]:
        """``(prompt words, drawn words)``; see ``sample``."""
        settings = self.hparams.get("tokenizer") or {}
        words = tokenize(prompt, settings.get("tokenizer", "whitespace"))
        lookup = [w.lower() for w in words] if settings.get("lowercase", False) else words
        eos = self.vocab.stoi[EOS]
        never = [self.vocab.stoi[s] for s in (PAD, BOS) if s in self.vocab]  # not in any training text
        generator = torch.Generator(self.device).manual_seed(seed) if seed is not None else None
        tokens = torch.tensor([[eos, *self.vocab.encode(lookup)]], device=self.device)  # [1, T]
        was_training = self.training
        self.eval()
        try:
            logits, state = self(tokens)  # [1, T, V]
            drawn = decoding.sample(decoding.RecurrentSteps(self), logits[0, -1], state, eos, never, max_tokens,
                                    temperature, top_k, generator)
        finally:
            self.train(was_training)
        return words, self.vocab.decode(drawn)


def detach(state: State) -> State:
    """The state's values without the graph that produced them; nested tuples too (a cell of your own's)."""
    if state is None:
        return None
    return tuple(detach(s) for s in state) if isinstance(state, tuple) else state.detach()
