"""Sweeps through the real command line: an Optuna study in sqlite, jobs in parallel with joblib, an ensemble."""

import json
import subprocess

import optuna
import pytest
import yaml

from helpers import QUICK, read_metrics, run_module
from seqexp.evaluate import evaluate

BUDGET = ["trainer.max_epochs=1", "+trainer.limit_train_batches=5", "+trainer.limit_val_batches=3",
          "+trainer.limit_test_batches=3"]


def seqexp(*args: str, cwd) -> subprocess.CompletedProcess:
    return run_module("seqexp", *args, *QUICK, *BUDGET, cwd=cwd)


@pytest.mark.slow  # spawns processes
def test_optuna_search_writes_a_study_with_its_trials(tmp_path):
    sweep = tmp_path / "sweep"
    proc = seqexp("hparams_search=optuna", "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(study_name="seqexp", storage=f"sqlite:///{sweep}/optuna.db")
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(trials) == 3
    jobs = [read_metrics(sweep / str(t.number)) for t in trials]
    assert sorted(t.value for t in trials) == sorted(j["metrics"]["val/acc"] for j in jobs)
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(t.value for t in trials)
    assert set(best["best_params"]) == {"optimizer.lr", "model.hidden_size", "model.embedding_dropout",
                                        "data.batch_size"}
    assert "setup plugin" not in proc.stdout + proc.stderr  # alembic's INFO lines are kept quiet


@pytest.mark.slow  # spawns processes
def test_joblib_runs_jobs_in_parallel_processes_and_ensembles_them(tmp_path):
    """``ensemble=true``: at the end of the sweep its runs' best checkpoints are scored as one model, exactly as
    ``python -m seqexp.evaluate sweep=DIR`` scores them."""
    sweep = tmp_path / "sweep"
    proc = seqexp("-m", "model=rnn,gru", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "ensemble=true",
                  f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Joblib.Parallel" in proc.stdout + proc.stderr
    assert [read_metrics(sweep / job)["choices"]["model"] for job in "01"] == ["rnn", "gru"]
    written = json.loads((sweep / "ensemble-test.json").read_text())
    assert written["checkpoint"] == [str(sweep / job / read_metrics(sweep / job)["best_checkpoint"]) for job in "01"]
    assert written == evaluate([f"sweep={sweep}"])
    assert f"ensemble of 2 runs, test/acc={written['metrics']['test/acc']:.4f}" in proc.stdout + proc.stderr
