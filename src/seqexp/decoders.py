"""The one token decoder every generating head shares: attention, an encoder-to-decoder bridge, teacher-forced
training (with optional scheduled sampling), greedy decoding and batched beam search.

States use torch.nn's layout throughout: ``h [L, B, H]`` for rnn/gru, ``(h, c)`` for lstm.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqexp.cells import State
from seqexp.errors import ConfigError

CELLS = ("rnn", "gru", "lstm")
ATTENTIONS = ("none", "bahdanau", "luong-dot", "luong-general")


class Attention(nn.Module):
    """``forward(query [B, Hq], keys [B, S, Hk], mask [B, S]) -> (context [B, Hk], weights [B, S])``.

    ``bahdanau``: v^T tanh(W_q q + W_k k); ``luong-dot``: q·k; ``luong-general``: q^T W k. The query-independent
    half (W_k k, W k) is ``project_keys``, so decoding loops compute it once per sequence instead of once per step.
    """

    def __init__(self, kind: str, query_size: int, key_size: int):
        super().__init__()
        if kind not in ATTENTIONS[1:]:
            raise ConfigError(f"task.decoder.attention: unknown attention {kind!r} "
                              f"(expected one of {', '.join(ATTENTIONS[1:])})")
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
        h, c = state if isinstance(state, tuple) else (state, state)  # c from h when the encoder has no c
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

    def __init__(self, vocab_size: int, cell: str = "gru", embedding_dim: int = 256, hidden_size: int = 512,
                 num_layers: int = 1, dropout: float = 0.0, attention: str = "none", memory_size: int | None = None,
                 input_feed: bool | None = None, tie_weights: bool = False, padding_idx: int = 0):
        super().__init__()
        luong = attention in ("luong-dot", "luong-general")
        input_feed = luong if input_feed is None else input_feed
        _check(cell=cell, attention=attention, memory_size=memory_size, input_feed=input_feed, dropout=dropout,
               embedding_dim=embedding_dim, hidden_size=hidden_size, num_layers=num_layers)
        self.attention_kind, self.input_feed, self.padding_idx = attention, input_feed, padding_idx
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.dropout = nn.Dropout(dropout)
        self.attention = Attention(attention, hidden_size, memory_size) if attention != "none" else None
        context_size = memory_size if attention == "bahdanau" else 0
        rnn_input = embedding_dim + context_size + (hidden_size if input_feed else 0)
        self.rnn = getattr(nn, cell.upper())(rnn_input, hidden_size, num_layers, batch_first=True,
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

    def greedy(self, state: State, memory: Tensor | None, memory_mask: Tensor | None, bos: int, eos: int,
               max_len: int) -> Tensor:
        """Argmax decoding -> ``tokens [B, L]``, ``L <= max_len``, without BOS; padding_idx after each EOS."""
        batch = _top(state).size(0)
        device = _top(state).device
        keys = self._keys(memory)
        feed = self._initial_feed(batch)
        token = torch.full((batch,), bos, dtype=torch.long, device=device)  # [B]
        finished = torch.zeros(batch, dtype=torch.bool, device=device)  # [B]
        tokens: list[Tensor] = []
        for _ in range(max_len):
            o, state, feed = self._step(self._embed(token), state, feed, memory, keys, memory_mask)
            token = self._logits(o).argmax(-1).masked_fill(finished, self.padding_idx)  # [B]
            tokens.append(token)
            finished = finished | (token == eos)  # [B]
            if finished.all():  # the one host sync per step: stop once every sequence has produced EOS
                break
        return torch.stack(tokens, dim=1)  # [B, L]

    def beam_search(self, state: State, memory: Tensor | None, memory_mask: Tensor | None, bos: int, eos: int,
                    max_len: int, beam_size: int = 5, length_penalty: float = 1.0) -> Tensor:
        """Beam search over ``B * beam_size`` rows at once -> the best hypothesis per example, ``[B, L]``.

        Scores are summed log-probabilities; a hypothesis that emits EOS within the top ``beam_size`` candidates
        leaves the beam for a per-example pool of the ``beam_size`` best finished ones, scored ``sum / length **
        length_penalty`` (length counts EOS; 0 disables it), and the beam goes on with the best non-EOS
        candidates. An example is done when its pool is full and no live hypothesis, normalised at the current
        length, beats the pool's worst (Hugging Face's rule: stopping as soon as the pool is full loses to greedy
        far more often); the search stops when all examples are done, or at ``max_len``, where the unfinished
        hypotheses join the pool. ``beam_size=1`` returns exactly what ``greedy`` returns.
        """
        h = _top(state)  # [B, H]
        batch, k, device, dtype = h.size(0), beam_size, h.device, h.dtype
        state = _map(state, lambda s: s.repeat_interleave(k, dim=1))  # [L, B*K, H]
        if memory is not None:
            memory = memory.repeat_interleave(k, dim=0)  # [B*K, S, M]
            memory_mask = memory_mask.repeat_interleave(k, dim=0) if memory_mask is not None else None  # [B*K, S]
        keys = self._keys(memory)
        feed = self._initial_feed(batch * k)
        token = torch.full((batch * k,), bos, dtype=torch.long, device=device)  # [B*K]
        scores = torch.full((batch, k), float("-inf"), device=device, dtype=dtype)  # [B, K]
        scores[:, 0] = 0.0  # only one live hypothesis at the start, so the K beams do not repeat it
        alive = torch.full((batch, k, max_len), self.padding_idx, dtype=torch.long, device=device)  # [B, K, L]
        pool = _Pool(torch.full_like(scores, float("-inf")), alive.clone(),
                     torch.zeros(batch, k, dtype=torch.long, device=device))
        done = torch.zeros(batch, dtype=torch.bool, device=device)  # [B]
        rank = torch.arange(2 * k, device=device)  # [2K]
        offset = torch.arange(batch, device=device)[:, None] * k  # [B, 1]
        for t in range(max_len):
            o, state, feed = self._step(self._embed(token), state, feed, memory, keys, memory_mask)
            logp = F.log_softmax(self._logits(o), dim=-1)  # [B*K, V]
            vocab = logp.size(-1)
            total = (scores[:, :, None] + logp.view(batch, k, vocab)).view(batch, k * vocab)  # [B, K*V]
            cand_scores, cand = total.topk(2 * k, dim=-1)  # [B, 2K]; >= K of them do not end in EOS
            source, cand_token = cand // vocab, cand % vocab  # [B, 2K] each
            seqs = alive.gather(1, source[:, :, None].expand(-1, -1, max_len))  # [B, 2K, L]
            seqs[:, :, t] = cand_token
            is_eos = cand_token == eos  # [B, 2K]
            finishing = is_eos & (rank < k) & ~done[:, None]  # [B, 2K]
            normalised = (cand_scores / (t + 1) ** length_penalty).masked_fill(~finishing, float("-inf"))  # [B, 2K]
            pool = pool.add(normalised, seqs, torch.full_like(cand, t + 1))
            keep = (rank + is_eos * 2 * k).argsort(dim=-1)[:, :k]  # [B, K] the best K non-EOS candidates
            scores = cand_scores.gather(1, keep)  # [B, K]
            alive = seqs.gather(1, keep[:, :, None].expand(-1, -1, max_len))  # [B, K, L]
            token = cand_token.gather(1, keep).view(-1)  # [B*K]
            rows = (offset + source.gather(1, keep)).view(-1)  # [B*K] beam each survivor extends
            state = _map(state, lambda s, rows=rows: s.index_select(1, rows))  # [L, B*K, H]
            feed = feed.index_select(0, rows) if feed is not None else None  # [B*K, H]
            best_alive = scores.max(dim=1).values / (t + 1) ** length_penalty  # [B]
            done = done | ((pool.scores[:, -1] > float("-inf")) & (best_alive <= pool.scores[:, -1]))  # [B]
            if done.all():  # the one host sync per step: stop once every example is done
                break
        else:  # max_len reached: the live hypotheses of unfinished examples compete with the pool
            unfinished = (scores / max_len ** length_penalty).masked_fill(done[:, None], float("-inf"))  # [B, K]
            pool = pool.add(unfinished, alive, torch.full_like(scores, max_len, dtype=torch.long))
        best = pool.tokens[:, 0]  # [B, L]; the pool is sorted best first
        return best[:, : int(pool.lengths[:, 0].max())]  # [B, L'], one sync after the loop

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


class _Pool:
    """Per-example pool of the best ``K`` finished hypotheses, kept sorted best first."""

    def __init__(self, scores: Tensor, tokens: Tensor, lengths: Tensor):
        self.scores, self.tokens, self.lengths = scores, tokens, lengths  # [B, K], [B, K, L], [B, K]

    def add(self, scores: Tensor, tokens: Tensor, lengths: Tensor) -> "_Pool":
        """Merge ``N`` candidates (``-inf`` score = not a candidate) and keep the best ``K``."""
        k = self.scores.size(1)
        best, idx = torch.cat([self.scores, scores], dim=1).topk(k, dim=1)  # [B, K]
        tokens = torch.cat([self.tokens, tokens], dim=1)  # [B, K+N, L]
        lengths = torch.cat([self.lengths, lengths], dim=1)  # [B, K+N]
        return _Pool(best, tokens.gather(1, idx[:, :, None].expand(-1, -1, tokens.size(-1))), lengths.gather(1, idx))


def _top(state: State) -> Tensor:
    """The top layer's hidden state ``[B, H]``."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


def _map(state: State, fn: Callable[[Tensor], Tensor]) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _check(cell: str, attention: str, memory_size: int | None, input_feed: bool, dropout: float,
           **sizes: int) -> None:
    """Reject bad values before any training starts, naming the config key."""
    if cell not in CELLS:
        raise ConfigError(f"task.decoder.cell: unknown cell {cell!r} (expected one of {', '.join(CELLS)})")
    if attention not in ATTENTIONS:
        raise ConfigError(f"task.decoder.attention: unknown attention {attention!r} "
                          f"(expected one of {', '.join(ATTENTIONS)})")
    if memory_size is not None:
        sizes["memory_size"] = memory_size
    for key, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"task.decoder.{key} must be a positive integer, got {value!r}")
    if not 0 <= dropout < 1:
        raise ConfigError(f"task.decoder.dropout must be in [0, 1), got {dropout!r}")
    if attention != "none" and memory_size is None:
        raise ConfigError(f"task.decoder.memory_size is required with task.decoder.attention={attention}")
    if input_feed and not attention.startswith("luong"):
        raise ConfigError(f"task.decoder.input_feed=true needs a luong attention, got attention={attention}")
