"""On a GPU: every head's training step runs without a single host-device synchronisation (torch's sync debug
mode turns one into an error): step, metric and epoch-loss updates, backward, clipping, the optimizer step."""

import pytest
import torch

from seqexp.data.batch import to_device
from seqexp.run.build import build_data, build_model, compose_config

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

HEADS = {
    "classify": ["task=classify", "model=bilstm"],
    "ner-crf-cnn": ["task=ner", "model=bilstm", "task.crf=true", "model.char=cnn", "task.lm_weight=0.1"],
    "ner-lstm-chars": ["task=ner", "model=bilstm", "model.char=lstm"],
    "pos": ["task=pos", "model=bigru"],
    "lm": ["task=lm", "model=lstm"],
    "seq2seq": ["task=seq2seq", "model=bigru"],
    "cond": ["task=cond", "model=gru"],
    "scratch": ["task=classify", "model=lstm", "model.impl=scratch"],
}


@pytest.mark.parametrize("name", list(HEADS))
def test_a_training_step_never_waits_for_the_gpu(name, tmp_path):
    cfg = compose_config([*HEADS[name], "data.max_size=2000"], tmp_path)
    data = build_data(cfg)
    model = build_model(cfg, data).cuda().train()
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    batches = [to_device(b, "cuda") for _, b in zip(range(3), data.train_dataloader(), strict=False)]

    def train_step(batch) -> None:
        loss, preds, targets = model.step(batch, "train")
        model.update_metrics(model.metrics["train_metrics"], preds, targets, batch)
        model.losses["train_loss"].update(loss, model.loss_weight(batch, targets))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    train_step(batches[0])  # warm-up: first-use allocations and cuDNN plans
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for batch in batches[1:]:
            train_step(batch)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(model.losses["train_loss"].compute())
