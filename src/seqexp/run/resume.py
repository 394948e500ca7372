"""What a run continues from. ``resume=auto``: a run dir that already holds this command's finished run is not
trained again (its recorded result is returned), and an interrupted one continues from its ``last.ckpt``. The run
dir is the key, not the process, so a rerun of a sweep into the same ``hydra.sweep.dir`` skips its finished jobs
and resumes the rest under any launcher."""

import hashlib
import json
import logging
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from torch import nn

from seqexp.errors import ConfigError
from seqexp.run.checkpoints import check_fits, load_checkpoint
from seqexp.run.rundir import RunDir, runs_under

log = logging.getLogger(__name__)


def config_digest(cfg: DictConfig) -> str:
    """A fingerprint of the run's config (unresolved, so a moved run dir keeps it; ``resume`` and ``hydra`` aside),
    recorded in metrics.json: a finished run counts as this command's only if the configs it composed agree."""
    plain = {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k not in ("resume", "hydra")}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:16]


def finished_run(resume: str | None, run_dir: Path, overrides: list[str], digest: str) -> dict | None:
    """``resume=auto`` and ``run_dir`` holds this command's finished run (metrics.json with the same overrides and
    config): its recorded result, said in one line; the metrics.json is left untouched. Otherwise None."""
    if resume != "auto" or not RunDir(run_dir).finished():
        return None
    result = RunDir(run_dir).result()
    if _command(result.get("overrides", [])) != _command(overrides) or result.get("config_digest") != digest:
        log.info("%s holds a finished run of another command or config: training anew", run_dir)
        return None
    value = result["metrics"].get(result.get("monitor"))
    log.info("already finished: %s (%s=%s), not trained again (resume=never retrains)", run_dir,
             result.get("monitor"), f"{value:.4f}" if value is not None else "-")
    return result


def checkpoint_to_resume(resume: str | None, root: str | Path, overrides: list[str],
                         run_dir: str | Path) -> Path | None:
    """``never``/null: start fresh; a path: that checkpoint; ``auto``: the ``checkpoints/last.ckpt`` of an
    unfinished run (no metrics.json) with the same overrides (``hydra.*`` and ``resume`` aside): ``run_dir``'s
    own (a rerun into the same ``hydra.run.dir`` or sweep dir), else the newest found under ``root``."""
    if resume in (None, "never"):
        return None
    if resume != "auto":
        if not Path(resume).is_file():
            raise ConfigError(f"resume: checkpoint not found: {resume}")
        return Path(resume)
    wanted = _command(overrides)
    runs = {*runs_under(Path(root)), RunDir(Path(run_dir))}
    candidates = [
        run.last for run in runs
        if run.last.is_file() and not run.finished() and run.overrides.is_file()
        and _command(yaml.safe_load(run.overrides.read_text()) or []) == wanted
    ]
    if not candidates:
        return None
    own = RunDir(run_dir).last
    ckpt = readable(own if own in candidates else max(candidates, key=lambda p: p.stat().st_mtime))
    log.info("resuming the interrupted run %s from %s (resume=never to start afresh)", ckpt.parent.parent, ckpt.name)
    return ckpt


def readable(ckpt: Path) -> Path:
    """``ckpt``, or when it cannot be read (a disk that filled up, a copy cut short) the newest readable
    checkpoint beside it, saying so: a corrupt last.ckpt must not fail every rerun the same way."""
    try:
        load_checkpoint(ckpt, "resume")
        return ckpt
    except ConfigError as e:
        problem = str(e)
    for other in sorted(set(ckpt.parent.glob("*.ckpt")) - {ckpt}, key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            load_checkpoint(other, "resume")
        except ConfigError:
            continue
        log.warning("%s; resuming from %s instead, the newest readable checkpoint of that run", problem, other.name)
        return other
    raise ConfigError(f"{problem}; no other checkpoint of that run is readable: rerun with resume=never to start "
                      "afresh")


def _command(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if not o.startswith(("hydra.", "resume=", "+resume=")))


def check_resumable(ckpt: Path, model: nn.Module, task: str) -> None:
    """Reject, before training, a checkpoint from another task or one whose weights do not fit this model
    (another model or data config), naming ``resume``; Lightning would fail later with a size-mismatch wall."""
    saved = load_checkpoint(ckpt, "resume")
    if saved.get("seqexp_task", task) != task:
        raise ConfigError(f"resume: {ckpt} was trained by {saved['seqexp_task']}, but this run's task is {task}")
    check_fits(saved["state_dict"], model, f"resume: {ckpt}")
