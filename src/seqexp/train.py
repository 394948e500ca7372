"""``python -m seqexp``: compose the config, train, test the best checkpoint, write metrics.json."""

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqexp.errors import SeqexpError

log = logging.getLogger(__name__)
CONF = str(Path(__file__).resolve().parents[2] / "conf")


def train(cfg: DictConfig) -> dict:
    """Fit, then score the best checkpoint on val and test; returns what metrics.json holds."""
    start = time.time()
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    data = instantiate(cfg.data, seed=cfg.seed, chars=cfg.model.get("char", "none") != "none")
    data.setup("fit")
    # not recursive: the head builds its encoder and optimizer itself, from plain dicts it saves in checkpoints
    model = instantiate(cfg.task, encoder=_plain(cfg.model), optimizer=_plain(cfg.optimizer),
                        scheduler=_plain(cfg.scheduler), pretrained=data.vectors, **data.model_args(),
                        _recursive_=False, _convert_="all")
    trainer = instantiate(cfg.trainer, callbacks=_instances(cfg.get("callbacks")),
                          logger=_instances(cfg.get("logger")))
    trainer.fit(model, datamodule=data)
    best = trainer.checkpoint_callback.best_model_path or None
    metrics = {}
    for stage in ("val", "test"):
        scores = getattr(trainer, "validate" if stage == "val" else "test")(
            model, datamodule=data, ckpt_path=best, verbose=False)[0]
        metrics.update(scores)
    result = {
        "metrics": {k: round(float(v), 6) for k, v in sorted(metrics.items())},
        "monitor": cfg.monitor,
        "best_checkpoint": str(Path(best).relative_to(output_dir)) if best else None,
        "epochs": trainer.current_epoch,
        "seconds": round(time.time() - start, 1),
        "choices": {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra")},
        "overrides": list(HydraConfig.get().overrides.task),
        "seed": cfg.seed,
    }
    _write_json(output_dir / "metrics.json", result)
    log.info("test: %s", "  ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items()
                                   if k.startswith("test/") and "_" not in k))  # per-type scores: metrics.json
    log.info("wrote %s", output_dir / "metrics.json")
    return result


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
                 "pytorch_lightning.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # 2 cores and small in-memory datasets: worker processes cost more than they save here.
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Lightning 2.6 calls torch.utils._pytree.LeafSpec(), deprecated in recent torch: not the user's business.
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


@hydra.main(version_base="1.3", config_path=CONF, config_name="train")
def main(cfg: DictConfig) -> float | None:
    _quiet()
    try:
        result = train(cfg)
    except Exception as e:
        user_error = _user_error(e)
        if user_error is None:
            raise
        log.error("%s", user_error)
        sys.exit(2)
    return result["metrics"].get(cfg.monitor)


def _user_error(e: BaseException | None) -> SeqexpError | None:
    """The SeqexpError behind ``e``, if any: Hydra's instantiate wraps what constructors raise."""
    while e is not None and not isinstance(e, SeqexpError):
        e = e.__cause__
    return e


if __name__ == "__main__":
    main()
