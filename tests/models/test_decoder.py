"""The decoder contract: masked attention, the bridge, teacher forcing, beam of one == greedy, EOS, learning."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from helpers import DEVICES
from seqexp.errors import ConfigError
from seqexp.models.decoder import Attention, Bridge, Decoder, map_state
from seqexp.models.encoder import Encoder
from seqexp.models.recurrence import State
from seqexp.tasks.base import mask

PAD, BOS, EOS = 0, 1, 2
CELLS = ("rnn", "gru", "lstm")
ATTENTIONS = ("none", "bahdanau", "luong-dot", "luong-general")
LENGTHS = torch.tensor([5, 2, 4])
SEARCHED = list(itertools.product(("gru", "lstm"), ("none", "bahdanau", "luong-general")))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: intra-op threads only add overhead, and stall badly on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def stack(cell: str = "gru", attention: str = "bahdanau", lengths: torch.Tensor = LENGTHS, vocab: int = 8,
          layers: int = 1, **kwargs) -> tuple[Decoder, State, torch.Tensor, torch.Tensor]:
    """A random encoder -> bridge -> decoder stack in eval mode: (decoder, initial state, memory, memory mask)."""
    enc = Encoder(vocab, cell="gru", embedding_dim=6, hidden_size=5, bidirectional=True)
    width = int(lengths.max())
    src = torch.randint(3, vocab, (len(lengths), width)).masked_fill(~mask(lengths, width), PAD)  # [B, S]
    memory, _, enc_state = enc(src, lengths)  # [B, S, 10]
    dec = Decoder(vocab, cell=cell, embedding_dim=6, hidden_size=10, num_layers=layers, attention=attention,
                  memory_size=10, **kwargs).eval()
    state = Bridge(10, 10, layers, cell)(enc_state)
    return dec, state, memory.detach(), mask(lengths, memory.size(1))


def shifted(tokens: torch.Tensor) -> torch.Tensor:
    """Teacher-forcing inputs for ``tokens``: BOS, then all but the last token."""
    return torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], dim=1)


def score(dec: Decoder, state, memory, memory_mask, tokens: torch.Tensor, alpha: float) -> torch.Tensor:
    """Sum of log-probs of ``tokens`` up to and including EOS, divided by length ** alpha, as beam search scores."""
    logp = dec(shifted(tokens), state, memory, memory_mask).log_softmax(-1)  # [B, T, V]
    logp = logp.gather(2, tokens[:, :, None]).squeeze(-1)  # [B, T]
    is_eos = tokens == EOS
    length = torch.where(is_eos.any(1), is_eos.int().argmax(1) + 1, tokens.size(1))  # [B]
    valid = torch.arange(tokens.size(1))[None] < length[:, None]  # [B, T]
    return (logp * valid).sum(1) / length.float() ** alpha


@pytest.mark.parametrize("kind", ATTENTIONS[1:])
def test_attention_masks_padding_and_matches_its_formula(kind):
    torch.manual_seed(0)
    att = Attention(kind, query_size=6, key_size=6)
    query, keys, m = torch.randn(3, 6), torch.randn(3, 5, 6), mask(LENGTHS, 5)
    context, weights = att(query, keys, m)
    assert context.shape == (3, 6) and weights.shape == (3, 5)
    assert torch.all(weights[~m] == 0)  # exactly zero, not merely small
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    torch.testing.assert_close(context, (weights[:, :, None] * keys).sum(1))
    if kind == "bahdanau":
        scores = att.v(torch.tanh(att.query_proj(query)[:, None] + att.key_proj(keys))).squeeze(-1)
    elif kind == "luong-dot":
        scores = (keys * query[:, None]).sum(-1)
    else:
        scores = (att.key_proj(keys) * query[:, None]).sum(-1)
    for b, n in enumerate(LENGTHS.tolist()):
        torch.testing.assert_close(weights[b, :n], scores[b, :n].softmax(-1))
    # precomputed key projections give the same answer
    torch.testing.assert_close(att(query, keys, m, att.project_keys(keys))[0], context)


@pytest.mark.parametrize("kind", ATTENTIONS[1:])
def test_memory_at_padded_positions_does_not_change_logits(kind):
    torch.manual_seed(1)
    dec, state, memory, m = stack(attention=kind)
    tokens = torch.randint(3, 8, (3, 6))
    logits = dec(tokens, state, memory, m)
    noisy = memory.masked_fill(~m[:, :, None], 0) + torch.randn_like(memory) * ~m[:, :, None]
    torch.testing.assert_close(dec(tokens, state, noisy, m), logits, rtol=0, atol=0)
    changed = memory.clone()
    changed[:, 0] += 1.0  # a real position: must matter
    assert not torch.allclose(dec(tokens, state, changed, m), logits)


@pytest.mark.parametrize("cell,attention", list(itertools.product(CELLS, ATTENTIONS)))
def test_shapes_for_every_cell_and_attention(cell, attention):
    torch.manual_seed(2)
    dec, state, memory, m = stack(cell, attention, layers=2)
    assert dec.input_feed == attention.startswith("luong")
    logits = dec(torch.randint(3, 8, (3, 7)), state, memory, m)
    assert logits.shape == (3, 7, 8)
    for tokens in (dec.greedy(state, memory, m, BOS, EOS, 9), dec.beam_search(state, memory, m, BOS, EOS, 9, 3)):
        assert tokens.dtype == torch.long and tokens.size(0) == 3 and 1 <= tokens.size(1) <= 9


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cell,attention", SEARCHED)
def test_beam_of_one_is_greedy(cell, attention, device):
    for seed in range(4):
        torch.manual_seed(seed)
        dec, state, memory, m = stack(cell, attention, lengths=torch.tensor([5, 2, 4, 1, 3, 5]), layers=1 + seed % 2)
        dec, memory, m = dec.to(device), memory.to(device), m.to(device)
        state = map_state(state, lambda s: s.detach().to(device))
        with torch.no_grad():
            greedy = dec.greedy(state, memory, m, BOS, EOS, 12)
            beam = dec.beam_search(state, memory, m, BOS, EOS, 12, beam_size=1, length_penalty=0.7)
        assert torch.equal(beam, greedy), seed


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_scores_at_least_greedy(alpha):
    # Beam search is not monotone in the beam size, so on a random model an example can lose to greedy (about
    # 1 in 300 here); the assertion is on the mean and on almost every example.
    wins, diffs = [], []
    for seed, attention in itertools.product(range(6), ("none", "bahdanau", "luong-general")):
        torch.manual_seed(seed)
        dec, state, memory, m = stack("gru", attention, lengths=torch.tensor([5, 2, 4, 1, 3, 5]))
        with torch.no_grad():
            greedy = dec.greedy(state, memory, m, BOS, EOS, 10)
            beam = dec.beam_search(state, memory, m, BOS, EOS, 10, beam_size=5, length_penalty=alpha)
            diff = score(dec, state, memory, m, beam, alpha) - score(dec, state, memory, m, greedy, alpha)
        wins.append(diff >= -1e-5)
        diffs.append(diff)
    assert torch.cat(wins).float().mean() >= 0.95
    assert torch.cat(diffs).mean() > 0


@pytest.mark.parametrize("cell,attention,alpha", [("lstm", "luong-general", 1.0), ("gru", "bahdanau", 0.5)])
def test_a_beam_wider_than_the_search_space_finds_the_best_sequence(cell, attention, alpha):
    """Vocab 8, max_len 3: 400 hypotheses, a beam of 343 keeps them all, so it must agree with brute force."""
    torch.manual_seed(8)
    dec, state, memory, m = stack(cell, attention, lengths=torch.tensor([3, 2, 1, 3, 2, 3]), layers=2)
    others = [t for t in range(8) if t != EOS]
    hypotheses = [[*p, EOS] + [PAD] * (2 - len(p)) for n in range(3) for p in itertools.product(others, repeat=n)]
    hypotheses = torch.tensor(hypotheses + [list(p) for p in itertools.product(others, repeat=3)])  # [400, 3]
    n = len(hypotheses)
    with torch.no_grad():
        dec.out.bias[EOS] -= 2.0  # else the best is often EOS at once, which tells little about the search
        beam = dec.beam_search(state, memory, m, BOS, EOS, 3, beam_size=343, length_penalty=alpha)
        for b in range(len(m)):
            def one(x, b=b):
                return x[:, b:b + 1].expand(-1, n, -1).contiguous()  # example b's state, n times
            state_b = tuple(map(one, state)) if isinstance(state, tuple) else one(state)
            scores = score(dec, state_b, memory[b:b + 1].expand(n, -1, -1), m[b:b + 1].expand(n, -1), hypotheses, alpha)
            best = hypotheses[scores.argmax()]
            assert torch.equal(F.pad(beam[b], (0, 3 - beam.size(1)), value=PAD), best)


def reference_beam_search(dec: Decoder, state, memory, memory_mask, k: int, max_len: int, alpha: float) -> list:
    """The same search rules, one example at a time, rescoring every prefix from scratch: no state to reorder."""
    results = []
    for b in range(len(memory_mask)):
        alive, pool = [([], 0.0)], []  # (tokens, log-prob sum), (normalised score, tokens)
        for t in range(max_len):
            n = len(alive)
            inputs = torch.tensor([[BOS, *tokens] for tokens, _ in alive])  # [n, t+1]
            state_b = tuple(s[:, b:b + 1].expand(-1, n, -1) for s in state) if isinstance(state, tuple) \
                else state[:, b:b + 1].expand(-1, n, -1)
            logp = dec(inputs, state_b, memory[b:b + 1].expand(n, -1, -1), memory_mask[b:b + 1].expand(n, -1))
            logp = logp[:, -1].log_softmax(-1)  # [n, V]
            cands = sorted(((tokens + [v], s + logp[i, v].item()) for i, (tokens, s) in enumerate(alive)
                            for v in range(logp.size(1))), key=lambda c: -c[1])[:2 * k]
            pool += [(s / (t + 1) ** alpha, tokens) for r, (tokens, s) in enumerate(cands)
                     if tokens[-1] == EOS and r < k]
            pool = sorted(pool, key=lambda p: -p[0])[:k]
            alive = [c for c in cands if c[0][-1] != EOS][:k]
            if len(pool) == k and alive[0][1] / (t + 1) ** alpha <= pool[-1][0]:
                break
        else:
            pool = sorted(pool + [(s / max_len ** alpha, tokens) for tokens, s in alive], key=lambda p: -p[0])
        results.append(pool[0][1])
    return results


@pytest.mark.parametrize("cell,attention,alpha", [("lstm", "luong-general", 1.0), ("gru", "bahdanau", 0.0),
                                                  ("gru", "none", 0.6)])
def test_batched_beam_search_matches_a_reference(cell, attention, alpha):
    for seed in range(4):
        torch.manual_seed(seed)
        dec, state, memory, m = stack(cell, attention, lengths=torch.tensor([3, 2, 1, 3, 2, 3]), layers=2)
        dec, memory = dec.double(), memory.double()  # float64 so that both searches rank candidates alike
        state = tuple(s.double() for s in state) if isinstance(state, tuple) else state.double()
        with torch.no_grad():
            for name, p in dec.named_parameters():
                if not name.startswith("out."):
                    p.mul_(4.0)  # a random small model barely depends on its history; this makes it matter
            dec.out.bias[EOS] -= 1.0  # longer hypotheses: more steps of reordering to get right
            beam = dec.beam_search(state, memory, m, BOS, EOS, 8, beam_size=3, length_penalty=alpha).tolist()
            expected = reference_beam_search(dec, state, memory, m, 3, 8, alpha)
        assert [row[:len(ref)] for row, ref in zip(beam, expected, strict=True)] == expected, seed
        assert all(set(row[len(ref):]) <= {PAD} for row, ref in zip(beam, expected, strict=True))


def test_eos_handling_and_max_len():
    torch.manual_seed(3)
    dec, state, memory, m = stack("lstm", "luong-general", lengths=torch.tensor([5, 2, 4, 1, 3, 5]))
    for search in (dec.greedy, lambda *a: dec.beam_search(*a, beam_size=3)):
        tokens = search(state, memory, m, BOS, EOS, 15)
        assert tokens.size(1) <= 15
        after_eos = (tokens == EOS).int().cumsum(1).roll(1, dims=1)
        after_eos[:, 0] = 0
        assert torch.all(tokens[after_eos > 0] == PAD)
    with torch.no_grad():
        dec.out.bias[EOS] = 1e4  # EOS first: every search stops after one token
        for search in (dec.greedy, dec.beam_search):
            assert torch.equal(search(state, memory, m, BOS, EOS, 15), torch.full((6, 1), EOS))
        dec.out.bias[EOS] = -1e4  # never EOS: every search runs to max_len
        for search in (dec.greedy, dec.beam_search):
            tokens = search(state, memory, m, BOS, EOS, 7)
            assert tokens.shape == (6, 7) and not torch.any(tokens == EOS)


def test_tie_weights_shares_the_embedding():
    plain = Decoder(8, embedding_dim=6, hidden_size=6, tie_weights=True)
    assert plain.out.weight is plain.embedding.weight and isinstance(plain.bottleneck, nn.Identity)
    dec, state, memory, m = stack("gru", "bahdanau", tie_weights=True)  # features 10 + 10 + 6 -> 6
    assert dec.out.weight is dec.embedding.weight
    assert isinstance(dec.bottleneck, nn.Linear) and dec.bottleneck.out_features == 6
    assert dec(torch.randint(3, 8, (3, 4)), state, memory, m).shape == (3, 4, 8)
    assert sum(p is dec.embedding.weight for p in dec.parameters()) == 1


def test_bridge_maps_between_cell_families_and_depths():
    torch.manual_seed(4)
    lengths = torch.tensor([4, 3])
    src = torch.randint(3, 8, (2, 4))
    bilstm = Encoder(8, cell="lstm", embedding_dim=6, hidden_size=5, num_layers=2, bidirectional=True)
    _, _, (h, c) = bilstm(src, lengths)  # [4, 2, 5] each
    bridge = Bridge(10, 7, num_layers=1, cell="gru")
    h0 = bridge((h, c))
    assert isinstance(h0, torch.Tensor) and h0.shape == (1, 2, 7)  # the lstm's c is dropped
    torch.testing.assert_close(h0[0], torch.tanh(bridge.h_proj[0](torch.cat([h[2], h[3]], -1))))  # top layer

    gru = Encoder(8, cell="gru", embedding_dim=6, hidden_size=5, num_layers=1)
    _, _, h = gru(src, lengths)  # [1, 2, 5]
    bridge = Bridge(5, 7, num_layers=2, cell="lstm")
    h0, c0 = bridge(h)
    assert h0.shape == c0.shape == (2, 2, 7)
    for layer in range(2):  # the single encoder layer feeds both decoder layers; c0 is read from h, no tanh
        torch.testing.assert_close(h0[layer], torch.tanh(bridge.h_proj[layer](h[0])))
        torch.testing.assert_close(c0[layer], bridge.c_proj[layer](h[0]))
    dec = Decoder(8, cell="lstm", embedding_dim=6, hidden_size=7, num_layers=2)
    assert dec(torch.randint(3, 8, (2, 3)), (h0, c0)).shape == (2, 3, 8)

    vector_state = Bridge(12, 7, num_layers=2, cell="lstm").from_vector(torch.randn(2, 12))
    assert [s.shape for s in vector_state] == [(2, 2, 7), (2, 2, 7)]


def test_one_vs_n_from_a_vector_with_a_batch_of_one():
    torch.manual_seed(5)
    labels = nn.Embedding(4, 12)
    dec = Decoder(8, cell="lstm", embedding_dim=6, hidden_size=7, num_layers=2).eval()
    state = Bridge(12, 7, num_layers=2, cell="lstm").from_vector(labels(torch.tensor([3])))
    assert dec(torch.randint(3, 8, (1, 5)), state).shape == (1, 5, 8)
    greedy = dec.greedy(state, None, None, BOS, EOS, 6)
    assert greedy.size(0) == 1 and torch.equal(dec.beam_search(state, None, None, BOS, EOS, 6, beam_size=1), greedy)
    assert dec.beam_search(state, None, None, BOS, EOS, 6, beam_size=4).size(0) == 1
    with pytest.raises(ValueError, match="needs a memory"):
        stack(attention="bahdanau")[0].greedy(state, None, None, BOS, EOS, 6)


def test_attention_with_a_batch_of_one():
    torch.manual_seed(6)
    dec, state, memory, m = stack("gru", "luong-dot", lengths=torch.tensor([3]))
    assert dec(torch.randint(3, 8, (1, 4)), state, memory, m).shape == (1, 4, 8)
    greedy = dec.greedy(state, memory, m, BOS, EOS, 6)
    assert torch.equal(dec.beam_search(state, memory, m, BOS, EOS, 6, beam_size=1), greedy)


@pytest.mark.parametrize("attention", ["none", "bahdanau"])
def test_scheduled_sampling(attention):
    torch.manual_seed(7)
    dec, state, memory, m = stack("gru", attention)
    dec.train()  # dropout is 0, so only the sampling can make a difference
    tokens = torch.randint(3, 8, (3, 8))
    forced = dec(tokens, state, memory, m)
    sampled = dec(tokens, state, memory, m, teacher_forcing=0.5)
    assert sampled.shape == forced.shape and not torch.allclose(sampled, forced)
    torch.testing.assert_close(sampled[:, 0], forced[:, 0])  # step 0 always reads BOS
    # With no teacher forcing the model reads its own argmax: the greedy tokens, as if they were gold.
    greedy = dec.greedy(state, memory, m, BOS, -1, 8)  # eos=-1: never stop
    free = dec(shifted(greedy), state, memory, m, teacher_forcing=0.0)
    torch.testing.assert_close(free, dec(shifted(greedy), state, memory, m))


@pytest.mark.parametrize("overrides,key", [  # ranges and choices: tests/run/test_schema.py
    ({"attention": "bahdanau"}, "memory_size"), ({"attention": "luong-dot", "memory_size": 6}, "hidden_size"),
    ({"input_feed": True}, "input_feed"),
])
def test_bad_values_name_the_config_key(overrides, key):
    with pytest.raises(ConfigError, match=f"task.decoder.{key}"):
        Decoder(8, **{"embedding_dim": 4, "hidden_size": 5, **overrides})


def test_learns_to_reverse_a_sequence():
    """Encoder(bigru) + Bahdanau decoder reverses 4-6 tokens over 5 symbols within a few hundred Adam steps."""
    torch.manual_seed(0)

    def batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lengths = torch.randint(4, 7, (n,), generator=gen)
        src = torch.randint(3, 8, (n, 6), generator=gen).masked_fill(~mask(lengths, 6), PAD)  # [n, 6]
        tgt = torch.full((n, 7), PAD)
        for i, length in enumerate(lengths.tolist()):
            tgt[i, :length] = src[i, :length].flip(0)
            tgt[i, length] = EOS
        return src, lengths, tgt

    enc = Encoder(8, cell="gru", embedding_dim=16, hidden_size=32, bidirectional=True)
    bridge = Bridge(64, 32, num_layers=1, cell="gru")
    dec = Decoder(8, cell="gru", embedding_dim=16, hidden_size=32, attention="bahdanau", memory_size=64)
    modules = nn.ModuleList([enc, bridge, dec])
    opt = torch.optim.Adam(modules.parameters(), lr=1e-2)
    train_gen = torch.Generator().manual_seed(1)
    src, lengths, tgt = batch(200, torch.Generator().manual_seed(2))  # held out

    def accuracy(search) -> float:
        modules.eval()
        with torch.no_grad():
            memory, _, state = enc(src, lengths)
            out = search(bridge(state), memory, mask(lengths, 6), BOS, EOS, 7)
        modules.train()
        return (F.pad(out, (0, 7 - out.size(1)), value=PAD) == tgt).all(1).float().mean().item()

    for step in range(1, 301):
        x, n, y = batch(64, train_gen)
        memory, _, state = enc(x, n)
        logits = dec(shifted(y), bridge(state), memory, mask(n, 6))
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 and accuracy(dec.greedy) >= 0.95:
            break
    assert accuracy(dec.greedy) >= 0.9
    assert accuracy(dec.beam_search) >= 0.9
