"""Each exportable head's inference path as a plain module of the head's own layers (no Lightning, no dicts,
eval mode), so ``torch.jit.trace`` and the ONNX exporter can record it: ``python -m seqexp.export``."""

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from seqexp.errors import ConfigError
from seqexp.models.crf import viterbi
from seqexp.models.encoder import Encoder
from seqexp.models.recurrence import FUSED
from seqexp.tasks.base import SeqTask, mask
from seqexp.tasks.classify import Classifier
from seqexp.tasks.tag import Tagger


class ExportedClassifier(nn.Module):
    """``(tokens [B, T], lengths [B][, chars [B, T, W]]) -> (scores [B, C] logits, labels [B])``."""

    outputs = ("scores", "labels")

    def __init__(self, head: Classifier):
        super().__init__()
        self.encoder, self.pool, self.out = head.encoder, head.pool, head.out

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> tuple[Tensor, Tensor]:
        outputs, _, _ = self.encoder(tokens, lengths, chars=chars)  # [B, T, D]
        scores = self.out(self.pool(outputs, final_state(outputs, lengths, self.encoder.directions), lengths))
        return scores, scores.argmax(-1)  # [B, C], [B]


def final_state(outputs: Tensor, lengths: Tensor, directions: int) -> Tensor:
    """``[B, D]``: an RNN's final state read off its top layer's outputs ``[B, T, D]`` (forward half at each last
    real step, backward half at step 0), which hold the same values. The ONNX exporter fails on a one-layer RNN's
    final state of packed sequences (torch 2.13), so the export never asks for it."""
    index = (lengths.long() - 1).view(-1, 1, 1).expand(-1, 1, outputs.size(2))  # [B, 1, D]; int32 in ONNX
    last = outputs.gather(1, index).squeeze(1)  # [B, D]
    if directions == 1:
        return last
    half = outputs.size(2) // 2
    return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=-1)  # [B, D]


class ExportedTagger(nn.Module):
    """``(tokens [B, T], lengths [B][, chars [B, T, W]]) -> (scores [B, T, K] emissions, tags [B, T])``: tags by
    argmax, or by Viterbi under the CRF's potentials (0 past each length)."""

    outputs = ("scores", "tags")

    def __init__(self, head: Tagger):
        super().__init__()
        self.encoder, self.out, self.crf = head.encoder, head.out, head.crf
        self.viterbi = torch.jit.script(viterbi) if head.crf is not None else None  # a loop over any length

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> tuple[Tensor, Tensor]:
        outputs, _, _ = self.encoder(tokens, lengths, chars=chars)  # [B, T, D]
        scores = self.out(outputs)  # [B, T, K]
        if self.crf is None:
            return scores, scores.argmax(-1)  # [B, T]
        return scores, self.viterbi(scores, mask(lengths, scores.size(1)), *self.crf.potentials())  # [B, T]


class StateFromOutputs(nn.Module):
    """A one-layer bidirectional torch.nn RNN over packed sequences whose final hidden state ``h [2, N, H]`` is
    read off its outputs (``final_state``), for the character LSTM; its cell state is not needed there."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        self.rnn = rnn

    def forward(self, packed: PackedSequence) -> tuple[PackedSequence, tuple[Tensor, None]]:
        out, _ = self.rnn(packed)
        padded, lengths = pad_packed_sequence(out, batch_first=True)  # [N, W, 2H], [N]
        final = final_state(padded, lengths, 2)  # [N, 2H]
        return out, (final.view(final.size(0), 2, -1).transpose(0, 1), None)  # h: [2, N, H]


def exportable(head: SeqTask) -> nn.Module:
    """The head's inference path, in eval mode, without gradients; classifiers and taggers (CRF included) can be
    exported. A hand-written (``impl=scratch``) rnn, gru or lstm is swapped for the torch.nn layer with the same
    weights, whose outputs it equals: a traced Python loop over time steps would hold for one length only."""
    for kind, wrapper in ((Classifier, ExportedClassifier), (Tagger, ExportedTagger)):
        if isinstance(head, kind):
            _fuse(head.encoder)
            if head.encoder.chars is not None and head.encoder.chars.kind == "lstm":
                head.encoder.chars.lstm = StateFromOutputs(head.encoder.chars.lstm)
            return wrapper(head).eval().requires_grad_(False)  # outputs a program can use as they come
    raise ConfigError(f"ckpt: a {type(head).__name__} cannot be exported (classifiers and taggers can)")


def _fuse(encoder: Encoder) -> None:
    if encoder.impl != "scratch":
        return
    rnn = encoder.rnn
    cell = getattr(rnn, "cell", None) or "your own cell"  # seqexp.models.custom.CellRNN: no built-in name
    if cell not in FUSED:
        raise ConfigError(f"ckpt: model.cell={cell} cannot be exported: torch.nn has no such layer to run its "
                          f"weights (exported cells: {', '.join(FUSED)})")
    elman = {"nonlinearity": rnn.nonlinearity} if rnn.cell == "rnn" else {}
    fused = getattr(nn, rnn.cell.upper())(rnn.input_size, rnn.hidden_size, rnn.num_layers, batch_first=True,
                                          bidirectional=rnn.bidirectional, **elman)
    fused.load_state_dict(rnn.state_dict())
    encoder.rnn, encoder.impl = fused, "cudnn"
