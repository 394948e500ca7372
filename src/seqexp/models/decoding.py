"""Left-to-right generation for every head that writes text: greedy decoding and beam search (seq2seq,
conditioned generation) and sampling (the language model).

The loops drive a *generator*: ``step(tokens [N], state) -> (logits [N, V], state)``, ``select(state, rows [N'])
-> state`` (keep and reorder rows: beams) and ``expand(k)``, the same generator over each row's ``k`` copies (its
context repeated, for beams). ``seqexp.models.decoder.DecoderSteps`` runs the attention decoder over a memory,
``RecurrentSteps`` any recurrent net that maps a token window and a state to logits (the LM, the conditioned
generator).
"""

from collections.abc import Callable
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

CHECK_EVERY = 8
"""Decoding loops ask whether every sequence has finished (a host sync) only every this many steps."""


class Generator(Protocol):
    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def select(self, state: Any, rows: Tensor) -> Any: ...

    def expand(self, k: int) -> "Generator": ...


class RecurrentSteps:
    """``forward(tokens [N, T], state) -> (logits [N, T, V], state)`` one token at a time; the state is in
    torch.nn's layout (``h [L, N, H]`` or ``(h, c)``, or None before the first step)."""

    def __init__(self, forward: Callable[[Tensor, Any], tuple[Tensor, Any]]):
        self.forward = forward

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        logits, state = self.forward(tokens[:, None], state)  # [N, 1, V]
        return logits[:, 0], state  # [N, V]

    def select(self, state: Any, rows: Tensor) -> Any:
        if state is None:
            return None
        if isinstance(state, tuple):
            return tuple(s.index_select(1, rows) for s in state)
        return state.index_select(1, rows)

    def expand(self, k: int) -> "RecurrentSteps":
        return self  # no context beyond the state


def greedy(gen: Generator, state: Any, start: Tensor, eos: int, pad: int, max_len: int) -> Tensor:
    """Argmax decoding from ``start [B]`` (BOS ids) -> ``tokens [B, L]``, ``L <= max_len``, without the start
    token; ``pad`` after each EOS."""
    token, tokens = start, []
    finished = torch.zeros_like(start, dtype=torch.bool)  # [B]
    length = torch.full_like(start, max_len)  # [B] steps each sequence needs, EOS included
    for t in range(max_len):
        logits, state = gen.step(token, state)  # [B, V]
        token = logits.argmax(-1).masked_fill(finished, pad)  # [B]
        tokens.append(token)
        length = torch.where((token == eos) & ~finished, t + 1, length)  # [B]
        finished = finished | (token == eos)  # [B]
        if t % CHECK_EVERY == CHECK_EVERY - 1 and finished.all():  # a host sync: only every few steps
            break
    return torch.stack(tokens, dim=1)[:, : int(length.max())]  # [B, L]; one sync after the loop


def beam_search(gen: Generator, state: Any, start: Tensor, eos: int, pad: int, max_len: int, beam_size: int = 5,
                length_penalty: float = 1.0) -> Tensor:
    """Beam search over ``B * beam_size`` rows at once -> the best hypothesis per example, ``[B, L]``.

    Scores are summed log-probabilities (in fp32, whatever the model's precision); a hypothesis that emits EOS
    within the top ``beam_size`` candidates leaves the beam for a per-example pool of the ``beam_size`` best
    finished ones, scored ``sum / length ** length_penalty`` (length counts EOS; 0 disables it), and the beam goes
    on with the best non-EOS candidates. An example is done when its pool is full and no live hypothesis,
    normalised at the current length, beats the pool's worst (Hugging Face's rule: stopping as soon as the pool is
    full loses to greedy far more often); the search stops when all examples are done, or at ``max_len``, where
    the unfinished hypotheses join the pool. ``beam_size=1`` returns exactly what ``greedy`` returns.
    """
    batch, k, device = start.size(0), beam_size, start.device
    gen = gen.expand(k)
    state = gen.select(state, torch.arange(batch, device=device).repeat_interleave(k))  # B*K rows
    token = start.repeat_interleave(k)  # [B*K]
    scores = torch.full((batch, k), float("-inf"), device=device)  # [B, K] summed log-probabilities (fp32 at least)
    scores[:, 0] = 0.0  # only one live hypothesis at the start, so the K beams do not repeat it
    alive = torch.full((batch, k, max_len), pad, dtype=torch.long, device=device)  # [B, K, L]
    pool = _Pool(torch.full_like(scores, float("-inf")), alive.clone(),
                 torch.zeros(batch, k, dtype=torch.long, device=device))
    done = torch.zeros(batch, dtype=torch.bool, device=device)  # [B]
    rank = torch.arange(2 * k, device=device)  # [2K]
    offset = torch.arange(batch, device=device)[:, None] * k  # [B, 1]
    for t in range(max_len):
        logits, state = gen.step(token, state)  # [B*K, V]
        logp = F.log_softmax(logits, dim=-1, dtype=torch.promote_types(logits.dtype, scores.dtype))  # [B*K, V]
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
        state = gen.select(state, (offset + source.gather(1, keep)).view(-1))  # the beam each survivor extends
        best_alive = scores.max(dim=1).values / (t + 1) ** length_penalty  # [B]
        done = done | ((pool.scores[:, -1] > float("-inf")) & (best_alive <= pool.scores[:, -1]))  # [B]
        if t % CHECK_EVERY == CHECK_EVERY - 1 and done.all():  # a host sync: only every few steps
            break
    else:  # max_len reached: the live hypotheses of unfinished examples compete with the pool
        unfinished = (scores / max_len ** length_penalty).masked_fill(done[:, None], float("-inf"))  # [B, K]
        pool = pool.add(unfinished, alive, torch.full_like(scores, max_len, dtype=torch.long))
    best = pool.tokens[:, 0]  # [B, L]; the pool is sorted best first
    return best[:, : int(pool.lengths[:, 0].max())]  # [B, L'], one sync after the loop


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


def sample(gen: Generator, logits: Tensor, state: Any, eos: int, never: list[int], max_tokens: int,
           temperature: float = 1.0, top_k: int = 0, generator: torch.Generator | None = None) -> list[int]:
    """Ids drawn one at a time for one sequence, from the next-token ``logits [V]`` that follow ``state``, up to
    ``max_tokens`` or ``eos`` (not included). Each id is drawn from softmax(logits / temperature) restricted to
    the ``top_k`` most likely (0: all; 1: greedy); ``never`` ids are never drawn."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    drawn: list[int] = []
    word = None
    for _ in range(max_tokens):
        if drawn:
            logits, state = gen.step(word, state)  # [1, V]
            logits = logits[0]  # [V]
        logits = logits / temperature  # [V]
        logits[never] = float("-inf")
        if top_k == 1:
            word = logits.argmax().view(1)  # [1]
        else:
            if top_k > 1:
                kth = logits.topk(min(top_k, logits.numel())).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            word = torch.multinomial(logits.softmax(-1), 1, generator=generator)  # [1]
        word_id = word.item()  # a host decision per drawn word: whether it ends the text
        if word_id == eos:
            break
        drawn.append(word_id)
    return drawn
