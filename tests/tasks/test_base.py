"""Every head's bf16 autocast step computes the fp32 loss within bf16's precision, with and without character
features and the CRF. (That a step never waits for the device is tests/device_sim's.)"""

import pytest
import torch

from seqexp.data.batch import to_device
from seqexp.run.build import build_data, build_model, compose_config

HEADS = {  # name: overrides; tiny models on each head's bundled data
    "classify": ["task=classify"],
    "ner-crf-cnn": ["task=ner", "model=bilstm", "task.crf=true", "model.char=cnn"],
    "ner-lstm-chars": ["task=ner", "model=bilstm", "model.char=lstm", "task.lm_weight=0.1"],
    "pos": ["task=pos", "model=bigru"],
    "lm": ["task=lm", "model=lstm"],
    "seq2seq": ["task=seq2seq", "model=bigru"],
    "cond": ["task=cond", "model=gru"],
}
TINY = ["model.hidden_size=16", "model.embedding_dim=16", "model.char_dim=8", "model.char_out_dim=8",
        "data.max_size=300", "data.batch_size=8", "task.decoder.hidden_size=16", "task.decoder.embedding_dim=16"]


@pytest.fixture(scope="module", params=list(HEADS))
def head(request, tmp_path_factory):
    overrides = [*HEADS[request.param], *(o for o in TINY if "decoder" not in o or "seq2seq" in request.param)]
    cfg = compose_config(overrides, tmp_path_factory.mktemp(request.param))
    data = build_data(cfg)
    batches = [to_device(b, "cpu") for _, b in zip(range(2), data.train_dataloader(), strict=False)]
    return request.param, cfg, data, batches


def fresh(cfg, data):
    torch.manual_seed(0)
    return build_model(cfg, data)


def test_a_bf16_autocast_step_is_the_fp32_step_within_bf16_precision(head):
    name, cfg, data, batches = head
    losses = {}
    for precision in ("fp32", "bf16"):
        model = fresh(cfg, data).train()
        optimizer = model.configure_optimizers()
        optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
        losses[precision] = []
        for step, batch in enumerate(batches):
            torch.manual_seed(step)  # the same dropout masks in both runs
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = model.step(batch, "train")[0]
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses[precision].append(loss.item())
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.03), name  # bf16 keeps 8 bits of mantissa
