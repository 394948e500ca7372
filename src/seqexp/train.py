"""``python -m seqexp``: compose the config, train, test the best checkpoint, write metrics.json."""

import json
import logging
import os
import time
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.loggers import WandbLogger
from pytorch_lightning.utilities import rank_zero_only

from seqexp.errors import ConfigError, exit_on_user_error
from seqexp.resume import check_fits, checkpoint_to_resume

log = logging.getLogger(__name__)
CONF = str(Path(__file__).resolve().parents[2] / "conf")


def train(cfg: DictConfig) -> dict:
    """Fit (or continue an interrupted fit), score the best checkpoint on val and test, write metrics.json."""
    start = time.time()
    hydra = HydraConfig.get()
    output_dir = Path(hydra.runtime.output_dir)
    _check_paths(cfg, output_dir)
    _check_ddp(cfg, hydra)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    ckpt = checkpoint_to_resume(cfg.resume, cfg.output_root, list(hydra.overrides.task), output_dir)
    data = instantiate(cfg.data, seed=cfg.seed, chars=cfg.model.get("char", "none") != "none")
    data.prepare_data()
    data.setup("fit")
    # not recursive: the head builds its encoder and optimizer itself, from plain dicts it saves in checkpoints
    model = instantiate(cfg.task, encoder=plain_dict(cfg.model), optimizer=plain_dict(cfg.optimizer),
                        scheduler=plain_dict(cfg.scheduler), pretrained=data.vectors, **data.model_args(),
                        _recursive_=False, _convert_="all")
    if ckpt:
        check_fits(ckpt, model, cfg.task._target_)
    loggers = _loggers(cfg, ckpt, output_dir)
    trainer = instantiate(cfg.trainer, callbacks=_instances(cfg.get("callbacks")), logger=loggers)
    for lg in loggers:
        lg.log_hyperparams(plain_dict(cfg))
    try:
        trainer.fit(model, datamodule=data, ckpt_path=ckpt, weights_only=True)
        best = trainer.checkpoint_callback.best_model_path or None
        metrics, runs = {}, [trainer.validate, trainer.test]
        if "test" not in data.datasets:
            log.info("no test split (data.test, or data.test_fraction to carve one): scoring val only")
            runs.pop()
        for run in runs:
            metrics.update(run(model, datamodule=data, ckpt_path=best, verbose=False, weights_only=True)[0])
    finally:
        _finish_wandb(loggers)
    result = {
        "metrics": {k: round(float(v), 6) for k, v in sorted(metrics.items())},
        "monitor": cfg.monitor,
        "best_checkpoint": str(Path(best).relative_to(output_dir)) if best else None,
        "resumed_from": str(ckpt) if ckpt else None,
        "epochs": trainer.current_epoch,
        "seconds": round(time.time() - start, 1),
        "choices": {k: v for k, v in hydra.runtime.choices.items() if not k.startswith("hydra")},
        "overrides": list(hydra.overrides.task),
        "seed": cfg.seed,
    }
    if not trainer.is_global_zero:  # DDP: rank 0 writes the run's files
        return result
    write_json(output_dir / "metrics.json", result)
    log.info("test: %s", "  ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items()
                                   if k.startswith("test/") and "_" not in k))  # per-type scores: metrics.json
    log.info("wrote %s", output_dir / "metrics.json")
    return result


def _check_paths(cfg: DictConfig, output_dir: Path) -> None:
    """Everything a run writes stays inside its run dir: a path override pointing elsewhere (a typo, a
    ``..``) is rejected, naming the key; ``hydra.run.dir`` moves the whole run."""
    paths = {"trainer.default_root_dir": cfg.trainer.get("default_root_dir")}
    for group, key in (("callbacks", "dirpath"), ("logger", "save_dir")):
        for name, node in (cfg.get(group) or {}).items():
            if node is not None and node.get(key) is not None:
                paths[f"{group}.{name}.{key}"] = node[key]
    inside = output_dir.resolve()
    for key, path in paths.items():
        if path is not None and not Path(path).resolve().is_relative_to(inside):
            raise ConfigError(f"{key}={path} is outside the run dir {output_dir}: a run writes only inside its "
                              "own dir (set hydra.run.dir to put the run elsewhere)")


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
    if group and group.get("wandb") and ckpt and (ckpt.parent / "wandb_id").is_file():
        with open_dict(cfg):
            cfg.logger.wandb.id = (ckpt.parent / "wandb_id").read_text().strip()
    loggers = _instances(group)
    for lg in loggers:
        if isinstance(lg, WandbLogger) and rank_zero_only.rank == 0:
            (output_dir / "checkpoints").mkdir(exist_ok=True)
            (output_dir / "checkpoints" / "wandb_id").write_text(lg.experiment.id)
    return loggers


def _finish_wandb(loggers: list) -> None:
    """Close the W&B run, or the next job of a multirun would log into this one."""
    if any(isinstance(lg, WandbLogger) for lg in loggers):
        import wandb

        wandb.finish()


def plain_dict(node) -> dict | None:
    """Config -> plain dict, so hyperparameters in checkpoints need no OmegaConf to load."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def _instances(group: DictConfig | None) -> list:
    """Instantiate every entry of a callbacks/logger group; ``null`` entries are switched off."""
    return [instantiate(c) for c in (group or {}).values() if c is not None]


def write_json(path: Path, obj: dict) -> None:
    """Write then rename, so a reader never sees a half-written file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def quiet() -> None:
    """Silence what a new user should not have to read: Lightning's tips and environment banners."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.seed",
                 "pytorch_lightning.accelerators.cuda", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # 2 cores and small in-memory datasets: worker processes cost more than they save here.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Lightning 2.6 calls torch.utils._pytree.LeafSpec(), deprecated in recent torch: not the user's business.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # DDP: our epoch metrics are torchmetrics objects, synced by compute() before they are logged.
    warnings.filterwarnings("ignore", message=".*when logging on epoch level in distributed setting.*")


quiet()  # at import: sweepers (Optuna's sqlite storage) log before the first job starts


@hydra.main(version_base="1.3", config_path=CONF, config_name="train")
def main(cfg: DictConfig) -> float | None:
    result = exit_on_user_error(train, cfg, log=log, sweep=HydraConfig.get().mode == RunMode.MULTIRUN)
    return result["metrics"].get(cfg.monitor)  # what a sweeper (Optuna) optimises


if __name__ == "__main__":
    main()
