"""The encoder contract: shapes for every configuration, cuDNN == scratch given the same weights, bad values."""

import itertools

import pytest
import torch

from seqexp.data.batch import collate, lengths_of
from seqexp.errors import ConfigError
from seqexp.models.encoder import Encoder
from seqexp.run.fit import train
from seqexp.tasks.base import mask

LENGTHS = torch.tensor([6, 2, 4])


def tokens(lengths: torch.Tensor, vocab: int = 30) -> torch.Tensor:
    x = torch.randint(4, vocab, (len(lengths), int(lengths.max())))
    return x.masked_fill(~mask(lengths, x.size(1)), 0)  # [B, T], 0 = pad


@pytest.mark.parametrize("cell,bidirectional,layers,impl", [
    (c, b, n, i) for c, b, n, i in itertools.product(("rnn", "gru", "lstm", "lnlstm"), (False, True), (1, 2),
                                                      ("cudnn", "scratch")) if not (c == "lnlstm" and i == "cudnn")])
def test_shapes_and_final_state(cell, bidirectional, layers, impl):
    enc = Encoder(30, cell=cell, embedding_dim=8, hidden_size=5, num_layers=layers, bidirectional=bidirectional,
                  impl=impl).eval()
    out, final, state = enc(tokens(LENGTHS), LENGTHS)
    d = 2 if bidirectional else 1
    assert out.shape == (3, 6, 5 * d) and final.shape == (3, 5 * d) and enc.output_size == 5 * d
    h = state[0] if isinstance(state, tuple) else state
    assert h.shape == (layers * d, 3, 5)
    assert isinstance(state, tuple) == (cell in ("lstm", "lnlstm"))
    assert torch.all(out[1, 2:] == 0)  # padding positions are zero
    # final = forward direction's output at the last real token (+ backward direction's output at t=0)
    last = out[torch.arange(3), LENGTHS - 1, :5]
    torch.testing.assert_close(final[:, :5], last)
    if bidirectional:
        torch.testing.assert_close(final[:, 5:], out[:, 0, 5:])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_scratch_equals_cudnn_through_the_encoder(cell):
    torch.manual_seed(0)
    cudnn = Encoder(30, cell=cell, embedding_dim=8, hidden_size=6, num_layers=2, bidirectional=True).eval()
    scratch = Encoder(30, cell=cell, embedding_dim=8, hidden_size=6, num_layers=2, bidirectional=True,
                      impl="scratch").eval()
    scratch.load_state_dict(cudnn.state_dict())
    x = tokens(LENGTHS)
    for a, b in zip(cudnn(x, LENGTHS)[:2], scratch(x, LENGTHS)[:2], strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_accepts_embeddings_instead_of_tokens():
    enc = Encoder(30, embedding_dim=8, hidden_size=5).eval()
    x = tokens(LENGTHS)
    torch.testing.assert_close(enc(enc.embedding(x), LENGTHS)[0], enc(x, LENGTHS)[0])


def test_pretrained_vectors_initialise_and_freeze():
    vectors = torch.randn(30, 8)
    enc = Encoder(30, embedding_dim=8, hidden_size=5, pretrained=vectors, freeze_embeddings=True)
    torch.testing.assert_close(enc.embedding.weight, vectors)
    assert not enc.embedding.weight.requires_grad
    assert Encoder(30, embedding_dim=8, pretrained=vectors).embedding.weight.requires_grad
    with pytest.raises(ConfigError, match="model.embedding_dim=16 but the vectors have 8"):
        Encoder(30, embedding_dim=16, pretrained=vectors)


@pytest.mark.parametrize("kwargs,message", [  # ranges and choices: tests/run/test_schema.py
    ({"cell": "transformer"}, "model.cell: unknown cell 'transformer'"),
    ({"cell": "lnlstm"}, "model.cell=lnlstm needs model.impl=scratch"),
    ({"compile_step": True}, "model.compile_step=true .* needs model.impl=scratch"),
])
def test_bad_cells_name_the_key(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Encoder(30, **kwargs)


def test_word_dropout_turns_real_tokens_into_unk_in_training_only():
    enc = Encoder(30, embedding_dim=4, hidden_size=3, word_dropout=0.3, unk_idx=1)
    tokens = torch.randint(2, 30, (200, 50))
    tokens[:, 40:] = 0  # padding
    torch.manual_seed(0)
    dropped = enc.train()._drop_words(tokens)
    changed = dropped != tokens
    assert (dropped[changed] == 1).all() and not changed[:, 40:].any()
    assert changed[:, :40].float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(enc.eval()._drop_words(tokens), tokens)


def test_singleton_dropout_hits_the_vocabulary_tail_and_adds_to_word_dropout():
    """Ids 20-29 are the 10 singletons (the vocabulary is most-frequent-first)."""
    enc = Encoder(30, embedding_dim=4, hidden_size=3, word_dropout=0.1, singleton_dropout=0.5, singletons=10,
                  unk_idx=1)
    tokens = torch.randint(2, 30, (400, 50))
    torch.manual_seed(0)
    changed = enc.train()._drop_words(tokens) != tokens
    rare = tokens >= 20
    assert changed[rare].float().mean().item() == pytest.approx(1 - 0.9 * 0.5, abs=0.01)
    assert changed[~rare].float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert torch.equal(enc.eval()._drop_words(tokens), tokens)


def test_char_dropout_reaches_the_character_encoder():
    enc = Encoder(30, embedding_dim=4, hidden_size=3, char="cnn", num_chars=10, char_dropout=0.5)
    chars = torch.randint(1, 10, (2, 3, 4))  # [B, T, W]
    torch.manual_seed(0)
    trained, evaluated = enc.train().chars(chars), enc.eval().chars(chars)
    assert not torch.allclose(trained, evaluated) and torch.equal(enc.chars(chars), evaluated)


@pytest.mark.parametrize(("task", "cell"), [("lm", "mingru"), ("cond", "minlstm"), ("ner", "indrnn")])
def test_the_lab_cells_fit_one_batch_of_the_tasks_that_carry_bridge_or_tag(make_cfg, task, cell):
    """The LM carries a scanned state across windows and samples one step at a time; cond bridges a vector into the
    first state and generates step by step; ner runs bidirectional, under a CRF, with characters."""
    result = train(make_cfg(f"task={task}", f"model.cell={cell}", "model.impl=scratch", "model.hidden_size=8",
                            "+trainer.fast_dev_run=1"))
    assert result["metrics"]


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_full_batch_runs_unpacked_with_the_packed_numbers(cell):
    """The adding and copy tasks' batches fill their window: the fused RNN gets the plain tensor (a packed GRU step
    is about 2x slower on the CPU), and outputs, final state and gradients are those of packing."""
    torch.manual_seed(0)
    enc = Encoder(30, cell=cell, embedding_dim=8, hidden_size=6, num_layers=2, bidirectional=True)
    batch = collate([{"tokens": torch.randint(4, 30, (7,))} for _ in range(5)])
    seen = []
    enc.rnn.register_forward_pre_hook(lambda module, args: seen.append(type(args[0]).__name__))
    runs = []
    for lengths in (lengths_of(batch), batch["lengths"]):  # collated: unpacked; a plain tensor: packed as torch does
        torch.manual_seed(1)  # the same dropout masks
        out, final, _ = enc(batch["tokens"], lengths)
        runs.append((out, final, torch.autograd.grad(out.square().sum(), enc.embedding.weight)[0]))
    assert seen == ["Tensor", "PackedSequence"]
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-5, atol=1e-6)
