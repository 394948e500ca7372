"""Run directories: what a run writes (atomically, and only inside its dir) and how a finished run, or a sweep
of them, is found again from a checkpoint."""

import json
import os
from pathlib import Path

from omegaconf import DictConfig, ListConfig, OmegaConf

from seqexp.errors import ConfigError
from seqexp.run.checkpoints import load_model, upgrade
from seqexp.run.rundir import RunDir
from seqexp.run.schema import check_config
from seqexp.tasks.base import SeqTask

SHARED = ("vocab", "chars", "labels", "scheme", "crf")  # hparams ensemble members (classifiers, taggers) share


def write_json(path: Path, obj: dict) -> None:
    """Write then rename, so a reader never sees a half-written file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def check_paths(cfg: DictConfig, output_dir: Path) -> None:
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


def run_config(ckpt: Path) -> DictConfig:
    """The config of the run a checkpoint belongs to (``RUN/checkpoints/x.ckpt`` -> ``RUN/.hydra/config.yaml``)."""
    path = RunDir.of(ckpt).config
    if not path.is_file():
        raise ConfigError(f"ckpt: {path} not found: the checkpoint must sit in its run's checkpoints/ dir")
    return OmegaConf.create(upgrade(OmegaConf.to_container(OmegaConf.load(path))))


def checkpoint_paths(ckpt=None, sweep: str | None = None) -> list[Path]:
    """``ckpt=PATH``, ``ckpt=[PATH,...]``, or ``sweep=DIR``: the best checkpoint of every run of a multirun."""
    if (ckpt is None) == (sweep is None):
        raise ConfigError("ckpt: which checkpoint? e.g. ckpt=outputs/2026-11-23/12-00-00/checkpoints/last.ckpt, "
                          "ckpt=[A.ckpt,B.ckpt] or sweep=outputs/multirun/2026-11-23/12-00-00 (not both)")
    if sweep is not None:
        return sweep_checkpoints(Path(sweep))
    paths = [Path(str(p)) for p in (ckpt if isinstance(ckpt, list | ListConfig) else [ckpt])]
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"ckpt: checkpoint not found: {path}")
    return paths


def sweep_checkpoints(sweep: Path) -> list[Path]:
    """The best checkpoint of each run below ``sweep`` (from its metrics.json); every run must have finished."""
    runs = sorted((RunDir(p) for p in sweep.iterdir() if RunDir(p).config.is_file()),
                  key=lambda run: (len(run.path.name), run.path.name))  # 0, 1, ..., 10 in job order
    if not runs:
        raise ConfigError(f"sweep: no runs (*/.hydra/config.yaml) under {sweep}")
    paths = []
    for run in runs:
        if not run.finished():
            raise ConfigError(f"sweep: {run.path} has no {run.metrics.name}: finish it (python -m seqexp ... "
                              "resume=auto) or list the others with ckpt=[...]")
        best = run.result()["best_checkpoint"]
        if best is None:
            raise ConfigError(f"sweep: {run.path} saved no best checkpoint (checkpointing was off)")
        paths.append(run.path / best)
    return paths


def load_run(ckpts: list[Path], overrides: list[tuple[str, object]] = ()) -> tuple[DictConfig, SeqTask]:
    """The first run's config with ``overrides`` (``data.test=...``) applied, and the model restored from the
    checkpoints alone (``task.*`` overrides its settings; several checkpoints make it an ensemble)."""
    configs = [run_config(ckpt) for ckpt in ckpts]
    cfg = configs[0]
    for key, value in overrides:
        OmegaConf.update(cfg, key, value, force_add=True)
    check_config(cfg, groups=("data", "task"), top=False)
    task = OmegaConf.to_container(cfg.task).get("_target_")
    settings = OmegaConf.create()
    for key, value in overrides:
        if key.startswith("task."):
            OmegaConf.update(settings, key.removeprefix("task."), value, force_add=True)
    settings = OmegaConf.to_container(settings)
    models = []
    for ckpt, run_cfg in zip(ckpts, configs, strict=True):
        if run_cfg.task._target_ != task:
            raise ConfigError(f"ckpt: {ckpt} is a {run_cfg.task._target_}, {ckpts[0]} a {task}: "
                              "an ensemble needs one head")
        models.append(load_model(ckpt, settings, task=task))
        differ = [key for key in SHARED if models[-1].hparams.get(key) != models[0].hparams.get(key)]
        if differ:
            raise ConfigError(f"ckpt: {ckpt} has another {differ[0]} than {ckpts[0]}: ensemble members must be "
                              "trained on the same data and head settings")
    if len(models) > 1:
        models[0].join(models[1:])
    return cfg, models[0]
