"""N-vs-M: an encoder-decoder with optional attention; greedy or beam-search decoding for val/test."""

import logging
from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.text import CHRFScore, Perplexity, SacreBLEUScore

from seqexp.constraints import Keywords, NonNegative, Positive, Probability
from seqexp.data.seq2seq import Seq2SeqDataModule
from seqexp.data.vocab import BOS, EOS, Vocab
from seqexp.models.decoder import Bridge, Decoder
from seqexp.tasks.base import SeqTask, mask, update_generation_metrics
from seqexp.tasks.shown import Shown

log = logging.getLogger(__name__)

DECODER = Keywords(Decoder, hints=(("bidirectional", "a decoder generates left to right, so it cannot be "
                                    "bidirectional; model.bidirectional=true makes the encoder bidirectional"),))


class Seq2Seq(SeqTask):
    """Encoder -> bridge (its final state -> the decoder's initial state) -> decoder attending over the encoder
    outputs. Trained with teacher forcing; validated with greedy decoding (``val_beam_size``: beam search there too,
    to choose decoding settings on val) and tested with beam search (``beam_size``; 1 = greedy). BLEU and chrF follow
    sacreBLEU (13a tokenisation of our lowercased tokens);
    perplexity comes from summed token log-likelihoods."""

    reads = Seq2SeqDataModule
    better = {"ppl": "min", "bleu": "max", "chrf": "max"}

    def __init__(self, target_vocab: list[str], decoder: Annotated[dict, DECODER],
                 teacher_forcing: Annotated[float, Probability] = 1.0, beam_size: Annotated[int, Positive] = 5,
                 val_beam_size: Annotated[int, Positive] = 1, length_penalty: Annotated[float, NonNegative] = 1.0,
                 max_len: Annotated[int, Positive] = 50,
                 **kwargs):
        super().__init__(**kwargs)  # ranges and decoder keys: seqexp.run.schema checks task.* against this
        self.target_vocab = Vocab(target_vocab)
        memory = self.encoder.output_size if decoder.get("attention", "none") != "none" else None
        self.decoder = Decoder(len(target_vocab), memory_size=memory, padding_idx=self.target_vocab.pad_index,
                               **decoder)
        self.bridge = Bridge(self.encoder.output_size, self.decoder.hidden_size, self.decoder.rnn.num_layers,
                             decoder.get("cell", "gru"))
        self.bos, self.eos = self.target_vocab.stoi[BOS], self.target_vocab.stoi[EOS]
        ppl = Perplexity(ignore_index=self.target_vocab.pad_index)  # val/test: exact over tokens (train: see loss)
        self.set_metrics(MetricCollection({"ppl": ppl, "bleu": SacreBLEUScore(), "chrf": CHRFScore()}),
                         train=MetricCollection({}))

    def forward(self, batch: dict[str, Tensor], teacher_forcing: float = 1.0) -> Tensor:
        memory, _, state = self.encode(batch)  # [B, S, D], state
        target = batch["target"]  # [B, T]: <bos> ... <eos> <pad>...
        return self.decoder(target[:, :-1], self.bridge(state), self._memory(memory),
                            mask(batch["lengths"], memory.size(1)), teacher_forcing)  # [B, T-1, V]

    def _memory(self, memory: Tensor) -> Tensor | None:
        return memory if self.decoder.attention is not None else None

    def translate(self, batch: dict[str, Tensor], beam_size: int = 1) -> Tensor:
        """Token ids ``[B, L]`` of the translations, padded after ``<eos>``."""
        memory, _, state = self.encode(batch)  # [B, S, D]
        args = (self.bridge(state), self._memory(memory), mask(batch["lengths"], memory.size(1)), self.bos,
                self.eos, self.hparams.max_len)
        if beam_size == 1:
            return self.decoder.greedy(*args)
        return self.decoder.beam_search(*args, beam_size=beam_size, length_penalty=self.hparams.length_penalty)

    def step(self, batch: dict[str, Tensor], stage: str) -> tuple[Tensor, tuple, Tensor]:
        logits = self(batch, self.hparams.teacher_forcing if self.training else 1.0)  # [B, T-1, V]
        gold = batch["target"][:, 1:]  # [B, T-1]
        loss = F.cross_entropy(logits.transpose(1, 2), gold, ignore_index=self.target_vocab.pad_index)
        hyps = None
        if stage != "train":  # val: greedy (val_beam_size 1, every epoch); test: beam search
            hyps = self.translate(batch, self.hparams.beam_size if stage == "test" else self.hparams.val_beam_size)
        return loss, (logits, hyps), gold

    def text(self, ids: Tensor) -> str:
        return self.target_vocab.text(ids.tolist())

    def update_metrics(self, metrics: MetricCollection, preds: tuple, targets: Tensor,
                       batch: dict[str, Tensor]) -> None:
        update_generation_metrics(metrics, *preds, targets, self.target_vocab)

    def predict(self, texts: list[str]) -> list[dict]:
        batch, _ = self.batch_from_texts(texts)
        hyps = self.translate(batch, self.hparams.beam_size)  # [B, L]
        return [{"source": t, "translation": self.text(h)} for t, h in zip(texts, hyps, strict=True)]

    @torch.no_grad()
    def align(self, text: str) -> tuple[list[str], list[str], Tensor] | None:
        """Where the greedy translation of ``text`` looked: (its source words, its output words up to and with
        ``<eos>``, the attention weights ``[len(output), len(source)]``, each row summing to 1); None without
        attention. The run page and ``seqexp.inspect`` draw it."""
        if self.decoder.attention is None:
            return None
        batch, words = self.batch_from_texts([text])
        weights: list[Tensor] = []  # per decoding step: [1, S]
        hook = self.decoder.attention.register_forward_hook(lambda _, __, out: weights.append(out[1]))
        try:
            ids = self.translate(batch)[0].tolist()  # [L]
        finally:
            hook.remove()
        out = self.target_vocab.decode(ids[:ids.index(self.eos) + 1] if self.eos in ids else ids)
        return words[0], out, torch.cat(weights[:len(out)]).cpu()  # [len(out), S]

    def rows(self, batch: dict[str, Tensor], preds: tuple, targets: Tensor) -> list[Shown]:
        """Source and reference as written in the file; the hypothesis in the target vocabulary's words."""
        return [Shown(i, self.target_vocab.text(h) != self.target_vocab.text(t),
                      {"source": " ".join(self.input_words(i)), "reference": self.example(i).target,
                       "hypothesis": self.target_vocab.text(h)})
                for i, t, h in zip(batch["index"].tolist(), targets.tolist(), preds[1].tolist(), strict=True)]

