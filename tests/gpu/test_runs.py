"""On a GPU: every task runs through `python -m seqexp trainer=gpu`, with mixed precision too; a run killed and
resumed ends where one never stopped ends; DDP with two processes where there are two GPUs."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from helpers import GPU, QUICK, read_metrics, run_seqexp

pytestmark = GPU

BUDGET = ["trainer.max_epochs=1", "+trainer.limit_train_batches=30", "+trainer.limit_val_batches=10",
          "+trainer.limit_test_batches=10"]
TASKS = {
    "classify": ["task=classify"],
    "ner": ["task=ner", "trainer.precision=bf16-mixed"],
    "ner-16-mixed": ["task=ner", "model.char=lstm", "trainer.precision=16-mixed"],
    "pos": ["task=pos"],
    "lm": ["task=lm"],
    "seq2seq": ["task=seq2seq", "trainer.precision=bf16-mixed"],
    "cond": ["task=cond"],
}


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_trains_on_the_gpu(tmp_path, name):
    run = tmp_path / "run"
    proc = run_seqexp(run, "trainer=gpu", *TASKS[name], *BUDGET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = read_metrics(run)["metrics"]
    assert metrics and all(math.isfinite(v) for v in metrics.values()), metrics


def test_a_killed_gpu_run_resumes_to_the_same_metrics(tmp_path):
    command = ["trainer=gpu", "trainer.benchmark=false", "trainer.deterministic=true", "model=gru",
               "trainer.max_epochs=3", "+trainer.limit_train_batches=60", "callbacks.early_stopping=null"]
    env = {**os.environ, "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}  # deterministic cuBLAS
    reference = tmp_path / "reference"
    assert run_seqexp(reference, *command).returncode == 0
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "seqexp", f"hydra.run.dir={run}", *QUICK, *command],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env)
    first = run / "checkpoints" / "epoch00.ckpt"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # into the second epoch
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert first.exists() and not (run / "metrics.json").exists()
    proc = run_seqexp(run, *command)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_metrics(run)["metrics"] == pytest.approx(read_metrics(reference)["metrics"], rel=1e-5, abs=1e-6)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DDP with two processes needs two GPUs")
def test_ddp_on_two_gpus_scores_as_one_process(tmp_path):
    run = tmp_path / "run"
    proc = run_seqexp(run, "task=ner", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=gpu", *BUDGET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run / "metrics.json").is_file() and (run / "train_ddp_process_1.log").is_file()
    distributed = read_metrics(run)  # scored over two shards: equal to one process scoring the whole test set
    single = subprocess.run([sys.executable, "-m", "seqexp.evaluate", f"ckpt={run / distributed['best_checkpoint']}"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    whole = json.loads((run / "evaluate-test.json").read_text())["metrics"]
    test = {k: v for k, v in distributed["metrics"].items() if k.startswith("test/")}
    assert test.keys() == whole.keys() and "test/f1_person" in test
    assert test == pytest.approx(whole, rel=1e-5, abs=1e-6)
