"""``python -m seqexp.evaluate ckpt=RUN/checkpoints/x.ckpt [split=test] [key=value ...]``: re-score a checkpoint.

The data config comes from the run's ``.hydra/config.yaml`` (``data.test=other.tsv`` points it elsewhere) and
the vocabularies from the checkpoint; ``task.*`` keys override the head's saved settings (``task.beam_size=1``).
Prints the metrics as JSON and writes them to ``RUN/evaluate-{split}.json``.
"""

import json
import logging
import sys
from pathlib import Path

import pytorch_lightning as pl
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

import seqexp  # noqa: F401  (registers ${corpus:...})
from seqexp.errors import ConfigError, exit_on_user_error
from seqexp.train import quiet, write_json

log = logging.getLogger("seqexp.evaluate")


def load_run(args: list[str], options: tuple[str, ...]) -> tuple:
    """The ``options`` (``ckpt=``, ``split=``, ...) among the arguments, the run's config with the other
    ``key=value`` applied, and the model restored from the checkpoint alone (``task.*`` override its settings)."""
    given = dict(a.split("=", 1) for a in args if a.split("=", 1)[0] in options)
    overrides = OmegaConf.from_dotlist([a for a in args if a.split("=", 1)[0] not in options])
    if "ckpt" not in given:
        raise ConfigError("ckpt: which checkpoint? e.g. ckpt=outputs/2026-11-23/12-00-00/checkpoints/last.ckpt")
    ckpt = Path(given["ckpt"])
    if not ckpt.is_file():
        raise ConfigError(f"ckpt: checkpoint not found: {ckpt}")
    run_config = ckpt.parent.parent / ".hydra" / "config.yaml"
    if not run_config.is_file():
        raise ConfigError(f"ckpt: {run_config} not found: the checkpoint must sit in its run's checkpoints/ dir")
    cfg = OmegaConf.merge(OmegaConf.load(run_config), overrides)
    head = get_class(cfg.task._target_)
    model = head.load_from_checkpoint(ckpt, weights_only=True, map_location="cpu",
                                      **(OmegaConf.to_container(overrides.task) if "task" in overrides else {}))
    return cfg, model, given, ckpt


def evaluate(args: list[str]) -> dict:
    cfg, model, options, ckpt = load_run(args, ("ckpt", "split"))
    split = options.get("split", "test")
    if split not in ("val", "test"):
        raise ConfigError(f"split: expected val or test, got {split!r}")
    data = instantiate(cfg.data, seed=cfg.seed, chars=model.hparams.get("chars") is not None)
    data.use_vocabs({k: model.hparams[k] for k in ("vocab", "chars", "labels", "target_vocab", "feature_dim")
                     if k in model.hparams})
    data.prepare_data()
    data.setup("test")
    # default_root_dir: files a head writes after testing (confusion_matrix.csv) land in the run, not the cwd
    trainer = pl.Trainer(accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                         default_root_dir=ckpt.parent.parent,
                         enable_progress_bar=False, enable_model_summary=False)
    scores = (trainer.validate if split == "val" else trainer.test)(model, datamodule=data, verbose=False)[0]
    result = {"checkpoint": str(ckpt), "split": split, "metrics": {k: round(float(v), 6) for k, v in
                                                                   sorted(scores.items())}}
    write_json(ckpt.parent.parent / f"evaluate-{split}.json", result)
    return result


def run_cli(command) -> None:
    """Run ``command(argv)`` as the entry points do: Hydra-style log lines, one-line errors with exit code 2."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    quiet()
    exit_on_user_error(command, sys.argv[1:], log=log)


def main(args: list[str]) -> None:
    print(json.dumps(evaluate(args), indent=2))


if __name__ == "__main__":
    run_cli(main)
