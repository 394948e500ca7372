"""Interrupts lose nothing: kill -9 a run mid-epoch, rerun the same command, get the uninterrupted result."""

import os
import signal
import subprocess
import sys
import time

import torch

from helpers import QUICK, read_metrics, run_seqexp

COMMAND = ["model=gru", "trainer.max_epochs=3", "+trainer.limit_train_batches=60", "callbacks.early_stopping=null"]


def test_killed_run_resumes_to_the_same_metrics(tmp_path):
    reference = tmp_path / "reference"
    assert run_seqexp(reference, *COMMAND).returncode == 0

    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "seqexp", f"hydra.run.dir={run}", *QUICK, *COMMAND],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    first = run / "checkpoints" / "epoch00.ckpt"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # into the second epoch
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert first.exists() and not (run / "metrics.json").exists()

    proc = run_seqexp(run, *COMMAND)  # the same command again: resume=auto finds the interrupted run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming the interrupted run" in proc.stdout + proc.stderr
    resumed, expected = read_metrics(run), read_metrics(reference)
    assert resumed["resumed_from"].endswith("last.ckpt")
    assert resumed["epochs"] == expected["epochs"] == 3
    assert resumed["metrics"] == expected["metrics"]


def test_resume_never_and_explicit_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert run_seqexp(run, "trainer.max_epochs=1", "+trainer.limit_train_batches=5").returncode == 0
    again = run_seqexp(tmp_path / "again", "trainer.max_epochs=1", "+trainer.limit_train_batches=5")
    assert "resuming" not in again.stdout + again.stderr  # the first run finished: nothing to resume
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
                                   "[1024, 100] there, [128, 100] here"),
    ):
        run = tmp_path / overrides[0].replace("=", "_")
        proc = run_seqexp(run, f"resume={ckpt}", *overrides, timeout=120)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 2 and expected in out and "Traceback" not in out, out[-2000:]
        assert not (run / "checkpoints").exists()  # rejected before training started
