"""``python -m seqexp.evaluate ckpt=RUN/checkpoints/x.ckpt [split=test] [key=value ...]``: re-score a checkpoint.

The data config comes from the run's ``.hydra/config.yaml`` (``data.test=other.tsv`` points it elsewhere) and
the vocabularies from the checkpoint; ``task.*`` keys override the head's saved settings (``task.beam_size=1``).
Prints the metrics as JSON and writes them to ``RUN/evaluate-{split}.json``.

``ckpt=[A,B,...]`` or ``sweep=DIR`` (the best checkpoint of each run of a multirun, e.g. over seeds) score an
ensemble of classifiers or taggers instead (``SeqTask.join``), written to ``ensemble-{split}.json`` in the
runs' common parent directory.
"""

import json
import logging
import os
import sys
from pathlib import Path

import pytorch_lightning as pl
from hydra.experimental.callback import Callback
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

import seqexp  # noqa: F401  (registers ${corpus:...})
from seqexp.errors import ConfigError, exit_on_user_error
from seqexp.train import quiet, write_json

log = logging.getLogger("seqexp.evaluate")


SAME = ("vocab", "chars", "labels", "scheme", "crf")  # hparams ensemble members (classifiers, taggers) share


def load_run(args: list[str], options: tuple[str, ...]) -> tuple:
    """The ``options`` (``ckpt=``, ``split=``, ...) among the arguments, the run's config with the other
    ``key=value`` applied, the model restored from the checkpoint alone (``task.*`` override its settings; several
    checkpoints make it an ensemble), and the checkpoint paths."""
    given = dict(a.split("=", 1) for a in args if a.split("=", 1)[0] in options)
    overrides = OmegaConf.from_dotlist([a for a in args if a.split("=", 1)[0] not in options])
    ckpts = checkpoints(given)
    runs = [ckpt.parent.parent for ckpt in ckpts]
    for run in runs:
        if not (run / ".hydra" / "config.yaml").is_file():
            raise ConfigError(f"ckpt: {run / '.hydra' / 'config.yaml'} not found: the checkpoint must sit in its "
                              "run's checkpoints/ dir")
    configs = [OmegaConf.load(run / ".hydra" / "config.yaml") for run in runs]
    cfg = OmegaConf.merge(configs[0], overrides)
    task = OmegaConf.to_container(overrides.task) if "task" in overrides else {}
    head = get_class(cfg.task._target_)
    models = []
    for ckpt, run_cfg in zip(ckpts, configs, strict=True):
        if run_cfg.task._target_ != cfg.task._target_:
            raise ConfigError(f"ckpt: {ckpt} is a {run_cfg.task._target_}, {ckpts[0]} a {cfg.task._target_}: "
                              "an ensemble needs one head")
        models.append(head.load_from_checkpoint(ckpt, weights_only=True, map_location="cpu", **task))
        differ = [key for key in SAME if models[-1].hparams.get(key) != models[0].hparams.get(key)]
        if differ:
            raise ConfigError(f"ckpt: {ckpt} has another {differ[0]} than {ckpts[0]}: ensemble members must be "
                              "trained on the same data and head settings")
    if len(models) > 1:
        models[0].join(models[1:])
    return cfg, models[0], given, ckpts


def checkpoints(given: dict[str, str]) -> list[Path]:
    """``ckpt=PATH``, ``ckpt=[PATH,...]``, or ``sweep=DIR``: the best checkpoint of every run of a multirun."""
    if ("ckpt" in given) == ("sweep" in given):
        raise ConfigError("ckpt: which checkpoint? e.g. ckpt=outputs/2026-11-23/12-00-00/checkpoints/last.ckpt, "
                          "ckpt=[A.ckpt,B.ckpt] or sweep=outputs/multirun/2026-11-23/12-00-00 (not both)")
    if "sweep" in given:
        paths = sweep_checkpoints(Path(given["sweep"]))
    else:
        value = OmegaConf.from_dotlist([f"ckpt={given['ckpt']}"]).ckpt  # a path, or a [list] of paths
        paths = [Path(str(p)) for p in (value if isinstance(value, ListConfig) else [value])]
    for ckpt in paths:
        if not ckpt.is_file():
            raise ConfigError(f"ckpt: checkpoint not found: {ckpt}")
    return paths


def sweep_checkpoints(sweep: Path) -> list[Path]:
    """The best checkpoint of each run below ``sweep`` (from its metrics.json); every run must have finished."""
    runs = sorted((p.parent.parent for p in sweep.glob("*/.hydra/config.yaml")),
                  key=lambda run: (len(run.name), run.name))  # 0, 1, ..., 10 in job order
    if not runs:
        raise ConfigError(f"sweep: no runs (*/.hydra/config.yaml) under {sweep}")
    paths = []
    for run in runs:
        if not (run / "metrics.json").is_file():
            raise ConfigError(f"sweep: {run} has no metrics.json: finish it (python -m seqexp ... resume=auto) "
                              "or list the others with ckpt=[...]")
        best = json.loads((run / "metrics.json").read_text())["best_checkpoint"]
        if best is None:
            raise ConfigError(f"sweep: {run} saved no best checkpoint (checkpointing was off)")
        paths.append(run / best)
    return paths


def evaluate(args: list[str]) -> dict:
    cfg, model, options, ckpts = load_run(args, ("ckpt", "sweep", "split"))
    split = options.get("split", "test")
    if split not in ("val", "test"):
        raise ConfigError(f"split: expected val or test, got {split!r}")
    data = instantiate(cfg.data, seed=cfg.seed, chars=model.hparams.get("chars") is not None)
    data.use_vocabs({k: model.hparams[k] for k in ("vocab", "chars", "labels", "target_vocab", "feature_dim")
                     if k in model.hparams})
    data.prepare_data()
    data.setup("test")
    runs = [ckpt.parent.parent for ckpt in ckpts]
    out = runs[0] if len(runs) == 1 else Path(os.path.commonpath([r.resolve() for r in runs]))  # e.g. a sweep dir
    # default_root_dir: files a head writes after testing (confusion_matrix.csv) land in the run, not the cwd
    trainer = pl.Trainer(accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                         default_root_dir=out,
                         enable_progress_bar=False, enable_model_summary=False)
    scores = (trainer.validate if split == "val" else trainer.test)(model, datamodule=data, verbose=False)[0]
    result = {"checkpoint": str(ckpts[0]) if len(ckpts) == 1 else [str(c) for c in ckpts], "split": split,
              "metrics": {k: round(float(v), 6) for k, v in sorted(scores.items())}}
    write_json(out / f"{'evaluate' if len(ckpts) == 1 else 'ensemble'}-{split}.json", result)
    return result


class EnsembleSweep(Callback):
    """``ensemble=true`` (registered in conf/train.yaml): when a multirun ends (Hydra calls this only when every
    job succeeded), score the best checkpoints of all its runs as one ensemble on test, as ``python -m
    seqexp.evaluate sweep=DIR`` does, so ``-m experiment=X seed=1,2,3 ensemble=true`` trains and ensembles in
    one command."""

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        if config.get("ensemble"):
            log.warning("ensemble=true acts when a multirun (-m) ends: this single run made no ensemble")

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if not config.get("ensemble"):
            return
        sweep = Path(config.hydra.sweep.dir)
        result = exit_on_user_error(evaluate, [f"sweep={sweep}"], log=log)
        log.info("ensemble of %d runs, %s", len(result["checkpoint"]),
                 " ".join(f"{k}={v:.4f}" for k, v in result["metrics"].items() if "_" not in k))
        log.info("wrote %s", sweep / "ensemble-test.json")


def run_cli(command) -> None:
    """Run ``command(argv)`` as the entry points do: Hydra-style log lines, one-line errors with exit code 2."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    quiet()
    exit_on_user_error(command, sys.argv[1:], log=log)


def main(args: list[str]) -> None:
    print(json.dumps(evaluate(args), indent=2))


if __name__ == "__main__":
    run_cli(main)
