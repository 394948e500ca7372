"""task=copy end to end: a tiny run scores the recalled symbols and writes the gradient flow."""

import logging

import pytest

from helpers import QUICK, read_metrics, run_module
from seqexp.run.build import build_data, build_model
from seqexp.run.fit import train


def test_a_tiny_run_writes_metrics_and_grad_flow(make_cfg, tmp_path, caplog):
    cfg = make_cfg("task=copy", "model=rnn", "model.impl=scratch", "data.length=5", "data.symbols=3",
                   "data.alphabet=4", "data.train_size=128", "data.val_size=32", "data.test_size=32",
                   "model.hidden_size=8", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
                   "callbacks.grad_flow.every_n_steps=1")
    with caplog.at_level(logging.INFO, logger="seqexp.tasks.copy"):
        result = train(cfg)
    assert 0 <= result["metrics"]["test/acc"] <= 1 and result["monitor"] == "val/acc"
    assert "memoryless baseline: acc 0.2500, loss 1.3863" in caplog.text
    assert (tmp_path / "grad_flow.png").is_file() and (tmp_path / "metrics.json").is_file()
    assert len((tmp_path / "grad_flow.csv").read_text().splitlines()) == 1 + 2 * (3 + 5 + 1 + 3)


def test_the_model_writes_after_the_delimiter_only(make_cfg, tmp_path):
    cfg = make_cfg("task=copy", "data.length=5", "data.symbols=3", "data.train_size=8", "data.val_size=8",
                   "data.test_size=8", "model.hidden_size=8")
    data = build_data(cfg)
    model = build_model(cfg, data)
    batch = data.collate(data.datasets["train"][:4])
    assert model(batch).shape == (4, 3, 8)  # [B, S, alphabet]


@pytest.mark.parametrize("choice", [["model=indrnn", "model.init=identity"],
                                    ["model=lstm", "model.init=chrono", "model.init_tmax=11"],
                                    ["model=rnn", "model.nonlinearity=relu", "model.init=identity"],
                                    ["model=minlstm", "model.init=chrono", "model.init_tmax=11"]])
def test_the_lab_cells_and_inits_run_from_the_command_line(tmp_path, choice):
    proc = run_module("seqexp", "task=copy", *choice, "data.length=5", "data.symbols=3", "data.train_size=64",
                      "data.val_size=16", "data.test_size=16", "model.hidden_size=8", "trainer.max_epochs=1",
                      "callbacks.grad_flow.every_n_steps=1", f"hydra.run.dir={tmp_path}", *QUICK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 0 <= read_metrics(tmp_path)["metrics"]["test/acc"] <= 1
    assert (tmp_path / "grad_flow.csv").is_file()
