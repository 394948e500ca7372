"""One run: fit (or continue an interrupted fit), score the best checkpoint on val and test, write metrics.json;
or, when the run dir already holds this command's finished run, return what it recorded."""

import logging
import os
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from seqexp import interrupts
from seqexp.errors import ConfigError
from seqexp.run import page
from seqexp.run.build import build_data, build_model, build_trainer, instances, plain_dict
from seqexp.run.loggers import log_figures
from seqexp.run.resume import check_resumable, checkpoint_to_resume, config_digest, finished_run
from seqexp.run.rundir import RunDir
from seqexp.run.runs import check_paths, write_json
from seqexp.run.schema import check_config
from seqexp.tasks.metrics import headline

log = logging.getLogger("seqexp.train")


def train(cfg: DictConfig) -> dict:
    """Fit (or continue an interrupted fit), score the best checkpoint on val and test, write metrics.json."""
    start = time.time()
    interrupts.enter("reading the config")
    check_config(cfg)
    hydra = HydraConfig.get()
    output_dir, overrides, digest = Path(hydra.runtime.output_dir), list(hydra.overrides.task), config_digest(cfg)
    done = finished_run(cfg.resume, output_dir, overrides, digest)
    if done is not None:
        return done
    check_paths(cfg, output_dir)
    _check_ddp(cfg, hydra)
    torch.set_num_threads(threads(cfg.get("threads"), hydra, torch.get_num_threads()))
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    ckpt = checkpoint_to_resume(cfg.resume, cfg.output_root, overrides, output_dir)
    interrupts.enter("reading the data")
    data = build_data(cfg)
    interrupts.enter("building the model")
    model = build_model(cfg, data)
    if ckpt:
        check_resumable(ckpt, model, cfg.task._target_)
    loggers = _loggers(cfg, ckpt, output_dir)
    trainer = build_trainer(cfg, logger=loggers)
    for lg in loggers:
        lg.log_hyperparams(plain_dict(cfg))
    try:
        interrupts.enter("training", "the last checkpoint saved stays; rerun the same command to resume from it")
        trainer.fit(model, datamodule=data, ckpt_path=ckpt, weights_only=True)
        best = _inside(trainer.checkpoint_callback.best_model_path, output_dir)
        metrics, runs = {}, [trainer.validate, trainer.test]
        if "test" not in data.datasets:
            log.info("no test split (data.test, or data.test_fraction to carve one): scoring val only")
            runs.pop()
        interrupts.enter("testing the best checkpoint", "training had finished; rerun the same command to test the run")
        for run in runs:
            metrics.update(run(model, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)[0])
        result = {
            "metrics": {k: round(float(v), 6) for k, v in sorted(metrics.items())},
            "directions": {k: way for k in sorted(metrics) if (way := model.direction(k))},  # max | min: report
            "monitor": cfg.monitor,
            "best_checkpoint": str(Path(best).relative_to(output_dir)) if best else None,
            "resumed_from": str(ckpt) if ckpt else None,
            "epochs": trainer.current_epoch,
            "seconds": round(time.time() - start, 1),
            "choices": {k: v for k, v in hydra.runtime.choices.items() if not k.startswith("hydra")},
            "overrides": overrides,
            "config_digest": digest,  # with the overrides, what a rerun into this dir compares (run/resume.py)
            "seed": cfg.seed,
        }
        if not trainer.is_global_zero:  # DDP: rank 0 writes the run's files
            return result
        interrupts.enter("drawing the run page", "training had finished; rerun the same command to test the run")
        run_dir = RunDir(output_dir)
        page.record(run_dir, model)
        log_figures(loggers, page.write(run_dir, result).figures, trainer.global_step)
    finally:
        _finish_wandb(loggers)
    interrupts.enter("writing metrics.json", "training had finished; rerun the same command to test the run")
    write_json(run_dir.metrics, result)
    _summarise(result, output_dir)
    return result


def _summarise(result: dict, run: Path) -> None:
    """The run in two lines a person reads without scrolling: what ran, the monitored val score, the test
    scores (per-type ones are in metrics.json), time, and what to do with the best checkpoint."""
    metrics, choices = result["metrics"], result["choices"]
    test = "  ".join(f"{k.removeprefix('test/')} {v:.4f}" for k, v in metrics.items()
                     if headline(k, ("test",)))
    minutes, seconds = divmod(round(result["seconds"]), 60)
    best = run / result["best_checkpoint"] if result["best_checkpoint"] else RunDir(run).last
    log.info("done: task=%s data=%s model=%s | %s %.4f | test %s | %d epochs, %d min %02d s | %s",
             choices.get("task"), choices.get("data"), choices.get("model"), result["monitor"],
             metrics.get(result["monitor"], float("nan")), test or "-", result["epochs"], minutes, seconds, run)
    log.info("next: python -m seqexp.evaluate ckpt=%s  |  python -m seqexp.predict ckpt=%s input=FILE", best, best)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads(wanted: int | None, hydra, current: int) -> int:
    """``threads=``, or torch's own count (``current``: every core, or OMP_NUM_THREADS); in a sweep whose launcher
    runs N jobs at once, at most each job's share of the cores: N processes each spinning one OpenMP thread per
    core stall each other many times over."""
    if wanted is not None:  # a positive integer (run.schema)
        return wanted
    cores = usable_cores()
    parallel = hydra.launcher.get("n_jobs") if hydra.mode == RunMode.MULTIRUN else None
    if isinstance(parallel, int) and parallel < 0:  # joblib's -1: as many jobs as cores, -2: one fewer ...
        parallel = max(1, cores + 1 + parallel)
    if not isinstance(parallel, int) or parallel < 2 or cores // parallel >= current:
        return current
    share = max(1, cores // parallel)
    log.info("threads: %d (%d cores shared by %d parallel jobs; threads= to choose)", share, cores, parallel)
    return share


def _inside(best: str, output_dir: Path) -> str | None:
    """The best checkpoint's path in this run dir: a run dir moved or copied since (then resumed) still names
    the old place in its checkpoints, and the file is now here."""
    if not best or Path(best).resolve().is_relative_to(output_dir.resolve()):
        return best or None
    moved = RunDir(output_dir).checkpoints / Path(best).name
    return str(moved) if moved.is_file() else None


def _check_ddp(cfg: DictConfig, hydra) -> None:
    """Lightning starts DDP processes by rerunning the command line: inside a local multirun that would rerun
    the whole sweep. On SLURM (hydra/launcher=slurm) srun starts the processes and each job is one run."""
    ddp = "ddp" in str(cfg.trainer.get("strategy") or "")
    if ddp and hydra.mode == RunMode.MULTIRUN and "SlurmLauncher" not in hydra.launcher._target_:
        raise ConfigError("trainer=ddp cannot run inside a local multirun (DDP reruns the command line, which "
                          "would rerun the sweep): run each configuration as its own command, or sweep on SLURM "
                          "with hydra/launcher=slurm")


def _loggers(cfg: DictConfig, ckpt: Path | None, output_dir: Path) -> list:
    """The configured loggers; a resumed run keeps its W&B run id, saved beside the checkpoints."""
    group = cfg.get("logger")
    if group and group.get("wandb") and ckpt and RunDir.of(ckpt).wandb_id.is_file():
        with open_dict(cfg):
            cfg.logger.wandb.id = RunDir.of(ckpt).wandb_id.read_text().strip()
    loggers = instances(group)
    for lg in loggers:
        if isinstance(lg, WandbLogger) and rank_zero_only.rank == 0:
            RunDir(output_dir).checkpoints.mkdir(exist_ok=True)
            RunDir(output_dir).wandb_id.write_text(lg.experiment.id)
    return loggers


def _finish_wandb(loggers: list) -> None:
    """Close the W&B run, or the next job of a multirun would log into this one."""
    if any(isinstance(lg, WandbLogger) for lg in loggers):
        import wandb

        wandb.finish()
