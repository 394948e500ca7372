"""What seqexp.inspect draws: the encoder's units and gates per token, equal to what the encoder computes."""

import numpy as np
import pytest
import torch

from seqexp.run.build import build_data, build_model
from seqexp.tools.activations import activations, selective

TEXT = "What is the capital of France ?"


def model_of(make_cfg, *overrides: str):
    cfg = make_cfg(*overrides, "model.hidden_size=6", "model.char=none")
    return build_model(cfg, build_data(cfg)).eval()


@pytest.mark.parametrize(("model", "impl", "gates"), [
    ("bilstm", "cudnn", ["forget", "input", "output"]), ("gru", "scratch", ["update", "reset"]),
    ("mingru", "scratch", ["keep", "write"]), ("rnn", "cudnn", []),
])
def test_the_hidden_units_are_the_encoders_outputs_in_the_sentences_order(make_cfg, model, impl, gates):
    """The top layer's map is the encoder's output ``[T, D*H]`` transposed, both directions in the sentence's word
    order (the backward direction read it last word first), whichever ``impl`` trained the weights."""
    task = model_of(make_cfg, f"model={model}", f"model.impl={impl}", "model.num_layers=2")
    found = activations(task, TEXT)
    batch, words = task.batch_from_texts([TEXT])
    with torch.no_grad():
        outputs = task.encode(batch)[0][0]  # [T, D*H]
    assert found.words == words[0] == TEXT.split()
    assert len(found.maps) == 2 and list(found.maps[1]) == ["hidden", *gates]
    np.testing.assert_allclose(found.maps[1]["hidden"], outputs.T.numpy(), atol=1e-5)  # [D*H, T]
    directions = 2 if model.startswith("bi") else 1
    assert found.units[:2] == (["0", "1"] if directions == 1 else [">0", ">1"]) and len(found.units) == 6 * directions
    for name in gates:
        assert found.maps[0][name].shape == (6 * directions, len(words[0]))
        assert ((found.maps[0][name] >= 0) & (found.maps[0][name] <= 1)).all()
    assert task.training is False and task.encoder.impl == impl  # the probe's scratch copy is gone


def test_the_most_selective_units_come_first(make_cfg):
    task = model_of(make_cfg, "model=gru")
    sentences = [activations(task, TEXT), activations(task, "Who wrote Hamlet ?")]
    order = selective(sentences, 0, "hidden", 6)
    spread = np.concatenate([s.maps[0]["hidden"] for s in sentences], axis=1).std(axis=1)
    assert sorted(order) == list(range(6)) and list(spread[order]) == sorted(spread, reverse=True)
    assert selective(sentences, 0, "hidden", 2) == order[:2]
