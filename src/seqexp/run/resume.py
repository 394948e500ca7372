"""Which checkpoint a run continues from: ``resume=auto`` finds the same command's interrupted run."""

import logging
from pathlib import Path

import yaml
from torch import nn

from seqexp.errors import ConfigError
from seqexp.run.checkpoints import check_fits, load_checkpoint

log = logging.getLogger(__name__)


def checkpoint_to_resume(resume: str | None, root: str | Path, overrides: list[str],
                         run_dir: str | Path) -> Path | None:
    """``never``/null: start fresh; a path: that checkpoint; ``auto``: the newest ``checkpoints/last.ckpt`` of
    a run with the same overrides (``hydra.*`` and ``resume`` aside) and no metrics.json, found under ``root``
    or in ``run_dir`` itself (a rerun with the same ``hydra.run.dir``)."""
    if resume in (None, "never"):
        return None
    if resume != "auto":
        if not Path(resume).is_file():
            raise ConfigError(f"resume: checkpoint not found: {resume}")
        return Path(resume)
    wanted = _command(overrides)
    candidates = [
        run / "checkpoints" / "last.ckpt"
        for run in {p.parent.parent for p in [*Path(root).glob("**/.hydra/overrides.yaml"),
                                             Path(run_dir) / ".hydra" / "overrides.yaml"]}
        if (run / "checkpoints" / "last.ckpt").is_file() and not (run / "metrics.json").exists()
        and _command(yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()) or []) == wanted
    ]
    if not candidates:
        return None
    ckpt = readable(max(candidates, key=lambda p: p.stat().st_mtime))
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
