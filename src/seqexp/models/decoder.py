"""The one token decoder every generating head shares: attention, an encoder-to-decoder bridge, teacher-forced
training (with optional scheduled sampling); greedy and beam search run it through seqexp.models.decoding.

States use torch.nn's layout throughout: ``h [L, B, H]`` for rnn/gru, ``(h, c)`` for lstm.
"""

from collections.abc import Callable
from typing import Annotated, Literal

import torch
from torch import Tensor, nn

from seqexp.constraints import Size, Unit
from seqexp.errors import ConfigError
from seqexp.models import decoding
from seqexp.models.fused import FUSED_CLASSES
from seqexp.models.recurrence import FUSED as CELLS
from seqexp.models.recurrence import State

Kind = Literal["none", "bahdanau", "luong-dot", "luong-general"]


class Attention(nn.Module):
    """``forward(query [B, Hq], keys [B, S, Hk], mask [B, S]) -> (context [B, Hk], weights [B, S])``.

    ``bahdanau``: v^T tanh(W_q q + W_k k); ``luong-dot``: q·k; ``luong-general``: q^T W k. The query-independent
    half (W_k k, W k) is ``project_keys``, so decoding loops compute it once per sequence instead of once per step.
    """

    def __init__(self, kind: str, query_size: int, key_size: int):
        super().__init__()
        if kind == "luong-dot" and query_size != key_size:
            raise ConfigError(f"task.decoder.hidden_size={query_size} must equal the memory size {key_size} "
                              "for task.decoder.attention=luong-dot")
        self.kind = kind
        if kind == "bahdanau":
            self.query_proj = nn.Linear(query_size, query_size, bias=False)
            self.key_proj = nn.Linear(key_size, query_size)
            self.v = nn.Linear(query_size, 1, bias=False)
        elif kind == "luong-general":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)
        else:
            self.key_proj = nn.Identity()

    def project_keys(self, keys: Tensor) -> Tensor:
        """``[B, S, Hk] -> [B, S, A]``: the part of the score that does not depend on the query."""
        return self.key_proj(keys)  # [B, S, A]

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None,
                projected: Tensor | None = None) -> tuple[Tensor, Tensor]:
        projected = self.project_keys(keys) if projected is None else projected  # [B, S, A]
        if self.kind == "bahdanau":
            energy = torch.tanh(self.query_proj(query)[:, None] + projected)  # [B, S, A]
            scores = self.v(energy).squeeze(-1)  # [B, S]
        else:
            scores = torch.bmm(projected, query[:, :, None]).squeeze(-1)  # [B, S]
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))  # [B, S]; padding gets exactly zero weight
        weights = torch.softmax(scores, dim=-1)  # [B, S]
        context = torch.bmm(weights[:, None], keys).squeeze(1)  # [B, Hk]
        return context, weights


class Bridge(nn.Module):
    """Encoder final state, or any vector, -> the decoder's initial state: one Linear per decoder layer.

    ``forward(state)`` takes an encoder state in torch.nn layout (``L_enc * D`` rows of ``H_enc``; ``input_size``
    is ``D * H_enc``, the encoder's ``output_size``): the directions of each layer are concatenated, the top
    ``num_layers`` encoder layers feed the decoder layers bottom-up (the top encoder layer is repeated when the
    encoder is shallower). ``from_vector(v [B, input_size])`` feeds the same vector (a label embedding, image
    features) to every decoder layer, for 1-vs-N generation.
    h0 = tanh(Linear(.)). For an lstm decoder c0 = Linear(.) without tanh (cell states are unbounded); it is read
    from the encoder's c when the encoder is an lstm and from its h otherwise (gru/rnn encoders have no c). An
    lstm encoder's c is dropped for a gru/rnn decoder.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, cell: str = "gru"):
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(f"task.decoder.cell: unknown cell {cell!r} (expected one of {', '.join(CELLS)})")
        self.input_size, self.num_layers = input_size, num_layers
        self.h_proj = nn.ModuleList(nn.Linear(input_size, hidden_size) for _ in range(num_layers))
        self.c_proj = nn.ModuleList(nn.Linear(input_size, hidden_size) for _ in range(num_layers)) \
            if cell == "lstm" else None

    def forward(self, state: State) -> State:
        h = state[0] if isinstance(state, tuple) else state  # [L*D, B, H]
        # c from h when the encoder has no c: rnn, gru, or a cell of your own (its states are its own business)
        c = state[1] if isinstance(state, tuple) and isinstance(state[1], Tensor) else h
        return self._project(self._layers(h), self._layers(c))

    def from_vector(self, v: Tensor) -> State:
        layers = v.expand(self.num_layers, *v.shape)  # [L_dec, B, F]
        return self._project(layers, layers)

    def _layers(self, x: Tensor) -> Tensor:
        """``[L_enc * D, B, H_enc] -> [L_dec, B, D * H_enc]``: directions concatenated, top layers kept."""
        directions = self.input_size // x.size(-1)
        if directions * x.size(-1) != self.input_size or x.size(0) % directions:
            raise ValueError(f"Bridge(input_size={self.input_size}) cannot read a state of shape {tuple(x.shape)}")
        layers = x.view(-1, directions, *x.shape[1:]).permute(0, 2, 1, 3).flatten(2)  # [L_enc, B, D*H_enc]
        layers = layers[-self.num_layers:]  # [min(L_enc, L_dec), B, D*H_enc]
        missing = self.num_layers - layers.size(0)
        return torch.cat([layers, layers[-1:].expand(missing, -1, -1)])  # [L_dec, B, D*H_enc]

    def _project(self, h: Tensor, c: Tensor) -> State:
        h0 = torch.stack([torch.tanh(proj(x)) for proj, x in zip(self.h_proj, h, strict=True)])  # [L_dec, B, H]
        if self.c_proj is None:
            return h0
        return h0, torch.stack([proj(x) for proj, x in zip(self.c_proj, c, strict=True)])  # [L_dec, B, H] x 2


class Decoder(nn.Module):
    """Embedding + stacked RNN/GRU/LSTM + optional attention over a memory ``[B, S, M]`` + output layer.

    ``bahdanau`` (Bahdanau et al. 2015): attend with the previous top hidden state, feed [embedding; context] to
    the RNN, predict from [h; context; embedding]. ``luong-*`` (Luong et al. 2015): attend with the new top hidden
    state, predict from h~ = tanh(W_c [context; h]); input feeding (h~ of the previous step joins the next input)
    is on by default. ``tie_weights`` shares the output matrix with the embedding, adding a projection to
    ``embedding_dim`` first when the output features are wider (as OpenNMT does).
    """

    def __init__(self, vocab_size: int, cell: Literal["rnn", "gru", "lstm"] = "gru", embedding_dim: Size = 256,
                 hidden_size: Size = 512, num_layers: Size = 1, dropout: Annotated[float, Unit] = 0.0,
                 attention: Kind = "none", memory_size: Size | None = None, input_feed: bool | None = None,
                 tie_weights: bool = False, padding_idx: int = 0):
        super().__init__()
        luong = attention in ("luong-dot", "luong-general")
        input_feed = luong if input_feed is None else input_feed
        if attention != "none" and memory_size is None:  # ranges and choices: seqexp.run.schema (task.decoder)
            raise ConfigError(f"task.decoder.memory_size is required with task.decoder.attention={attention}")
        if input_feed and not luong:
            raise ConfigError(f"task.decoder.input_feed=true needs a luong attention, got attention={attention}")
        self.attention_kind, self.input_feed, self.padding_idx = attention, input_feed, padding_idx
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.dropout = nn.Dropout(dropout)
        self.attention = Attention(attention, hidden_size, memory_size) if attention != "none" else None
        context_size = memory_size if attention == "bahdanau" else 0
        rnn_input = embedding_dim + context_size + (hidden_size if input_feed else 0)
        self.rnn = FUSED_CLASSES[cell](rnn_input, hidden_size, num_layers, batch_first=True,
                                       dropout=dropout if num_layers > 1 else 0.0)
        self.combine = nn.Linear(memory_size + hidden_size, hidden_size, bias=False) if luong else None  # W_c
        features = hidden_size + context_size + (embedding_dim if attention == "bahdanau" else 0)
        needs_bottleneck = tie_weights and features != embedding_dim
        self.bottleneck = nn.Linear(features, embedding_dim) if needs_bottleneck else nn.Identity()
        self.out = nn.Linear(embedding_dim if tie_weights else features, vocab_size)
        if tie_weights:
            self.out.weight = self.embedding.weight

    def forward(self, inputs: Tensor, state: State, memory: Tensor | None = None, memory_mask: Tensor | None = None,
                teacher_forcing: float = 1.0) -> Tensor:
        """Teacher-forced logits ``[B, T, V]`` for ``inputs [B, T]`` (gold tokens, starting with BOS).

        With ``teacher_forcing < 1`` each step feeds, per sequence, the gold token with that probability and the
        previous step's argmax otherwise (scheduled sampling, Bengio et al. 2015); it applies in train and eval
        mode alike, so pass 1.0 for validation.
        """
        if self.attention is None and teacher_forcing >= 1:  # fast path: the whole sequence in one cuDNN call
            out, _ = self.rnn(self._embed(inputs), state)  # [B, T, H]
            return self._logits(out)  # [B, T, V]
        keys = self._keys(memory)
        feed = self._initial_feed(inputs.size(0))
        logits: list[Tensor] = []
        for t in range(inputs.size(1)):
            tokens = inputs[:, t]  # [B]
            if t > 0 and teacher_forcing < 1:
                gold = torch.rand(tokens.shape, device=tokens.device) < teacher_forcing  # [B]
                tokens = torch.where(gold, tokens, logits[-1].argmax(-1))  # [B]
            o, state, feed = self._step(self._embed(tokens), state, feed, memory, keys, memory_mask)
            logits.append(self._logits(o))  # [B, V]
        return torch.stack(logits, dim=1)  # [B, T, V]

    def steps(self, memory: Tensor | None, memory_mask: Tensor | None) -> "DecoderSteps":
        """This decoder over ``memory`` as the decoding loops (seqexp.models.decoding) drive it."""
        return DecoderSteps(self, memory, memory_mask)

    def greedy(self, state: State, memory: Tensor | None, memory_mask: Tensor | None, bos: int, eos: int,
               max_len: int) -> Tensor:
        """Argmax decoding -> ``tokens [B, L]``, ``L <= max_len``, without BOS; padding_idx after each EOS."""
        steps = self.steps(memory, memory_mask)
        return decoding.greedy(steps, steps.start(state), self._bos(state, bos), eos, self.padding_idx, max_len)

    def beam_search(self, state: State, memory: Tensor | None, memory_mask: Tensor | None, bos: int, eos: int,
                    max_len: int, beam_size: int = 5, length_penalty: float = 1.0) -> Tensor:
        """The best hypothesis per example, ``[B, L]``: ``seqexp.models.decoding.beam_search``."""
        steps = self.steps(memory, memory_mask)
        return decoding.beam_search(steps, steps.start(state), self._bos(state, bos), eos, self.padding_idx,
                                    max_len, beam_size, length_penalty)

    @staticmethod
    def _bos(state: State, bos: int) -> Tensor:
        h = _top(state)  # [B, H]
        return torch.full((h.size(0),), bos, dtype=torch.long, device=h.device)  # [B]

    def _step(self, emb: Tensor, state: State, feed: Tensor | None, memory: Tensor | None, keys: Tensor | None,
              mask: Tensor | None) -> tuple[Tensor, State, Tensor | None]:
        """One step: ``emb [B, E]`` -> (output features [B, F], new state, input-feed vector for the next step)."""
        inputs = [emb]
        if self.attention_kind == "bahdanau":
            context, _ = self.attention(_top(state), memory, mask, keys)  # [B, M], queried by the previous h
            inputs.append(context)
        if feed is not None:
            inputs.append(feed)
        out, state = self.rnn(torch.cat(inputs, dim=-1)[:, None], state)  # [B, 1, H]
        h = out[:, 0]  # [B, H]
        if self.attention_kind == "bahdanau":
            return torch.cat([h, context, emb], dim=-1), state, None  # [B, H+M+E]
        if self.attention is not None:
            context, _ = self.attention(h, memory, mask, keys)  # [B, M], queried by the new h
            h = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # [B, H]: the attentional vector h~
        return h, state, (h if self.input_feed else None)

    def _embed(self, tokens: Tensor) -> Tensor:
        return self.dropout(self.embedding(tokens))  # [..., E]

    def _logits(self, features: Tensor) -> Tensor:
        return self.out(self.bottleneck(self.dropout(features)))  # [..., V]

    def _keys(self, memory: Tensor | None) -> Tensor | None:
        """Project the memory for attention once per sequence; None without attention."""
        if self.attention is None:
            return None
        if memory is None:
            raise ValueError(f"attention={self.attention_kind} needs a memory")
        return self.attention.project_keys(memory)  # [B, S, A]

    def _initial_feed(self, batch: int) -> Tensor | None:
        return self.embedding.weight.new_zeros(batch, self.hidden_size) if self.input_feed else None  # [B, H]


def _top(state: State) -> Tensor:
    """The top layer's hidden state ``[B, H]``."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


class DecoderSteps:
    """One decoder step at a time over a fixed memory, for ``seqexp.models.decoding``: the decoding state is
    ``(rnn state, input-feed vector)``; the memory is context that beams repeat but never reorder."""

    def __init__(self, decoder: Decoder, memory: Tensor | None, memory_mask: Tensor | None):
        self.decoder, self.memory, self.memory_mask = decoder, memory, memory_mask
        self.keys = decoder._keys(memory)  # [B, S, A] or None: projected once per sequence

    def start(self, state: State) -> tuple[State, Tensor | None]:
        return state, self.decoder._initial_feed(_top(state).size(0))

    def step(self, tokens: Tensor, state: tuple) -> tuple[Tensor, tuple]:
        rnn, feed = state
        dec = self.decoder
        o, rnn, feed = dec._step(dec._embed(tokens), rnn, feed, self.memory, self.keys, self.memory_mask)
        return dec._logits(o), (rnn, feed)  # [N, V]

    def select(self, state: tuple, rows: Tensor) -> tuple:
        rnn, feed = state
        return map_state(rnn, lambda s: s.index_select(1, rows)), None if feed is None else feed.index_select(0, rows)

    def expand(self, k: int) -> "DecoderSteps":
        def repeat(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.repeat_interleave(k, dim=0)  # [B*K, ...]

        return DecoderSteps(self.decoder, repeat(self.memory), repeat(self.memory_mask))


def map_state(state: State, fn: Callable[[Tensor], Tensor]) -> State:
    """``fn`` applied to each tensor of an rnn/gru (``h``) or lstm (``(h, c)``) state."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)

