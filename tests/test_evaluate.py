"""``python -m seqexp.evaluate``: a checkpoint re-scored on a split gives the metrics its run reported; several
checkpoints score as an ensemble."""

import json
import shutil
import subprocess
from functools import partial
from pathlib import Path

import pytest
import torch
import yaml

from helpers import read_metrics, run_module
from seqexp.errors import ConfigError
from seqexp.run.runs import checkpoint_paths, load_run

evaluate: "partial[subprocess.CompletedProcess]" = partial(run_module, "seqexp.evaluate", timeout=300)


@pytest.mark.parametrize("task", ["classify", "ner"])
def test_rescoring_the_best_checkpoint_reproduces_the_run(trained, task):
    run = trained(task)
    reported = read_metrics(run)
    proc = evaluate(f"ckpt={run / reported['best_checkpoint']}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["split"] == "test" and (run / "evaluate-test.json").is_file()
    assert result["metrics"] == pytest.approx({k: v for k, v in reported["metrics"].items() if k.startswith("test/")})


def test_val_split_matches_the_run_exactly(trained):
    run = trained("classify")
    reported = read_metrics(run)
    proc = evaluate(f"ckpt={run / reported['best_checkpoint']}", "split=val")
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = json.loads(proc.stdout)["metrics"]
    assert scores == pytest.approx({k: v for k, v in reported["metrics"].items() if k.startswith("val/")})


def test_other_test_file_and_errors(trained, tmp_path):
    run = trained("classify")
    ckpt = run / read_metrics(run)["best_checkpoint"]
    other = tmp_path / "other.label"
    other.write_text("HUM:ind Who wrote Hamlet ?\nNUM:count How many legs does a spider have ?\n")
    proc = evaluate(f"ckpt={ckpt}", f"data.test={other}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 0 <= json.loads(proc.stdout)["metrics"]["test/acc"] <= 1
    missing = evaluate(f"ckpt={tmp_path}/nope.ckpt")
    assert missing.returncode == 2 and f"ckpt: checkpoint not found: {tmp_path}/nope.ckpt" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_sweep_ensemble_of_the_best_checkpoints(trained, tmp_path):
    """``sweep=DIR`` joins each run's best checkpoint. A member with a zeroed output layer (and CRF potentials,
    which the ensemble averages too) halves every score: the predictions, so F1, stay those of the other member
    alone, and the loss (a flatter distribution) moves."""
    run = trained("ner")
    reported = read_metrics(run)
    best = reported["best_checkpoint"]
    for job in ("0", "1"):
        shutil.copytree(run, tmp_path / job)
    state = torch.load(tmp_path / "1" / best, weights_only=True)
    for key in ("out.weight", "out.bias", "crf.transitions", "crf.start", "crf.end"):
        state["state_dict"][key].zero_()
    torch.save(state, tmp_path / "1" / best)
    proc = evaluate(f"sweep={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["checkpoint"] == [str(tmp_path / "0" / best), str(tmp_path / "1" / best)]
    assert json.loads((tmp_path / "ensemble-test.json").read_text()) == result
    alone = {k: v for k, v in reported["metrics"].items() if k.startswith("test/")}
    assert {k: v for k, v in result["metrics"].items() if k != "test/loss"} == pytest.approx(
        {k: v for k, v in alone.items() if k != "test/loss"})
    assert result["metrics"]["test/loss"] != pytest.approx(alone["test/loss"])



def test_ensemble_errors(trained, tmp_path):
    run, classify = trained("ner"), trained("classify")
    with pytest.raises(ConfigError, match="an ensemble needs one head"):
        load_run([run / read_metrics(run)["best_checkpoint"], classify / read_metrics(classify)["best_checkpoint"]])
    for job in ("0", "1"):
        shutil.copytree(run, tmp_path / job)
    (tmp_path / "1" / "metrics.json").unlink()
    with pytest.raises(ConfigError, match=f"sweep: {tmp_path / '1'} has no metrics.json"):
        checkpoint_paths(sweep=str(tmp_path))
    with pytest.raises(ConfigError, match="not both"):
        checkpoint_paths("x.ckpt", str(tmp_path))


@pytest.mark.parametrize("fixture,ckpt", [("run-0.1.0", "epoch02.pt"), ("ner-crf-chars", "epoch07.pt")])
@pytest.mark.parametrize("split", ["test", "val"])
def test_fixed_checkpoints_score_as_they_did(tmp_path, fixture, ckpt, split):
    """tests/fixtures: run-0.1.0, written by seqexp 0.1.0, whose config and checkpoint name the modules of the flat
    layout (seqexp.encoders.Encoder, seqexp.callbacks...); ner-crf-chars, a BiLSTM-CRF with char-CNN written
    before the training step stopped waiting for the GPU (sync-free losses and metrics). Both score as they did."""
    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "fixtures" / fixture, run)
    proc = evaluate(f"ckpt={run / 'checkpoints' / ckpt}", f"split={split}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = json.loads((run / "expected.json").read_text())[split]
    scores = json.loads(proc.stdout)["metrics"]  # later versions score more (per-type precision and recall)
    assert {k: scores[k] for k in expected} == pytest.approx(expected, rel=1e-5, abs=2e-6)


@pytest.mark.parametrize(("where", "said"), [
    (("data",), "data._target_: os.system is not a seqexp.data.base.SeqDataModule"),
    (("data", "reader"), "data.reader._target_: os.system is not one of seqexp's readers"),
    (("task",), "task._target_: os.system is not a seqexp.tasks.base.SeqTask"),
])
def test_a_run_config_naming_a_foreign_target_is_refused_in_one_line(trained, tmp_path, where, said):
    """A run dir is data a user may be handed: its .hydra/config.yaml must not make evaluate call what it names."""
    run = trained("classify")
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    config = yaml.safe_load((copy / ".hydra" / "config.yaml").read_text())
    node = config
    for key in where:
        node = node[key]
    node["_target_"] = "os.system"
    node["command"] = f"touch {tmp_path / 'ran'}"
    (copy / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    proc = evaluate(f"ckpt={copy / read_metrics(run)['best_checkpoint']}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].endswith(said + (" (seqexp.data.*)" if "reader" in said else
                                                                  f": the {where[0]} config names one"))
    assert "Traceback" not in proc.stderr and not (tmp_path / "ran").exists()
