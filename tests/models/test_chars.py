"""The char encoder contract: shapes, padding invariance, zero padding words, CNN == manual conv+max, it learns."""

import pytest
import torch
import torch.nn.functional as F

from seqexp.errors import ConfigError
from seqexp.models.chars import CharEncoder

WORDS = [[[5, 6, 7], [8], [9, 10, 11, 12, 13]], [[14, 15], [], []]]  # sentence 2 has one word + 2 padding words


def pad_chars(sentences: list[list[list[int]]], width: int | None = None) -> torch.Tensor:
    """``[B, T, W]`` char ids, 0-padded inside words and with all-zero padding words."""
    steps = max(len(s) for s in sentences)
    width = width or max(len(w) for s in sentences for w in s)
    chars = torch.zeros(len(sentences), steps, width, dtype=torch.long)
    for b, sentence in enumerate(sentences):
        for t, word in enumerate(sentence):
            chars[b, t, : len(word)] = torch.tensor(word, dtype=torch.long)
    return chars


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_shapes_and_zero_padding_words(kind):
    enc = CharEncoder(kind, num_chars=20, char_dim=6, out_dim=8).eval()
    out = enc(pad_chars(WORDS))
    assert out.shape == (2, 3, 8) and enc.out_dim == 8
    assert torch.all(out[1, 1:] == 0) and torch.isfinite(out).all()
    assert torch.all(enc(torch.zeros(2, 3, 4, dtype=torch.long)) == 0)  # a batch of padding only


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_word_vector_ignores_padding_and_the_rest_of_the_batch(kind):
    torch.manual_seed(0)
    enc = CharEncoder(kind, num_chars=20, char_dim=6, out_dim=8, kernel_size=5).eval()
    out = enc(pad_chars(WORDS))
    for b, sentence in enumerate(WORDS):
        for t, word in enumerate(sentence):
            if word:
                alone = enc(pad_chars([[word]], width=len(word) + 3 * t))[0, 0]  # some extra char padding
                torch.testing.assert_close(out[b, t], alone, atol=1e-6, rtol=1e-6)


def test_cnn_is_a_conv_and_max_over_the_real_characters():
    torch.manual_seed(0)
    enc = CharEncoder("cnn", num_chars=20, char_dim=6, out_dim=8).eval()
    with torch.no_grad():
        enc.conv.bias.fill_(-5.0)  # padding positions would win the max with 0 - 5 > negative activations
    out = enc(pad_chars(WORDS))
    for b, sentence in enumerate(WORDS):
        for t, word in enumerate(sentence):
            if word:
                x = enc.embedding(torch.tensor(word)).T[None]  # [1, C, L]
                manual = F.conv1d(x, enc.conv.weight, enc.conv.bias, padding=1).amax(dim=2)[0]  # [out_dim]
                torch.testing.assert_close(out[b, t], manual)


@pytest.mark.parametrize("kind", ["cnn", "lstm"])
def test_learns_whether_a_word_contains_z(kind):
    torch.manual_seed(0)
    z = 1
    words = [torch.randint(2, 12, (int(n),)).tolist() for n in torch.randint(1, 7, (48,))]
    for i in range(0, 48, 2):
        words[i][int(torch.randint(len(words[i]), ()))] = z
    labels = torch.tensor([z in w for w in words], dtype=torch.float)  # [N]
    chars = pad_chars([words[i : i + 6] for i in range(0, 48, 6)])  # [8, 6, W]
    enc = CharEncoder(kind, num_chars=12, char_dim=8, out_dim=16)
    head = torch.nn.Linear(16, 1)
    optimizer = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=0.03)
    for _ in range(60):
        optimizer.zero_grad()
        logits = head(enc(chars)).view(-1)  # [N]
        F.binary_cross_entropy_with_logits(logits, labels).backward()
        optimizer.step()
    assert torch.equal((head(enc(chars)).view(-1) > 0).float(), labels)


@pytest.mark.parametrize("kind,kwargs,key", [  # ranges and choices: tests/run/test_schema.py
    ("lstm", {"out_dim": 25}, "model.char_out_dim"),
    ("cnn", {"kernel_size": 4}, "model.char_kernel_size"),
])
def test_bad_values_name_the_key(kind, kwargs, key):
    with pytest.raises(ConfigError, match=key):
        CharEncoder(kind, num_chars=20, **kwargs)
