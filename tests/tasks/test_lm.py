"""The language model: exact perplexity, truncated BPTT, a left-to-right encoder, tied weights, sampling."""

import math
import random
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from seqexp.data.lm import LMDataModule
from seqexp.data.readers import read_text
from seqexp.data.vocab import SPECIALS
from seqexp.errors import ConfigError
from seqexp.tasks.lm import LanguageModel

ENCODER = {"_target_": "seqexp.models.encoder.Encoder", "cell": "lstm", "embedding_dim": 8, "hidden_size": 8,
           "embedding_dropout": 0.0}
OPTIMIZER = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.05}
VOCAB = [*SPECIALS, *"abcdefgh"]
TOKENIZER = {"tokenizer": "whitespace", "lowercase": True}


def language_model(vocab: list[str] = VOCAB, **kwargs) -> LanguageModel:
    encoder = {**ENCODER, **kwargs.pop("encoder", {})}
    return LanguageModel(encoder=encoder, vocab=vocab, optimizer=OPTIMIZER, tokenizer=TOKENIZER, **kwargs)


def batch(rows: list[str]) -> dict[str, torch.Tensor]:
    """Windows written as letters: tokens are all but the last letter, targets all but the first."""
    ids = torch.tensor([[VOCAB.index(c) for c in row] for row in rows])  # [B, T + 1]
    return {"tokens": ids[:, :-1], "targets": ids[:, 1:], "lengths": torch.full((len(rows),), ids.size(1) - 1)}


def test_perplexity_is_exp_of_the_mean_token_nll_over_the_split(tmp_path):
    """Through Lightning's validation loop, windows and carried state included, against one pass by hand."""
    random.seed(0)
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(random.choices("abcdefgh", k=random.randint(3, 12))) + "\n"
                            for _ in range(40)))
    data = LMDataModule(partial(read_text), train=str(path), val=str(path), batch_size=3, bptt=10)
    data.setup()
    columns = LMDataModule.batchify(data.streams["val"], 3)  # [B, C]
    assert (columns.size(1) - 1) % 10 != 0  # a shorter last window: a mean of batch means would be off
    torch.manual_seed(0)
    model = language_model(data.vocabs.vocab.itos, init_range=1.0)  # large weights: confident, uneven predictions
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    scores = trainer.validate(model, datamodule=data, verbose=False)[0]

    model.eval()
    with torch.no_grad():
        logits, _ = model(columns[:, :-1])  # the whole split in one pass from a zero state
        nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), columns[:, 1:].reshape(-1), reduction="none")
    assert scores["val/ppl"] == pytest.approx(math.exp(nll.sum().item() / nll.numel()), rel=1e-5)
    assert scores["val/loss"] == pytest.approx(math.log(scores["val/ppl"]), rel=1e-5)  # token-weighted too
    window_means = [chunk.mean().item() for chunk in nll.view(3, -1).split(10, dim=1)]
    assert math.exp(sum(window_means) / len(window_means)) != pytest.approx(scores["val/ppl"], rel=1e-4)


def test_state_is_carried_across_batches_and_reset_each_epoch():
    torch.manual_seed(0)
    model = language_model().eval()
    first, second = batch(["abcab", "bcabc"]), batch(["bcdef", "cdefg"])
    model.on_validation_epoch_start()
    model.step(first, "val")
    carried = model.step(second, "val")[1]
    fresh = model(second["tokens"])[0]
    assert not torch.allclose(carried, fresh, atol=1e-4)  # the second batch saw the first one's state
    both = model(torch.cat([first["tokens"], second["tokens"]], dim=1))[0]  # [B, 8, V]
    torch.testing.assert_close(carried, both[:, 4:])  # exactly as if the two windows were one
    assert model.states["train"] is None and model.states["test"] is None  # one state per stage
    model.on_validation_epoch_start()
    assert model.states["val"] is None
    torch.testing.assert_close(model.step(second, "val")[1], fresh)


def test_state_is_detached_between_batches():
    """Gradients stop at the window boundary: the second loss reaches no embedding of the first window."""
    torch.manual_seed(0)
    model = language_model(tie_weights=False, dropout=0.0)
    first, second = batch(["abab", "baba"]), batch(["cdcd", "dcdc"])  # disjoint words
    model.step(first, "train")[0].backward()  # frees the first window's graph
    state = model.states["train"]
    assert all(s.grad_fn is None and not s.requires_grad for s in state)
    model.zero_grad()
    model.step(second, "train")[0].backward()  # would fail (graph already freed) if attached
    grad = model.encoder.embedding.weight.grad
    assert torch.all(grad[[VOCAB.index("a"), VOCAB.index("b")]] == 0)
    assert torch.any(grad[[VOCAB.index("c"), VOCAB.index("d")]] != 0)
    model.on_train_epoch_start()
    assert model.states["train"] is None


def test_bidirectional_encoder_is_rejected():
    with pytest.raises(ConfigError, match="model.bidirectional"):
        language_model(encoder={"bidirectional": True})
    with pytest.raises(ConfigError, match="model.char"):
        language_model(encoder={"char": "cnn"})


def test_tied_weights_share_one_parameter():
    model = language_model()
    assert model.out.weight is model.encoder.embedding.weight and model.proj is None
    assert sum(p is model.out.weight for p in model.parameters()) == 1
    wider = language_model(encoder={"hidden_size": 12})  # outputs 12, embedding 8: projected to 8
    assert wider.out.weight is wider.encoder.embedding.weight
    assert (wider.proj.in_features, wider.proj.out_features) == (12, 8)
    assert wider(batch(["abc"])["tokens"])[0].shape == (1, 2, len(VOCAB))
    untied = language_model(encoder={"hidden_size": 12}, tie_weights=False)
    assert untied.out.weight is not untied.encoder.embedding.weight and untied.proj is None
    assert untied.out.in_features == 12
    bounded = language_model(init_range=0.05)
    assert all(p.abs().max() <= 0.05 for p in bounded.parameters())


def test_checkpoint_hyperparameters_rebuild_the_tied_model():
    torch.manual_seed(0)
    model = language_model(encoder={"hidden_size": 12}).eval()
    rebuilt = LanguageModel(**model.hparams)
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    assert rebuilt.out.weight is rebuilt.encoder.embedding.weight
    tokens = batch(["abcdefg"])["tokens"]
    torch.testing.assert_close(rebuilt(tokens)[0], model(tokens)[0])


def test_sampling_is_repeatable_and_top_k_1_is_greedy():
    torch.manual_seed(0)
    model = language_model(init_range=1.0)
    model.train()
    samples = {seed: model.sample("A b", max_tokens=12, temperature=2.0, seed=seed) for seed in range(5)}
    assert model.training  # sampling leaves the mode as it found it
    assert samples[0] == model.sample("A b", max_tokens=12, temperature=2.0, seed=0)
    assert len(set(samples.values())) > 1
    for text in samples.values():
        words = text.split()
        assert words[:2] == ["A", "b"] and len(words) <= 14  # the prompt as written, then drawn words
        assert all(w in VOCAB and w not in ("<pad>", "<bos>", "<eos>") for w in words[2:])
    assert samples[0].split()[2:] == model.sample("a b", max_tokens=12, temperature=2.0, seed=0).split()[2:]

    # greedy by hand: the whole sequence from scratch every step, the likeliest allowed word
    model.eval()
    ids, greedy = [VOCAB.index(w) for w in ("<eos>", "a", "b")], []
    with torch.no_grad():
        for _ in range(12):
            logits = model(torch.tensor([ids]))[0][0, -1]
            logits[[VOCAB.index("<pad>"), VOCAB.index("<bos>")]] = float("-inf")
            word = int(logits.argmax())
            if VOCAB[word] == "<eos>":
                break
            ids.append(word)
            greedy.append(VOCAB[word])
    expected = " ".join(["a", "b", *greedy])
    assert model.sample("a b", max_tokens=12, top_k=1) == expected
    assert model.sample("a b", max_tokens=12, top_k=1, temperature=5.0, seed=3) == expected
    with pytest.raises(ValueError, match="temperature"):
        model.sample("a", temperature=0.0)

    # python -m seqexp.predict: the task's sampling settings, seed 0 for every text
    greedy_model = language_model(init_range=1.0, top_k=1, max_tokens=12)
    greedy_model.load_state_dict(model.state_dict())
    assert greedy_model.predict(["a b", "A B"]) == [{"text": "a b", "continuation": " ".join(greedy)},
                                                    {"text": "A B", "continuation": " ".join(greedy)}]
    drawn = language_model(temperature=2.0, max_tokens=12)
    drawn.load_state_dict(model.state_dict())
    assert drawn.predict(["A b"])[0]["continuation"] == " ".join(samples[0].split()[2:])
