"""End to end: every model config fits through the compose API; the command line trains, errors cleanly."""

import html
import json
import re
from pathlib import Path

import pytest

from helpers import read_metrics, run_seqexp
from seqexp.run.build import CONF
from seqexp.run.fit import train

MODELS = sorted(p.stem for p in (Path(CONF) / "model").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (Path(CONF) / "experiment").glob("*.yaml"))
CONLL = "-DOCSTART- -X- O O\n\n" + "".join(
    f"{w} NNP I-NP {t}\n" + ("\n" if i % 3 == 2 else "") for i, (w, t) in enumerate(
        [("EU", "I-ORG"), ("rejects", "O"), ("German", "I-MISC"), ("Peter", "I-PER"), ("Blackburn", "I-PER"),
         ("in", "O")] * 10))


def test_model_group_is_the_zoo():
    assert MODELS == ["bigru", "bilstm", "birnn", "gru", "indrnn", "lnlstm", "lstm", "mingru", "minlstm", "rnn"]


@pytest.mark.parametrize("model", MODELS)
def test_a_task_default_survives_the_model_choice(make_cfg, model):
    """conf/train.yaml composes task after model: model= picks the cell, direction and sizes it names, and the
    task's own model settings (NER's characters, hidden size and singleton dropout) hold whatever it is."""
    cfg, alone = make_cfg("task=ner", f"model={model}"), make_cfg(f"model={model}")
    assert (cfg.model.cell, cfg.model.bidirectional) == (alone.model.cell, alone.model.bidirectional)
    assert (cfg.model.char, cfg.model.hidden_size, cfg.model.singleton_dropout) == ("cnn", 100, 0.5)
    assert cfg.task.crf and cfg.scheduler.scheduler._target_.endswith("ReduceLROnPlateau")
    assert make_cfg("task=ner", f"model={model}", "model.hidden_size=7").model.hidden_size == 7  # the command line


@pytest.mark.parametrize("model", MODELS)
def test_one_batch_fit_for_every_model(make_cfg, tmp_path, model):
    cfg = make_cfg(f"model={model}", "+trainer.fast_dev_run=1")
    result = train(cfg)
    assert result["choices"]["model"] == model
    assert set(result["metrics"]) == {f"{s}/{m}" for s in ("val", "test") for m in ("acc", "f1", "loss")}
    assert all(0 <= result["metrics"][f"test/{m}"] <= 1 for m in ("acc", "f1"))
    assert json.loads((tmp_path / "metrics.json").read_text()) == result


@pytest.mark.parametrize("overrides,metrics", [
    (["task=ner", "task.crf=true", "model.char=cnn"], {"acc", "f1", "precision", "recall", "f1_location"}),
    (["task=ner", "model.char=lstm", "data.reader.output_scheme=bioes", "task.scheme=bioes"], {"f1", "f1_group"}),
    (["task=pos", "model=bigru"], {"acc", "loss"}),
    (["data.reader.fine=true", "task.pooling=attention"], {"acc", "f1"}),
])
def test_one_batch_fit_for_every_head(make_cfg, overrides, metrics):
    result = train(make_cfg(*overrides, "+trainer.fast_dev_run=1"))
    assert {f"test/{m}" for m in metrics} <= set(result["metrics"])


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_fits_one_batch(make_cfg, tmp_path, experiment):
    """Pinned experiments stay runnable; the CoNLL-2003 ones read a small file in the standard layout."""
    (tmp_path / "conll2003").mkdir()
    for name in ("eng.train", "eng.testa", "eng.testb"):
        (tmp_path / "conll2003" / name).write_text(CONLL)
    (tmp_path / "ptb").mkdir()
    for split in ("train", "valid", "test"):
        (tmp_path / "ptb" / f"ptb.{split}.txt").write_text(" the company said N <unk> shares rose \n" * 30)
    # ++data.download=null: the stand-in files above would (rightly) fail the real corpora's checksums
    files = "download" in make_cfg(f"experiment={experiment}").data  # generated data (the lab's) has none
    cfg = make_cfg(f"experiment={experiment}", f"data_dir={tmp_path}", *(["++data.download=null"] if files else []),
                   "+trainer.fast_dev_run=1")
    assert cfg.seed == 42
    assert train(cfg)["choices"]["experiment"] == experiment


def test_same_seed_same_metrics(make_cfg):
    quick = ("trainer.max_epochs=1", "+trainer.limit_train_batches=30", "model.impl=scratch", "seed=7")
    first, second = train(make_cfg(*quick)), train(make_cfg(*quick))
    assert first["metrics"] == second["metrics"]
    assert train(make_cfg(*quick[:-1], "seed=8"))["metrics"] != first["metrics"]


def test_console_is_clean(tmp_path):
    """No Lightning tips, no warnings, and no line printed twice (Hydra and Lightning both logging)."""
    proc = run_seqexp(tmp_path / "run", "trainer.max_epochs=1", "+trainer.limit_train_batches=5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "Tip" not in out and "Warning" not in out and "warn(" not in out, out
    lines = [line for line in out.splitlines() if line.startswith("[") and "example:" not in line]
    assert len(lines) == len(set(lines)), out


@pytest.mark.parametrize("command,expected,pictures", [
    (["model=bilstm", "task=ner", "model.word_dropout=0.1", "model.char=cnn", "model.char_dropout=0.5",
      "task.lm_weight=0.1", "data.bucket_pool=50", "task.crf=true", "trainer.precision=bf16-mixed"],
     {"test/f1", "test/precision", "test/recall", "test/f1_person", "test/recall_person"}, {"per_type"}),
    (["model=bigru", "task=pos", "task.lm_weight=0.1"], {"test/acc"}, set()),
    (["model=bigru", "task=seq2seq"], {"test/bleu", "test/chrf", "test/ppl"}, {"attention_0", "attention_2"}),
    (["model=lstm", "task=cond"], {"test/bleu", "test/ppl"}, set()),
])
def test_task_commands(tmp_path, command, expected, pictures):
    """The README's commands for each head, on a budget: a few batches through the real command line. Each run's
    page (report.html) has the learning curves, the head's own pictures and the rows the log showed."""
    run = tmp_path / "run"
    proc = run_seqexp(run, *command, "trainer.max_epochs=1", "+trainer.limit_train_batches=20",
                      "+trainer.limit_val_batches=10", "+trainer.limit_test_batches=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_metrics(run)
    assert expected <= set(result["metrics"])
    task = command[1].split("=")[1]
    assert result["choices"]["task"] == task
    out = proc.stdout + proc.stderr
    examples = [line.split("example: ", 1)[1] for line in out.splitlines() if "example: " in line]
    assert 0 < len(examples) <= 6  # up to task.examples rows, in the original words: never the <unk> of the vocabulary
    assert all("<unk>" not in example.split("  |  ")[0 if task != "seq2seq" else 1] for example in examples), examples
    assert f"done: task={task} data={result['choices']['data']} model={command[0].split('=')[1]} | " in out
    assert f"next: python -m seqexp.evaluate ckpt={run}/checkpoints/" in out
    page = (run / "report.html").read_text()
    drawn = set(re.findall(r'<img alt="([^"]+)"', page))
    assert drawn == {"learning_curves", *pictures} | ({"attention_1"} if task == "seq2seq" else set())
    shown = json.loads((run / "shown.json").read_text())
    assert len(shown) == len(examples) and all(html.escape(s["row"][next(iter(s["row"]))]) in page for s in shown)


def test_wnut17_recipe_trains_on_train_and_dev(tmp_path):
    """The pinned NER recipe reads two files as its training split and carves val from both; ``ensemble=true``
    without ``-m`` says that it made no ensemble."""
    run = tmp_path / "run"
    proc = run_seqexp(run, "experiment=ner_wnut17", "trainer.max_epochs=1", "+trainer.limit_train_batches=5",
                      "+trainer.limit_val_batches=2", "+trainer.limit_test_batches=2", "ensemble=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "data: train 3,963, val 440, test 1,287" in proc.stdout + proc.stderr  # 3,394 + 1,009 = 4,403
    assert "ensemble=true acts when a multirun (-m) ends: this single run made no ensemble" in proc.stdout + proc.stderr
    assert read_metrics(run)["choices"]["experiment"] == "ner_wnut17"


@pytest.mark.slow
def test_console_script_with_scratch_impl(tmp_path):
    """The ``seqexp`` console script takes the same arguments; the hand-written cells train too."""
    run = tmp_path / "run"
    proc = run_seqexp(run, "model=bigru", "model.impl=scratch", "trainer.max_epochs=2", script=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_metrics(run)["metrics"]["test/acc"] > 0.6


@pytest.mark.slow
def test_default_run_reaches_the_quality_bar(tmp_path):
    """The README's promise: the default experiment reaches >= 85% TREC-6 test accuracy."""
    run = tmp_path / "run"
    proc = run_seqexp(run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = read_metrics(run)
    assert result["metrics"]["test/acc"] >= 0.85, result
    assert result["choices"] == {"experiment": None, "hparams_search": None, "callbacks": "default",
                                 "logger": "csv", "trainer": "default", "model": "bilstm", "task": "classify",
                                 "data": "trec", "scheduler": None}
    assert (run / result["best_checkpoint"]).is_file()
    assert (run / "csv" / "metrics.csv").is_file() and (run / ".hydra" / "config.yaml").is_file()


def test_init_from_starts_where_the_checkpoint_ended(tmp_path):
    """``model.init_from``: a run that trains no epoch scores what the checkpoint it starts from scores; the
    head's weights come too when it is the same head over the same labels."""
    source = tmp_path / "source"
    budget = ["model.hidden_size=32", "+trainer.limit_val_batches=5", "+trainer.limit_test_batches=5"]
    assert run_seqexp(source, "trainer.max_epochs=1", "+trainer.limit_train_batches=20", *budget).returncode == 0
    run = tmp_path / "run"
    proc = run_seqexp(run, "trainer.max_epochs=0", f"model.init_from={source}/checkpoints/last.ckpt", *budget)
    assert proc.returncode == 0, proc.stderr[-3000:]
    taken = re.search(r"model.init_from: (\d+) of (\d+) tensors", proc.stdout + proc.stderr)
    assert taken and taken[1] == taken[2] and "the head's too" in proc.stdout + proc.stderr  # every tensor
    assert read_metrics(run)["metrics"] == read_metrics(source)["metrics"]


def test_compiled_steps_train_like_eager_ones(tmp_path):
    """``model.compile_step=true`` through the command line: the same run as eager steps, to compile's float
    tolerance (tests/models/test_cells.py checks one step; this checks a few training steps and the scores)."""
    quick = ("model.impl=scratch", "model.char=none", "trainer.max_epochs=1", "+trainer.limit_train_batches=5",
             "+trainer.limit_val_batches=2", "+trainer.limit_test_batches=2")
    results = {}
    for compiled in (False, True):
        run = tmp_path / f"compiled-{compiled}"
        proc = run_seqexp(run, *quick, f"model.compile_step={str(compiled).lower()}")
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[compiled] = read_metrics(run)["metrics"]
    assert results[True]["test/loss"] == pytest.approx(results[False]["test/loss"], rel=1e-3)
    assert results[True]["val/loss"] == pytest.approx(results[False]["val/loss"], rel=1e-3)
