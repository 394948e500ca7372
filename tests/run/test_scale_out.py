"""Scale-out on the engines users already have: Lightning DDP (2 CPU processes over gloo here), Hydra's
submitit launcher, and Optuna workers sharing one study."""

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from helpers import finish, read_metrics
from helpers import start_seqexp as seqexp

SMALL = ["trainer.max_epochs=1", "+trainer.limit_train_batches=10", "model.hidden_size=16"]


@pytest.mark.slow  # spawns processes
def test_ddp_two_cpu_processes_one_run_dir_and_exact_metrics(tmp_path):
    """Span F1 over uneven shards (WNUT-17 test: 41 batches on 2 ranks) equals one process on the whole set. The
    ranks share one tokenized cache: rank 0 builds it, rank 1 maps it."""
    out = finish(seqexp(tmp_path, "task=ner", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
                        "output_root=runs", f"data.cache_dir={tmp_path}/cache", *SMALL))
    runs = [p.parent for p in (tmp_path / "runs").glob("**/.hydra")]
    assert len(runs) == 1, runs  # one run dir, not one per rank
    run = runs[0]
    assert list(run.glob("**/metrics.json")) == [run / "metrics.json"]
    assert (run / "train_ddp_process_1.log").is_file()  # rank 1 ran, in the same dir
    assert out.count("data cache built") == 1 and "data cache hit" in (run / "train_ddp_process_1.log").read_text()
    assert len([p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]) == 1
    assert out.count("example: input:") == 5  # shown once, by rank 0
    distributed = read_metrics(run)
    assert distributed["choices"]["trainer"] == "ddp"

    best = run / distributed["best_checkpoint"]
    single = subprocess.run([sys.executable, "-m", "seqexp.evaluate", f"ckpt={best}"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    whole = json.loads((run / "evaluate-test.json").read_text())["metrics"]
    test = {k: v for k, v in distributed["metrics"].items() if k.startswith("test/")}
    assert test.keys() == whole.keys() and "test/f1_person" in test
    assert test == pytest.approx(whole, rel=1e-5, abs=1e-6)


def test_ddp_in_a_local_multirun_is_refused(tmp_path):
    process = seqexp(tmp_path, "-m", "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
                     f"hydra.sweep.dir={tmp_path}/sweep")
    out, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "trainer=ddp cannot run inside a local multirun" in out and "Traceback" not in out


@pytest.mark.slow  # spawns processes
def test_submitit_local_launcher_runs_a_two_job_sweep(tmp_path):
    """And a rerun into the same sweep dir trains nothing again: each job finds its finished run."""
    command = ["-m", "hydra/launcher=submitit_local", "model=lstm,gru", f"hydra.sweep.dir={tmp_path}/sw", *SMALL]
    finish(seqexp(tmp_path, *command))
    models = sorted(read_metrics(tmp_path / "sw" / job)["choices"]["model"] for job in ("0", "1"))
    assert models == ["gru", "lstm"]
    written = [(tmp_path / "sw" / job / "metrics.json").stat().st_mtime_ns for job in ("0", "1")]
    finish(seqexp(tmp_path, *command))
    assert [(tmp_path / "sw" / job / "metrics.json").stat().st_mtime_ns for job in ("0", "1")] == written
    assert all("already finished" in (tmp_path / "sw" / job / "train.log").read_text() for job in ("0", "1"))


def test_slurm_launcher_config_has_the_cluster_knobs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "seqexp", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                          "--cfg", "hydra", "--package", "hydra.launcher"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120).stdout
    for line in ("partition: gpu", "gpus_per_node: 1", "timeout_min: 240", "mem_gb: 32",
                 "_target_: hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"):
        assert line in out, out


@pytest.mark.slow  # spawns processes
def test_two_optuna_workers_share_one_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    # as Optuna advises for distributed runs: create the study once, then start the workers
    subprocess.run([str(Path(sys.executable).parent / "optuna"), "create-study", "--storage", storage,
                    "--study-name", "shared", "--direction", "maximize"], check=True, capture_output=True)
    workers = [seqexp(tmp_path, "-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2",
                      f"hydra.sweeper.storage={storage}", "hydra.sweeper.study_name=shared",
                      f"hydra.sweeper.sampler.seed={worker}", f"hydra.sweep.dir={tmp_path}/worker{worker}",
                      "trainer.max_epochs=1", "+trainer.limit_train_batches=5")
               for worker in (1, 2)]
    for worker in workers:
        finish(worker)
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE and 0 <= t.value <= 1 for t in trials)
