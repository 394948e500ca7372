"""Interrupts lose nothing: kill -9 a run mid-epoch, or Ctrl-C it, rerun the same command, get the uninterrupted
result; Ctrl-C and SIGTERM stop at the end of a step with one line and exit code 130 / 143."""

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers import QUICK, killed_after_saving, read_metrics, run_module, run_seqexp
from seqexp.run.resume import config_digest, finished_run

COMMAND = ["model=gru", "trainer.max_epochs=3", "+trainer.limit_train_batches=60", "callbacks.early_stopping=null"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The metrics of COMMAND run without interruption."""
    run = tmp_path_factory.mktemp("reference") / "run"
    assert run_seqexp(run, *COMMAND).returncode == 0
    return read_metrics(run)


def start(run, *command: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seqexp", f"hydra.run.dir={run}", *QUICK, *command],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=run.parent)


def wait_for(path, process: subprocess.Popen) -> None:
    deadline = time.time() + 300
    while not path.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert path.exists(), process.communicate()[0][-3000:]


def test_killed_run_resumes_to_the_same_metrics(reference, tmp_path):
    run = tmp_path / "run"
    process = start(run, *COMMAND)
    wait_for(run / "checkpoints" / "epoch00.ckpt", process)
    time.sleep(0.5)  # into the second epoch
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert not (run / "metrics.json").exists()

    proc = run_seqexp(run, *COMMAND)  # the same command again: resume=auto finds the interrupted run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming the interrupted run" in proc.stdout + proc.stderr
    resumed = read_metrics(run)
    assert resumed["resumed_from"].endswith("last.ckpt")
    assert resumed["epochs"] == reference["epochs"] == 3
    assert resumed["metrics"] == reference["metrics"]


@pytest.mark.slow
def test_ctrl_c_saves_the_step_and_the_rerun_ends_as_if_never_stopped(reference, tmp_path):
    """Ctrl-C in the second epoch: the step finishes, last.ckpt is saved there, and the rerun trains the rest of
    that epoch (the train loader skips the batches already trained) to exactly the uninterrupted metrics."""
    run = tmp_path / "run"
    process = start(run, *COMMAND)
    wait_for(run / "checkpoints" / "epoch00.ckpt", process)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out = process.communicate(timeout=120)[0]
    stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    line = (f"interrupted (SIGINT) at epoch 1, step {stopped['global_step']}; {run}/checkpoints/last.ckpt saved; "
            "rerun the same command to resume")
    assert process.returncode == 130 and line in out and "Traceback" not in out, out[-3000:]
    assert 60 < stopped["global_step"] < 120  # mid-epoch

    proc = run_seqexp(run, *COMMAND)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resumable" not in proc.stdout + proc.stderr  # no warning from Lightning: the loader resumes
    assert read_metrics(run)["metrics"] == reference["metrics"]


def test_sigterm_stops_at_the_end_of_a_step_with_one_line(tmp_path):
    run = tmp_path / "run"
    process = start(run, "trainer.max_epochs=1", "+trainer.limit_train_batches=2000", "model.hidden_size=8",
                    "model.embedding_dim=8", "data.batch_size=2")
    for line in process.stdout:  # Lightning's model summary: training starts
        if " parameters (" in line:
            break
    time.sleep(1)
    process.terminate()
    out = process.communicate(timeout=120)[0]
    stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    line = (f"interrupted (SIGTERM) at epoch 0, step {stopped['global_step']}; {run}/checkpoints/last.ckpt saved; "
            "rerun the same command to resume")
    assert process.returncode == 143 and line in out and "Traceback" not in out, out[-3000:]
    assert stopped["global_step"] > 0 and not (run / "metrics.json").exists()


def test_resume_never_and_explicit_checkpoint(tmp_path):
    run, command = tmp_path / "run", ["trainer.max_epochs=1", "+trainer.limit_train_batches=5"]
    assert run_seqexp(run, *command).returncode == 0
    again = run_seqexp(tmp_path / "again", *command)
    assert "resuming" not in again.stdout + again.stderr  # the first run finished: nothing to resume
    files = [run / "metrics.json", run / "checkpoints" / "last.ckpt"]
    written = [path.stat().st_mtime_ns for path in files]
    same = run_seqexp(run, *command)  # into the same run dir: the finished run is the answer
    assert f"already finished: {run} (val/acc=" in same.stdout + same.stderr
    assert [path.stat().st_mtime_ns for path in files] == written  # resume=never would retrain: see below
    bad = run_seqexp(tmp_path / "bad", f"resume={tmp_path}/nope.ckpt")
    assert bad.returncode == 2 and f"resume: checkpoint not found: {tmp_path}/nope.ckpt" in bad.stdout + bad.stderr


SABOTAGE = '''
import os, torch
_save, saves = torch.save, []
def save(obj, f, *args, **kwargs):
    _save(obj, f, *args, **kwargs)
    if "last.ckpt" in str(getattr(f, "name", f)):
        saves.append(f)
        if len(saves) == 2:  # the second last.ckpt: cut it in half and die before the rename
            f.flush()
            f.truncate(f.tell() // 2)
            os._exit(9)
torch.save = save
'''


def test_a_kill_while_saving_leaves_the_previous_checkpoint_whole(tmp_path):
    """The process dies halfway through writing epoch 1's last.ckpt: epoch 0's is intact and resumes."""
    (tmp_path / "sabotage").mkdir()
    (tmp_path / "sabotage" / "sitecustomize.py").write_text(SABOTAGE)
    run, command = tmp_path / "run", ["trainer.max_epochs=2", "+trainer.limit_train_batches=10"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "sabotage")}
    killed = subprocess.run([sys.executable, "-m", "seqexp", f"hydra.run.dir={run}", *QUICK, *command],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0

    proc = run_seqexp(run, *command)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_metrics(run)["resumed_from"].endswith("last.ckpt") and read_metrics(run)["epochs"] == 2


def test_a_checkpoint_from_another_task_or_model_is_rejected_before_training(tmp_path):
    source = tmp_path / "classify"
    assert run_seqexp(source, "trainer.max_epochs=1", "+trainer.limit_train_batches=2").returncode == 0
    ckpt = source / "checkpoints" / "last.ckpt"
    for overrides, expected in (
        (["task=ner"], f"resume: {ckpt} was trained by seqexp.tasks.classify.Classifier, but this run's task is "
                       "seqexp.tasks.tag.Tagger"),
        (["model.hidden_size=32"], f"resume: {ckpt} does not fit this model: encoder.rnn.weight_ih_l0 is "
                                   "[512, 150] there, [128, 150] here"),
    ):
        run = tmp_path / overrides[0].replace("=", "_")
        proc = run_seqexp(run, f"resume={ckpt}", *overrides, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2 and expected in out and "Traceback" not in out, out[-2000:]
        assert not (run / "checkpoints").exists()  # rejected before training started


SWEEP = ["-m", "seed=1,2,3", "trainer.max_epochs=2", "+trainer.limit_train_batches=5", "+trainer.limit_val_batches=3",
         "+trainer.limit_test_batches=3", "callbacks.early_stopping=null", "model.hidden_size=32"]


@pytest.mark.slow  # three jobs, a rerun and a reference run: about 30 s
def test_a_sweep_killed_in_its_third_job_reruns_only_what_is_left(tmp_path):
    """Rerunning the same command into the same sweep dir: jobs 0 and 1 are not trained again (their
    metrics.json untouched), job 2 continues from its last.ckpt to the uninterrupted result, and the ensemble
    made when the sweep ends covers all three jobs."""
    sweep = tmp_path / "sweep"
    command = [*SWEEP, *QUICK, "ensemble=true", f"hydra.sweep.dir={sweep}"]
    killed = run_module("seqexp", *command, cwd=tmp_path, env=killed_after_saving(tmp_path, "2/checkpoints/last.ckpt"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert [(sweep / job / "metrics.json").is_file() for job in "012"] == [True, True, False]
    before = {job: ((sweep / job / "metrics.json").read_bytes(), (sweep / job / "metrics.json").stat().st_mtime_ns)
              for job in "01"}

    proc = run_module("seqexp", *command, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for job in "01":
        assert f"already finished: {sweep / job} (val/acc=" in out
        path = sweep / job / "metrics.json"
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before[job]
    resumed = read_metrics(sweep / "2")
    assert resumed["resumed_from"] == str(sweep / "2" / "checkpoints" / "last.ckpt")

    reference = tmp_path / "reference"
    assert run_seqexp(reference, *SWEEP[2:], "seed=3").returncode == 0
    assert resumed["epochs"] == read_metrics(reference)["epochs"] == 2
    assert resumed["metrics"] == read_metrics(reference)["metrics"]
    ensemble = json.loads((sweep / "ensemble-test.json").read_text())
    assert ensemble["checkpoint"] == [str(sweep / job / read_metrics(sweep / job)["best_checkpoint"]) for job in "012"]


def test_a_finished_run_counts_only_for_the_same_overrides_and_config(tmp_path, make_cfg, caplog):
    caplog.set_level(logging.INFO, logger="seqexp.run.resume")
    digest = config_digest(make_cfg("model=gru"))
    result = {"metrics": {"val/acc": 0.5}, "monitor": "val/acc", "overrides": ["model=gru", "hydra.job.num=0"],
              "config_digest": digest}
    (tmp_path / "metrics.json").write_text(json.dumps(result))
    assert finished_run("auto", tmp_path, ["model=gru", "resume=auto"], digest) == result  # hydra.*, resume aside
    assert "already finished" in caplog.text
    assert finished_run("never", tmp_path, ["model=gru"], digest) is None
    assert finished_run("auto", tmp_path, ["model=lstm"], digest) is None
    assert finished_run("auto", tmp_path, ["model=gru"], config_digest(make_cfg("model=gru", "seed=1"))) is None
    assert "holds a finished run of another command or config: training anew" in caplog.text
    assert config_digest(make_cfg("model=gru", "resume=never")) == digest
