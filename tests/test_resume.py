"""Interrupts lose nothing: kill -9 a run mid-epoch, rerun the same command, get the uninterrupted result."""

import os
import signal
import subprocess
import sys
import time

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
