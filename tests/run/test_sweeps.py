"""Sweeps through the real command line: an Optuna study in sqlite, jobs in parallel with joblib, an ensemble."""

import json
import signal
import subprocess

import optuna
import pytest
import yaml

from helpers import QUICK, killed_after_saving, read_metrics, run_module
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

    again = seqexp("-m", "model=rnn,gru", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "ensemble=true",
                   f"hydra.sweep.dir={sweep}", cwd=tmp_path)  # the sweep dir is the key, not the process
    assert again.returncode == 0, again.stderr[-3000:]
    assert all(f"already finished: {sweep / job}" in again.stdout + again.stderr for job in "01")
    assert json.loads((sweep / "ensemble-test.json").read_text()) == written


@pytest.mark.slow  # a search killed in its third trial, then resumed: about 30 s
def test_a_killed_optuna_search_resumed_runs_only_the_trials_it_owes(tmp_path):
    """The rerun continues the interrupted trial in its own job dir from its last.ckpt, does not run the two
    completed trials again, and the study (and optimization_results.yaml) holds exactly three trials."""
    sweep = tmp_path / "sweep"
    command = ["hparams_search=optuna", "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={sweep}", *QUICK,
               "trainer.max_epochs=2", *BUDGET[1:], "callbacks.early_stopping=null"]
    killed = run_module("seqexp", *command, cwd=tmp_path, env=killed_after_saving(tmp_path, "2/checkpoints/last.ckpt"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    done = {job: (sweep / job / "metrics.json").stat().st_mtime_ns for job in "01"}

    proc = run_module("seqexp", *command, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "the sweep dir holds 3 of hydra.sweeper.n_trials=3 trials: 0 more to run" in out
    assert "trial 2 was interrupted: continuing it in job 2" in out
    assert {job: (sweep / job / "metrics.json").stat().st_mtime_ns for job in "01"} == done
    resumed = read_metrics(sweep / "2")
    assert resumed["resumed_from"] == str(sweep / "2" / "checkpoints" / "last.ckpt") and resumed["epochs"] == 2
    assert not (sweep / "3").exists()
    study = optuna.load_study(study_name="seqexp", storage=f"sqlite:///{sweep}/optuna.db")
    assert [(t.number, t.state) for t in study.trials] == [(n, optuna.trial.TrialState.COMPLETE) for n in range(3)]
    assert [t.value for t in study.trials] == [read_metrics(sweep / str(n))["metrics"]["val/acc"] for n in range(3)]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(t.value for t in study.trials)
