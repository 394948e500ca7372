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
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.loggers import WandbLogger

from seqexp.errors import exit_on_user_error
from seqexp.resume import checkpoint_to_resume

log = logging.getLogger(__name__)
CONF = str(Path(__file__).resolve().parents[2] / "conf")


def train(cfg: DictConfig) -> dict:
    """Fit (or continue an interrupted fit), score the best checkpoint on val and test, write metrics.json."""
    start = time.time()
    hydra = HydraConfig.get()
    output_dir = Path(hydra.runtime.output_dir)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    ckpt = checkpoint_to_resume(cfg.resume, cfg.output_root, list(hydra.overrides.task), output_dir)
    data = instantiate(cfg.data, seed=cfg.seed, chars=cfg.model.get("char", "none") != "none")
    data.prepare_data()
    data.setup("fit")
    # not recursive: the head builds its encoder and optimizer itself, from plain dicts it saves in checkpoints
    model = instantiate(cfg.task, encoder=_plain(cfg.model), optimizer=_plain(cfg.optimizer),
                        scheduler=_plain(cfg.scheduler), pretrained=data.vectors, **data.model_args(),
                        _recursive_=False, _convert_="all")
    loggers = _loggers(cfg, ckpt, output_dir)
    trainer = instantiate(cfg.trainer, callbacks=_instances(cfg.get("callbacks")), logger=loggers)
    for lg in loggers:
        lg.log_hyperparams(_plain(cfg))
    try:
        trainer.fit(model, datamodule=data, ckpt_path=ckpt, weights_only=True)
        best = trainer.checkpoint_callback.best_model_path or None
        metrics = {}
        for run in (trainer.validate, trainer.test):
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
    _write_json(output_dir / "metrics.json", result)
    log.info("test: %s", "  ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items()
                                   if k.startswith("test/") and "_" not in k))  # per-type scores: metrics.json
    log.info("wrote %s", output_dir / "metrics.json")
    return result


def _loggers(cfg: DictConfig, ckpt: Path | None, output_dir: Path) -> list:
    """The configured loggers; a resumed run keeps its W&B run id, saved beside the checkpoints."""
    group = cfg.get("logger")
    if group and group.get("wandb") and ckpt and (ckpt.parent / "wandb_id").is_file():
        with open_dict(cfg):
            cfg.logger.wandb.id = (ckpt.parent / "wandb_id").read_text().strip()
    loggers = _instances(group)
    for lg in loggers:
        if isinstance(lg, WandbLogger):
            (output_dir / "checkpoints").mkdir(exist_ok=True)
            (output_dir / "checkpoints" / "wandb_id").write_text(lg.experiment.id)
    return loggers


def _finish_wandb(loggers: list) -> None:
    """Close the W&B run, or the next job of a multirun would log into this one."""
    if any(isinstance(lg, WandbLogger) for lg in loggers):
        import wandb

        wandb.finish()


def _plain(node) -> dict | None:
    """Config -> plain dict, so hyperparameters in checkpoints need no OmegaConf to load."""
    return OmegaConf.to_container(node, resolve=True) if node is not None else None


def _instances(group: DictConfig | None) -> list:
    """Instantiate every entry of a callbacks/logger group; ``null`` entries are switched off."""
    return [instantiate(c) for c in (group or {}).values() if c is not None]


def _write_json(path: Path, obj: dict) -> None:
    """Write then rename, so a reader never sees a half-written file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def _quiet() -> None:
    """Silence what a new user should not have to read: Lightning's tips and environment banners."""
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.seed",
                 "pytorch_lightning.accelerators.cuda", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # 2 cores and small in-memory datasets: worker processes cost more than they save here.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Lightning 2.6 calls torch.utils._pytree.LeafSpec(), deprecated in recent torch: not the user's business.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


_quiet()  # at import: sweepers (Optuna's sqlite storage) log before the first job starts


@hydra.main(version_base="1.3", config_path=CONF, config_name="train")
def main(cfg: DictConfig) -> float | None:
    result = exit_on_user_error(train, cfg, log=log)
    return result["metrics"].get(cfg.monitor)  # what a sweeper (Optuna) optimises


if __name__ == "__main__":
    main()
