"""Sweeps through a real SLURM cluster (slurmctld and slurmd on localhost, tests/cluster/local_slurm.sh) with
``hydra/launcher=slurm``: submitit submits one job per run, SLURM runs them, a job requeued mid-training saves,
is requeued and resumes to the metrics of an uninterrupted run, and a rerun of the sweep trains nothing again."""

import os
import subprocess
from pathlib import Path

import pytest

from helpers import QUICK, read_metrics, run_module, run_seqexp

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TRAIN = ["trainer.max_epochs=2", "+trainer.limit_train_batches=20", "model.hidden_size=16", "threads=1",
         "callbacks.early_stopping=null"]
# what a cluster needs said: the partition, and what each job asks for (no GPU on this one)
SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=20"]

REQUEUE_AFTER_SAVE = '''
import os, subprocess, time
_replace = os.replace
def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if str(dst).endswith({end!r}) and not os.path.exists({flag!r}):
        open({flag!r}, "w").close()
        subprocess.run(["scontrol", "requeue", os.environ["SLURM_JOB_ID"]], check=True)
        time.sleep(10)  # SLURM's SIGTERM arrives meanwhile; training goes on to the end of the next step
os.replace = replace
'''


def requeued_after_saving(tmp_path: Path, end: str) -> dict:
    """An environment in which the SLURM job that first writes a file ending with ``end`` (its first epoch's
    ``last.ckpt``) has SLURM requeue it, once, as a preemption with requeue would: an interrupt mid-training at
    an exact point."""
    (tmp_path / "sabotage").mkdir()
    hook = REQUEUE_AFTER_SAVE.format(end=end, flag=str(tmp_path / "sabotage" / "requeued"))
    (tmp_path / "sabotage" / "sitecustomize.py").write_text(hook)
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path / "sabotage"), os.environ.get("PYTHONPATH", "")])}


def sweep(tmp_path: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = run_module("seqexp", "-m", *SLURM, "model=lstm,gru", f"hydra.sweep.dir={tmp_path}/sw", *TRAIN, *QUICK,
                      cwd=tmp_path, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def job_log(run: Path) -> str:
    """What SLURM's job wrote (submitit's stdout and stderr files of every attempt), for failure messages."""
    return "\n".join(p.read_text()[-2000:] for p in sorted((run.parent / ".submitit").glob("*/*_log.*")))


def test_a_sweep_runs_through_slurm_survives_a_requeue_and_reruns_nothing(slurm, tmp_path):
    sweep(tmp_path, env=requeued_after_saving(tmp_path, "/sw/0/checkpoints/last.ckpt"))
    jobs = {read_metrics(tmp_path / "sw" / job)["choices"]["model"]: tmp_path / "sw" / job for job in ("0", "1")}
    assert sorted(jobs) == ["gru", "lstm"]
    # each was a SLURM job of its own, run by slurmd (submitit's files per job id)
    assert len({p.parent.name for p in (tmp_path / "sw" / ".submitit").glob("*/*_submitted.pkl")}) == 2

    requeued, plain = read_metrics(jobs["lstm"]), read_metrics(jobs["gru"])
    log = (jobs["lstm"] / "train.log").read_text()
    assert "interrupted (SIGTERM) at epoch 1" in log, job_log(jobs["lstm"])  # saved at the step SLURM stopped
    assert requeued["resumed_from"] == str(jobs["lstm"] / "checkpoints" / "last.ckpt")
    assert plain["resumed_from"] is None
    reference = read_metrics(uninterrupted(tmp_path, "model=lstm"))
    assert requeued["epochs"] == reference["epochs"] == 2
    assert requeued["metrics"] == reference["metrics"]

    written = [(run / "metrics.json").stat().st_mtime_ns for run in jobs.values()]
    sweep(tmp_path)
    assert [(run / "metrics.json").stat().st_mtime_ns for run in jobs.values()] == written
    assert all("already finished" in (run / "train.log").read_text() for run in jobs.values())

    report = run_module("seqexp.report", str(tmp_path / "sw"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    table = (tmp_path / "sw" / "report.md").read_text()
    assert f"{requeued['metrics']['val/acc']:.4f}" in table and f"{plain['metrics']['val/acc']:.4f}" in table


def uninterrupted(tmp_path: Path, *overrides: str) -> Path:
    """The same run, on this machine, never stopped."""
    run = tmp_path / "reference"
    proc = run_seqexp(run, *overrides, *TRAIN)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run
